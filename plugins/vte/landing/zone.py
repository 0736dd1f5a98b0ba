"""The landing zone: the durable hand-over from the intake channels to the Airflow ingest.

Every accepted submission becomes one immutable document (vte.landing.documents),
``<root>/<institution_code>/<report_date>/v<version>-<submission_id>.json``. It is written to a temporary
file, flushed, renamed into place and the rename flushed before the intake answers; concurrent submissions
share those flushes (vte.landing.durability.GroupSync). Versions are numbered per institution and report date
(the master index of §6.1 b) under a lock on the date's directory, so concurrent workers never hand out the
same number. Each stored document is also listed in the arrivals journal (vte.landing.arrivals), which the
ingest reads instead of walking the zone. The intake does not need the warehouse to accept data.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from vte.config import Settings, get_settings
from vte.landing import arrivals
from vte.landing.documents import canonical_json, encode_document, read_header
from vte.landing.durability import GroupSync, write_file

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


class LandingZone:
    def __init__(self, root: Path | None = None, settings: Settings | None = None):
        self.root = root or (settings or get_settings()).landing_dir
        self.sync = GroupSync(self.root)

    def date_dir(self, institution_code: str, report_date: str) -> Path:
        return self.root / institution_code / report_date

    @contextmanager
    def _locked(self, directory: Path):
        """The date's directory held exclusively: the lock is taken on the directory itself, which costs no
        file of its own (creating one is most of a landing's system time on ext4)."""
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def versions(self, institution_code: str, report_date: str) -> list[Path]:
        """The documents of one institution and date, oldest version first."""
        directory = self.date_dir(institution_code, report_date)
        try:
            names = os.listdir(directory)
        except FileNotFoundError:
            return []
        found = [(int(m["version"]), name) for name in names if (m := DOCUMENT_PATTERN.match(name))]
        return [directory / name for _, name in sorted(found)]

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
        payload_bytes = canonical_json(payload)
        checksum = hashlib.sha256(payload_bytes).hexdigest()
        directory = self.date_dir(institution_code, report_date)
        with self._locked(directory):
            existing = self.versions(institution_code, report_date)
            newest = _readable_header(existing[-1]) if existing else None
            if newest and newest.get("payload_sha256") == checksum and newest.get("access_key") == access_key:
                landed = Landed(newest["submission_id"], newest["version"], existing[-1], newest["received_at"],
                                checksum, duplicate=True)
            else:
                header = {
                    "submission_id": str(uuid.uuid4()),
                    "institution_code": institution_code,
                    "access_key": access_key,
                    "report_date": report_date,
                    "version": len(existing) + 1,
                    "channel": channel,
                    "received_at": (received_at or datetime.now(timezone.utc)).isoformat(),
                    "payload_sha256": checksum,
                    "source_file": source_file,
                }
                landed = self._store(directory, header, payload_bytes)
        # Journalled and on disk before the caller answers: the rename (or, for a retry, the version another
        # writer may have just renamed) and its line in the arrivals journal, which a retry writes again in
        # case the first attempt stopped between the two.
        journal = arrivals.record(self.root, f"{institution_code}/{report_date}/{landed.path.name}")
        self.sync.flush([directory, directory.parent, self.root, journal, journal.parent])
        return landed

    def _store(self, directory: Path, header: dict, payload_bytes: bytes) -> Landed:
        """Write a new version: its content flushed before its name appears (called under the date's lock)."""
        path = directory / f"v{header['version']:04d}-{header['submission_id']}.json"
        tmp = write_file(path, encode_document(header, payload_bytes))
        try:
            self.sync.flush([tmp])
            os.rename(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return Landed(header["submission_id"], header["version"], path, header["received_at"],
                      header["payload_sha256"], duplicate=False)

    def iter_documents(self) -> Iterator[Path]:
        """Every landed document, in a stable order (institution, date, version)."""
        for relative in self.iter_relative():
            yield self.root / relative

    def iter_relative(self) -> Iterator[str]:
        """Every landed document as its path relative to the root (``code/date/v0001-id.json``), in the order
        of ``iter_documents``; plain strings, which a walk over a year of documents needs."""
        for institution in _subdirectories(self.root):
            if institution.startswith("."):  # the arrivals journal
                continue
            for day in _subdirectories(os.path.join(self.root, institution)):
                names = os.listdir(os.path.join(self.root, institution, day))
                found = sorted((int(m["version"]), name) for name in names if (m := DOCUMENT_PATTERN.match(name)))
                for _, name in found:
                    yield f"{institution}/{day}/{name}"


def _subdirectories(path) -> list[str]:
    try:
        with os.scandir(path) as entries:
            return sorted(e.name for e in entries if e.is_dir(follow_symlinks=False))
    except FileNotFoundError:
        return []


def _readable_header(path: Path) -> dict | None:
    """The newest version's header; None when a crash left it unreadable (the next version follows it)."""
    try:
        return read_header(path)
    except (OSError, ValueError):
        return None
