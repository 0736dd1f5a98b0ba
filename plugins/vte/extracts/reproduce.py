"""Reproduce the extract revision made from a publication: write its files again from the inputs it stored and
check every checksum against its manifest.

Nothing is read from the warehouse but the province when no region is named, so a reproduction holds
however many publications and corrections came since.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from vte.config import Settings, get_settings
from vte.extracts import inputs as stored_inputs, revisions
from vte.extracts.inputs import INPUTS_NAME
from vte.extracts.manifest import file_sha256
from vte.extracts.periods import Period
from vte.extracts.render import write_files
from vte.extracts.schedule import KINDS

SEARCH_ORDER = ("final", "preliminary")


class ReproductionError(LookupError):
    pass


@dataclass(frozen=True)
class Reproduction:
    source: revisions.StoredRevision
    directory: Path
    files: list[Path]  # the workbook, then the CSV files
    manifest_path: Path
    manifest: dict
    mismatches: list[str]  # what differs from the source revision's manifest; empty when all is identical

    @property
    def paths(self) -> list[Path]:
        return [*self.files, self.manifest_path]


def reproduction_directory(settings: Settings, period: Period, region_code: str, kind: str,
                           publication_id: int) -> Path:
    return settings.exports_dir / "reproduced" / period.label / region_code / kind / f"p{publication_id}"


def find_revision(settings: Settings, period: Period, region_code: str, kind: str | None,
                  publication_id: int) -> revisions.StoredRevision:
    """The newest revision made from the publication: of ``kind``, or final before preliminary when None."""
    kinds = (kind,) if kind else SEARCH_ORDER
    listed = {k: revisions.list_revisions(settings.exports_dir / period.label / region_code / k) for k in kinds}
    for k in kinds:
        made = [r for r in listed[k] if r.publication_id == publication_id]
        if made:
            return made[-1]
    which = f"{kind} " if kind else ""
    existing = "; ".join(f"{k}: {revisions.describe(listed[k])}" for k in kinds)
    raise ReproductionError(f"no {which}extract revision of {period.label} for {region_code} was made from "
                            f"publication {publication_id}; revisions made: {existing}")


def reproduce(period: Period, region_code: str, kind: str | None, publication_id: int, *, actor: str,
              out: Path | None = None, settings: Settings | None = None) -> Reproduction:
    """Write the files of the revision made from ``publication_id`` again into ``out`` and compare them."""
    started = time.monotonic()
    settings = settings or get_settings()
    if kind is not None and kind not in KINDS:
        raise ReproductionError(f"extract kind {kind!r} is neither preliminary nor final")
    source = find_revision(settings, period, region_code, kind, publication_id)
    inputs_path = source.directory / INPUTS_NAME
    recorded = source.manifest.get("inputs")
    if recorded is None or not inputs_path.is_file():
        raise ReproductionError(f"{source.directory} holds no stored inputs ({INPUTS_NAME}) to reproduce it from")
    if file_sha256(inputs_path) != recorded["sha256"]:
        raise ReproductionError(f"{inputs_path} does not match the sha256 its manifest records")
    inputs = stored_inputs.read(inputs_path)
    directory = out or reproduction_directory(settings, period, region_code, source.manifest["kind"],
                                              publication_id)
    directory.mkdir(parents=True, exist_ok=True)
    run = {"generated_at": datetime.now(timezone.utc).isoformat(), "actor": actor,
           "duration_seconds": round(time.monotonic() - started, 3), "reproduces": str(source.directory)}
    files, manifest_path, manifest = write_files(inputs, directory, inputs_path, run)
    written = {f["name"]: f["sha256"] for f in manifest["files"]}
    original = {f["name"]: f["sha256"] for f in source.manifest["files"]}
    mismatches = sorted(name for name in original.keys() | written.keys() if original.get(name) != written.get(name))
    if manifest["content_sha256"] != source.manifest["content_sha256"]:
        mismatches.append("content_sha256")
    return Reproduction(source, directory, files, manifest_path, manifest, mismatches)
