"""Revisions of an extract: ``<period>/<region>/<kind>/r001``, ``r002`` … and the ``latest.json`` pointer.

A revision is never changed once written. It is assembled in a hidden staging directory and renamed into
place whole, so a reader sees a complete revision or none; then ``latest.json`` (replaced atomically) names
it. A JSON pointer rather than a symbolic link: it survives copying the exports to a file share, an archive
or object storage, and it says which publication the revision was made from without opening it.

Writers of the same period, region and kind take turns on an exclusive lock (``.lock``), so two runs never
pick the same revision number.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from vte.extracts.manifest import MANIFEST_NAME, read_manifest
from vte.landing import fsync_path

LATEST_NAME = "latest.json"
LOCK_NAME = ".lock"
_REVISION = re.compile(r"r(\d{3,})")


@dataclass(frozen=True)
class StoredRevision:
    number: int
    directory: Path
    manifest: dict

    @property
    def name(self) -> str:
        return self.directory.name

    @property
    def publication_id(self) -> int:
        return self.manifest["publication"]["publication_id"]


def revision_name(number: int) -> str:
    return f"r{number:03d}"


def list_revisions(kind_directory: Path) -> list[StoredRevision]:
    """The revisions written so far, oldest first."""
    found = []
    if kind_directory.is_dir():
        for entry in kind_directory.iterdir():
            match = _REVISION.fullmatch(entry.name)
            if match and (entry / MANIFEST_NAME).is_file():
                found.append(StoredRevision(int(match[1]), entry, read_manifest(entry / MANIFEST_NAME)))
    return sorted(found, key=lambda r: r.number)


def describe(revisions: list[StoredRevision]) -> str:
    """``r001 (publication 3), r002 (publication 5)``, or ``none``."""
    return ", ".join(f"{r.name} (publication {r.publication_id})" for r in revisions) or "none"


@contextmanager
def locked(kind_directory: Path):
    """Hold the exclusive lock of the period, region and kind while choosing and writing a revision."""
    kind_directory.mkdir(parents=True, exist_ok=True)
    with open(kind_directory / LOCK_NAME, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def staging_directory(kind_directory: Path, number: int) -> Path:
    """An empty hidden directory to assemble revision ``number`` in (what a crashed run left is removed)."""
    staging = kind_directory / f".{revision_name(number)}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


def commit(staging: Path, kind_directory: Path, number: int, manifest: dict) -> Path:
    """Rename the assembled revision into place, durably, and point ``latest.json`` at it."""
    for path in staging.iterdir():
        fsync_path(path)
    fsync_path(staging)
    directory = kind_directory / revision_name(number)
    os.rename(staging, directory)  # fails rather than replace an existing (never empty) revision
    fsync_path(kind_directory)
    write_latest(kind_directory, StoredRevision(number, directory, manifest))
    return directory


def write_latest(kind_directory: Path, revision: StoredRevision) -> None:
    pointer = {"revision": revision.number, "directory": revision.name,
               "manifest": f"{revision.name}/{MANIFEST_NAME}", "publication_id": revision.publication_id,
               "content_sha256": revision.manifest["content_sha256"]}
    temporary = kind_directory / f".{LATEST_NAME}.tmp"
    temporary.write_text(json.dumps(pointer, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, kind_directory / LATEST_NAME)


def latest(kind_directory: Path) -> StoredRevision | None:
    """The revision ``latest.json`` names (what a reader should take), or None before the first."""
    path = kind_directory / LATEST_NAME
    if not path.is_file():
        return None
    directory = kind_directory / json.loads(path.read_text(encoding="utf-8"))["directory"]
    return StoredRevision(int(directory.name[1:]), directory, read_manifest(directory / MANIFEST_NAME))
