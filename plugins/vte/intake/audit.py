"""The intake's append-only request log, and its loader into ``ops.intake_requests``.

Every request is one JSON line in ``<audit_dir>/intake-<yyyy-mm-dd>.jsonl`` (UTC day), written with a
single ``write`` on an ``O_APPEND`` descriptor, so lines from several workers never interleave. The
log never holds the secret or the sign. The loader reads each file from where it stopped last
time (``ops.intake_audit_files``) and inserts by ``request_id``, so running it twice changes nothing.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timezone
from pathlib import Path

import psycopg

from vte.config import Settings, get_settings

log = logging.getLogger(__name__)

FILE_PREFIX = "intake-"
COLUMNS = ("request_id", "requested_at", "access_key", "institution_code", "client_address", "method",
           "endpoint", "dry_run", "outcome", "code", "http_status", "report_date", "submission_id", "version",
           "row_count", "problem_count", "warning_count", "latency_ms")


def safe_text(value: object, limit: int = 100) -> str | None:
    """A client-supplied string made storable: printable characters only (no NUL, no lone surrogates)."""
    if not isinstance(value, str):
        return None
    text = "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in value)
    return text[:limit]


class AuditLog:
    def __init__(self, directory: Path):
        self.directory = directory

    def path_for(self, when: datetime) -> Path:
        return self.directory / f"{FILE_PREFIX}{when.astimezone(timezone.utc).date().isoformat()}.jsonl"

    def write(self, record: dict) -> None:
        when = datetime.fromisoformat(record["requested_at"])
        line = (json.dumps(record, separators=(",", ":"), sort_keys=True) + "\n").encode()
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path_for(when), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def writable(self) -> bool:
        self.directory.mkdir(parents=True, exist_ok=True)
        return os.access(self.directory, os.W_OK)


def _rows(chunk: bytes, file_name: str) -> list[tuple]:
    rows = []
    for line in chunk.splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            rows.append(tuple(record.get(c) for c in COLUMNS) + (file_name,))
        except (ValueError, AttributeError):
            log.warning("%s: skipped an unreadable audit line (%d bytes)", file_name, len(line))
    return rows


def load_into_warehouse(conn: psycopg.Connection, settings: Settings | None = None) -> int:
    """Load the audit lines written since the last load into ``ops.intake_requests``; returns rows added."""
    directory = (settings or get_settings()).audit_dir
    added = 0
    for path in sorted(directory.glob(f"{FILE_PREFIX}*.jsonl")):
        with conn.transaction():
            row = conn.execute("select loaded_bytes from ops.intake_audit_files where file_name = %s for update",
                               (path.name,)).fetchone()
            offset = row[0] if row else 0
            with open(path, "rb") as f:
                if os.fstat(f.fileno()).st_size < offset:  # the file was replaced: read it again
                    offset = 0
                f.seek(offset)
                chunk = f.read()
            complete = chunk[: chunk.rfind(b"\n") + 1]  # a line still being written waits for next time
            if not complete:
                continue
            with conn.cursor() as cur:
                for values in _rows(complete, path.name):
                    cur.execute(
                        f"insert into ops.intake_requests ({', '.join(COLUMNS)}, audit_file)"
                        f" values ({', '.join(['%s'] * (len(COLUMNS) + 1))}) on conflict (request_id) do nothing",
                        values,
                    )
                    added += cur.rowcount
            conn.execute(
                "insert into ops.intake_audit_files (file_name, loaded_bytes) values (%s, %s)"
                " on conflict (file_name) do update set loaded_bytes = excluded.loaded_bytes, loaded_at = now()",
                (path.name, offset + len(complete)),
            )
    return added
