"""The arrivals journal: the landing zone's own list of what it stored, so a load reads what arrived since the
last one instead of walking every document of every year (a country's year is ~5.5 million documents).

``LandingZone.land`` appends the path of each document it stores, and of each retry it acknowledges again, to
``<root>/.arrivals/<UTC date>.log``, after the document's rename and before the flush that precedes the
answer: an acknowledged document is always in the journal. Each line is one ``write`` on a file opened for
appending, so workers and processes never interleave inside a line. The loader remembers how far it read each
file of this zone (``raw.landing_journal_files``, by the zone's identity in ``.arrivals/zone``) and reads
only complete lines.

A document that reached the zone another way (copied in, restored from a backup) is found by a full scan
(``vte_ingest`` triggered with ``{"full_scan": true}``); the first load of a zone is one, and its journal is then
read from where the scan began.
"""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

ARRIVALS_DIR = ".arrivals"
ZONE_FILE = "zone"
_JOURNAL_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}\.log$")


def zone_id(root: Path) -> str | None:
    """The zone's journal identity (the loader's offsets belong to one zone; one warehouse may load several,
    e.g. a benchmark's); None while nothing was journalled."""
    try:
        return (root / ARRIVALS_DIR / ZONE_FILE).read_text().strip() or None
    except FileNotFoundError:
        return None


def _start_journal(directory: Path) -> None:
    """Create the journal's folder and the zone's identity, once, whichever worker comes first."""
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{ZONE_FILE}.{uuid.uuid4().hex}"
    with open(tmp, "w") as f:
        f.write(f"{uuid.uuid4()}\n")
        f.flush()
        os.fsync(f.fileno())
    try:
        os.link(tmp, directory / ZONE_FILE)  # fails when another worker was first: its identity stands
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def record(root: Path, relative_path: str) -> Path:
    """Append ``relative_path`` to today's journal (not flushed: the caller's flush covers it); returns the
    journal file, which a flush without syncfs needs by name."""
    directory = root / ARRIVALS_DIR
    path = directory / f"{datetime.now(timezone.utc):%Y-%m-%d}.log"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    except FileNotFoundError:
        _start_journal(directory)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, f"{relative_path}\n".encode())
    finally:
        os.close(fd)
    return path


@dataclass(frozen=True)
class JournalRead:
    paths: list[str]  # the documents listed since the offsets read from, in order of arrival, without repeats
    offsets: dict[str, int]  # journal file name -> bytes read up to (the end of its last complete line)


def read_since(root: Path, offsets: dict[str, int]) -> JournalRead:
    """Every document listed after ``offsets`` (journal file name -> bytes already read; a file not named is
    read from its start)."""
    directory = root / ARRIVALS_DIR
    try:
        names = sorted(name for name in os.listdir(directory) if _JOURNAL_NAME.match(name))
    except FileNotFoundError:
        return JournalRead([], dict(offsets))
    paths: dict[str, None] = {}
    read_to = dict(offsets)
    for name in names:
        start = offsets.get(name, 0)
        with open(directory / name, "rb") as journal:
            journal.seek(start)
            chunk = journal.read()
        complete = chunk[:chunk.rfind(b"\n") + 1]  # a line still being written is read next time
        if complete:
            paths.update(dict.fromkeys(complete.decode().splitlines()))
            read_to[name] = start + len(complete)
    return JournalRead(list(paths), read_to)
