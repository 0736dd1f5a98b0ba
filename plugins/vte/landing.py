"""The landing zone: the durable hand-over from the intake channels to the Airflow ingest.

Every accepted submission becomes one immutable JSON document,
``<root>/<institution_code>/<report_date>/v<version>-<submission_id>.json``, written to a temporary
file, flushed to disk and renamed into place before the intake answers. Versions are numbered per
institution and report date (the master index of §6.1 b) under a file lock, so concurrent workers
never hand out the same number. The intake does not need the warehouse to accept data.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from vte.config import Settings, get_settings

DOCUMENT_PATTERN = re.compile(r"^v(?P<version>\d{4,})-(?P<submission_id>[0-9a-f-]{36})\.json$")
CHANNELS = ("api", "excel")


@dataclass(frozen=True)
class Landed:
    submission_id: str
    version: int
    path: Path
    received_at: str
    payload_sha256: str
    duplicate: bool  # True when this was a retry of the newest version: nothing new was stored


def canonical_json(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def payload_checksum(payload: dict) -> str:
    return hashlib.sha256(canonical_json(payload)).hexdigest()


def fsync_path(path: Path) -> None:
    """Flush a file or a directory (its entries: a rename in it) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(path: Path, content: bytes) -> None:
    """Write a file so that it is either absent or complete on disk, even across a crash."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_path(path.parent)


class LandingZone:
    def __init__(self, root: Path | None = None, settings: Settings | None = None):
        self.root = root or (settings or get_settings()).landing_dir

    def date_dir(self, institution_code: str, report_date: str) -> Path:
        return self.root / institution_code / report_date

    @contextmanager
    def _locked(self, directory: Path):
        directory.mkdir(parents=True, exist_ok=True)
        with open(directory / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def versions(self, institution_code: str, report_date: str) -> list[Path]:
        """The documents of one institution and date, oldest version first."""
        directory = self.date_dir(institution_code, report_date)
        if not directory.is_dir():
            return []
        found = [p for p in directory.iterdir() if DOCUMENT_PATTERN.match(p.name)]
        return sorted(found, key=lambda p: int(DOCUMENT_PATTERN.match(p.name)["version"]))

    def land(
        self,
        *,
        institution_code: str,
        access_key: str,
        channel: str,
        payload: dict,
        source_file: dict | None = None,
        received_at: datetime | None = None,
    ) -> Landed:
        """Store one accepted submission (``payload`` = {"date": ..., "data": [...]}) as its next version."""
        if channel not in CHANNELS:
            raise ValueError(f"unknown channel {channel!r}")
        report_date = payload["date"]
        checksum = payload_checksum(payload)
        directory = self.date_dir(institution_code, report_date)
        with self._locked(directory):
            existing = self.versions(institution_code, report_date)
            if existing:
                newest = read_document(existing[-1])
                if newest["payload_sha256"] == checksum and newest["access_key"] == access_key:
                    return Landed(newest["submission_id"], newest["version"], existing[-1],
                                  newest["received_at"], checksum, duplicate=True)
            version = len(existing) + 1
            submission_id = str(uuid.uuid4())
            received = (received_at or datetime.now(timezone.utc)).isoformat()
            document = {
                "submission_id": submission_id,
                "institution_code": institution_code,
                "access_key": access_key,
                "report_date": report_date,
                "version": version,
                "channel": channel,
                "received_at": received,
                "payload_sha256": checksum,
                "source_file": source_file,
                "payload": payload,
            }
            path = directory / f"v{version:04d}-{submission_id}.json"
            write_durably(path, canonical_json(document))
        return Landed(submission_id, version, path, received, checksum, duplicate=False)

    def iter_documents(self) -> Iterator[Path]:
        """Every landed document, in a stable order (institution, date, version)."""
        if not self.root.is_dir():
            return
        for institution_dir in sorted(p for p in self.root.iterdir() if p.is_dir()):
            for date_dir in sorted(p for p in institution_dir.iterdir() if p.is_dir()):
                yield from self.versions(institution_dir.name, date_dir.name)


def read_document(path: Path) -> dict:
    return json.loads(path.read_bytes())
