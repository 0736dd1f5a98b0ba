"""The manifest of an extract revision: what it was computed from, where it stands among the revisions of
its period, region and kind, and a checksum of every file.

Its ``run`` section (when, by whom, how long) changes on every run; everything else is the extract's
content, and ``content_sha256`` covers exactly that, so two runs against the same publication compare
equal by it while each keeps its own run record, and a reproduction compares equal to the original.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from vte.extracts.inputs import INPUTS_NAME, ExtractInputs

MANIFEST_NAME = "manifest.json"
# Raised when the extract's tables or layout change, so readers can tell the layouts apart.
# 2: revision directories, stored inputs, the restatement table.
EXTRACT_FORMAT = 2
RUN_KEY = "run"
SUBMISSIONS_BASIS = (
    "Current versions (newest per institution and date) of the submissions for the period's dates in the "
    "region, from the publication's marts.fct_submission_counts (rows counted in the indicators, as in "
    "marts.fct_department_days, and rows held out, as in marts.fct_quarantined_rows); superseded versions are "
    "not included."
)


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).isoformat() if value else None


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def generator_version() -> dict:
    try:
        package = version("vte-warehouse")
    except PackageNotFoundError:
        package = "unknown"
    return {"name": "vte-warehouse", "version": package, "extract_format": EXTRACT_FORMAT}


def content_checksum(manifest: dict) -> str:
    """sha256 of the manifest without its run record (and without this checksum)."""
    content = {k: v for k, v in manifest.items() if k not in (RUN_KEY, "content_sha256")}
    canonical = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _file(path: Path, name: str | None = None) -> dict:
    return {"name": name or path.name, "bytes": path.stat().st_size, "sha256": file_sha256(path)}


def build_manifest(inputs: ExtractInputs, files: list[Path], inputs_path: Path, run: dict) -> dict:
    """The manifest of the files written from ``inputs`` (stored at ``inputs_path``)."""
    snapshot, kind = inputs.snapshot, inputs.kind
    period, region, publication, submissions = snapshot.period, snapshot.region, snapshot.publication, \
        snapshot.submissions
    manifest = {
        "period": {"label": period.label, "type": period.period_type, "start": period.start.isoformat(),
                   "end": period.end.isoformat()},
        "region": {"code": region.code, "name": region.name, "level": region.level},
        "kind": kind,
        "publication": {"publication_id": publication.publication_id, "run_id": publication.run_id,
                        "published_at": _iso(publication.published_at)},
        "submissions": {
            "current_submissions": submissions["current_submissions"],
            "counted_submissions": submissions["counted_submissions"],
            "institution_days": submissions["institution_days"],
            "counted_department_rows": submissions["counted_department_rows"],
            "quarantined_department_rows": submissions["quarantined_department_rows"],
            "newest_received_at": _iso(submissions["newest_received_at"]),
            "basis": SUBMISSIONS_BASIS,
        },
        "revision": inputs.revision,
    }
    if inputs.previous:
        manifest["previous"] = {"revision": inputs.previous.revision,
                                "publication_id": inputs.previous.publication_id}
    if inputs.restatement:
        against = inputs.restatement.against
        manifest["restatement"] = {"against_revision": against.revision,
                                   "from_publication": against.publication_id,
                                   "to_publication": inputs.restatement.to_publication,
                                   "changed_values": len(inputs.restatement.changes)}
    manifest.update({
        "generator": generator_version(),
        "inputs": _file(inputs_path, INPUTS_NAME),
        "files": [_file(f) for f in files],
    })
    manifest["content_sha256"] = content_checksum(manifest)
    manifest[RUN_KEY] = run
    return manifest


def read_manifest(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))
