"""Make one extract revision: read the published marts, write the workbook, the CSV files, the inputs and the
manifest into a new revision directory, audit it.

Revisions land in ``$VTE_HOME/exports/<period>/<region>/<kind>/r<NNN>/`` and are never overwritten
(``vte.extracts.revisions``). A run against the publication of the latest revision that would write the same
content returns that revision instead of adding one, so a retried task leaves one revision; a new publication,
or new content from the same one, makes the next revision. A revision that follows one made from another
publication restates what changed since (``vte.extracts.restatement``).
"""

from __future__ import annotations

import shutil
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
from psycopg.types.json import Jsonb

from vte import warehouse
from vte.access import roles
from vte.config import Settings, get_settings
from vte.extracts import inputs as stored_inputs, query, revisions
from vte.extracts.inputs import INPUTS_NAME, ExtractInputs, Restatement, RevisionRef
from vte.extracts.manifest import MANIFEST_NAME, read_manifest
from vte.extracts.periods import Period
from vte.extracts.query import Snapshot
from vte.extracts.render import write_files
from vte.extracts.restatement import sorted_changes, within_region
from vte.extracts.schedule import due_extracts, resolve_kind
from vte.review import locks
from vte.publication import history

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
AUDIT_ACTION = "extract.create"


@dataclass(frozen=True)
class Extract:
    directory: Path  # the revision directory
    files: list[Path]  # the workbook, then the CSV files
    inputs_path: Path
    manifest_path: Path
    manifest: dict
    created: bool  # False: the run found this revision already written from the same publication and content

    @property
    def revision(self) -> int:
        return self.manifest["revision"]

    @property
    def paths(self) -> list[Path]:
        return [*self.files, self.inputs_path, self.manifest_path]


def export_directory(settings: Settings, period: Period, region_code: str, kind: str) -> Path:
    """Where the revisions of an extract live (each in its own ``r<NNN>`` directory)."""
    return settings.exports_dir / period.label / region_code / kind


def _stored(directory: Path, created: bool) -> Extract:
    manifest = read_manifest(directory / MANIFEST_NAME)
    return Extract(directory, [directory / f["name"] for f in manifest["files"]], directory / INPUTS_NAME,
                   directory / MANIFEST_NAME, manifest, created)


def _restatement(conn: psycopg.Connection, snapshot: Snapshot,
                 earlier: list[revisions.StoredRevision]) -> Restatement | None:
    """What changed since the newest earlier revision made from another publication, if there is one."""
    publication = snapshot.publication.publication_id
    against = next((r for r in reversed(earlier) if r.publication_id != publication), None)
    if against is None:
        return None
    period = snapshot.period
    changes = history.changes(conn, period_type=period.period_type, start=period.start, end=period.end,
                              region=snapshot.region.code, from_publication=against.publication_id,
                              to_publication=publication)
    return Restatement(RevisionRef(against.number, against.publication_id), publication,
                       tuple(sorted_changes(within_region(changes, snapshot.region.level))))


def _previous(earlier: list[revisions.StoredRevision]) -> RevisionRef | None:
    return RevisionRef(earlier[-1].number, earlier[-1].publication_id) if earlier else None


def _write(kind_directory: Path, inputs: ExtractInputs, run: dict) -> tuple[Path, dict]:
    """Assemble the revision in a staging directory; returns it and the manifest."""
    staging = revisions.staging_directory(kind_directory, inputs.revision)
    stored_inputs.write(staging / INPUTS_NAME, inputs)
    _, _, manifest = write_files(inputs, staging, staging / INPUTS_NAME, run)
    return staging, manifest


def _audit(conn: psycopg.Connection, actor: str, directory: Path, manifest: dict, created: bool) -> None:
    details = {key: manifest[key] for key in ("period", "region", "kind", "publication", "revision",
                                              "content_sha256")}
    details["new_revision"] = created
    conn.execute("insert into ops.admin_audit (actor, action, subject, details) values (%s, %s, %s, %s)",
                 (actor, AUDIT_ACTION, str(directory), Jsonb(details)))


def create_extract(period: Period, region_code: str | None = None, kind: str | None = None, *,
                   actor: str, today: date | None = None, settings: Settings | None = None) -> Extract:
    """Extract ``period`` for a region (default: the province) from the current publication.

    ``kind`` None means final once it is due (the 10th after the period), else preliminary; ``today`` is the
    day the extract is made in Asia/Shanghai (the scheduler passes its run's date).
    """
    started = time.monotonic()
    settings = settings or get_settings()
    kind = resolve_kind(period, kind, today or datetime.now(LOCAL_TZ).date())
    with warehouse.connect(settings, role=roles.EXTRACTS, autocommit=True) as conn, ExitStack() as held:
        # One transaction: the restatement compares the very publication the snapshot read.
        with conn.transaction():
            snapshot = query.read_snapshot(conn, period, region_code)
            kind_directory = export_directory(settings, period, snapshot.region.code, kind)
            held.enter_context(revisions.locked(kind_directory))
            existing = revisions.list_revisions(kind_directory)
            latest = existing[-1] if existing else None
            restatement = _restatement(conn, snapshot, existing)

        def run() -> dict:
            return {"generated_at": datetime.now(timezone.utc).isoformat(), "actor": actor,
                    "duration_seconds": round(time.monotonic() - started, 3)}

        if latest and latest.publication_id == snapshot.publication.publication_id:
            # Written again as the latest revision was: the same content means it is that revision.
            again = ExtractInputs(snapshot, kind, latest.number, _previous(existing[:-1]), restatement)
            staging, manifest = _write(kind_directory, again, run())
            shutil.rmtree(staging)
            if manifest["content_sha256"] == latest.manifest["content_sha256"]:
                revisions.write_latest(kind_directory, latest)
                _audit(conn, actor, latest.directory, latest.manifest, created=False)
                return _stored(latest.directory, created=False)
        number = latest.number + 1 if latest else 1
        inputs = ExtractInputs(snapshot, kind, number, _previous(existing), restatement)
        staging, manifest = _write(kind_directory, inputs, run())
        directory = revisions.commit(staging, kind_directory, number, manifest)
        _audit(conn, actor, directory, manifest, created=True)
        if kind == "final" and period.period_type == "month" and snapshot.region.level == "province":
            # The month's final figures are out: no report may change them any more (vte.review.locks).
            locks.lock_month(conn, period.start, "final_extract", actor)
    return _stored(directory, created=True)


def create_due_extracts(day: date, *, actor: str, settings: Settings | None = None) -> list[Extract]:
    """The extracts due on ``day``: each for the province and for every city with published values."""
    extracts = []
    for item in due_extracts(day):
        with warehouse.connect(settings, role=roles.EXTRACTS, autocommit=True) as conn:
            regions = [query.default_region(conn).code, *query.reporting_cities(conn, item.period)]
        extracts += [create_extract(item.period, region, item.kind, actor=actor, today=day, settings=settings)
                     for region in regions]
    return extracts
