"""Make one extract: read the published marts, write the workbook, the CSV files and the manifest, audit it.

Files land in ``$VTE_HOME/exports/<period>/<region>/<kind>/``; each is written to a temporary name and
renamed, the manifest last, so a reader never sees a manifest naming files that are not there yet.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
from psycopg.types.json import Jsonb

from vte import warehouse
from vte.config import Settings, get_settings
from vte.extracts import csv_files, manifest as manifests, query, tables as extract_tables
from vte.extracts.periods import Period
from vte.extracts.schedule import due_extracts, resolve_kind
from vte.extracts.workbook import write_workbook

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
AUDIT_ACTION = "extract.create"


@dataclass(frozen=True)
class Extract:
    directory: Path
    files: list[Path]  # the workbook, then the CSV files
    manifest_path: Path
    manifest: dict

    @property
    def paths(self) -> list[Path]:
        return [*self.files, self.manifest_path]


def export_directory(settings: Settings, period: Period, region_code: str, kind: str) -> Path:
    return settings.exports_dir / period.label / region_code / kind


def _replace(path: Path, write) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    write(temporary)
    os.replace(temporary, path)


def _audit(conn: psycopg.Connection, actor: str, directory: Path, manifest: dict) -> None:
    details = {key: manifest[key] for key in ("period", "region", "kind", "publication", "content_sha256")}
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
    with warehouse.connect(settings, autocommit=True) as conn:
        snapshot = query.read_snapshot(conn, period, region_code)
        directory = export_directory(settings, period, snapshot.region.code, kind)
        directory.mkdir(parents=True, exist_ok=True)
        tables = extract_tables.extract_tables(snapshot)
        workbook = directory / f"vte-{period.label}-{snapshot.region.code}-{kind}.xlsx"
        _replace(workbook, lambda p: write_workbook(p, snapshot, tables, kind))
        files = [workbook]
        for table in tables:
            path = directory / f"{table.key}.csv"
            _replace(path, lambda p, t=table: csv_files.write_csv(p, t))
            files.append(path)
        run = {"generated_at": datetime.now(timezone.utc).isoformat(), "actor": actor,
               "duration_seconds": round(time.monotonic() - started, 3)}
        manifest = manifests.build_manifest(snapshot, kind, files, run)
        manifest_path = directory / manifests.MANIFEST_NAME
        _replace(manifest_path, lambda p: p.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n",
                                                       encoding="utf-8"))
        _audit(conn, actor, directory, manifest)
    return Extract(directory, files, manifest_path, manifest)


def create_due_extracts(day: date, *, actor: str, settings: Settings | None = None) -> list[Extract]:
    """The extracts due on ``day``: each for the province and for every city with published values."""
    extracts = []
    for item in due_extracts(day):
        with warehouse.connect(settings, autocommit=True) as conn:
            regions = [query.default_region(conn).code, *query.reporting_cities(conn, item.period)]
        extracts += [create_extract(item.period, region, item.kind, actor=actor, today=day, settings=settings)
                     for region in regions]
    return extracts
