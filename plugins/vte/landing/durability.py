"""Getting files onto the disk: one at a time (``write_durably``), or many writers sharing one flush (``GroupSync``).

The intake answers a submission only once its document is on disk. Flushing each document alone costs two
flushes per request (the file, then its directory). ``GroupSync`` lets concurrent writers share them: a writer
that needs its writes on disk asks for a flush; if none is running it becomes the leader and flushes
everything written so far with one ``syncfs`` of the landing zone's filesystem, while the writers that ask
meanwhile wait for the next flush, which the first of them leads. Nobody returns before a flush that began
after its own writes has finished, so an answered submission is never lost.

``syncfs`` flushes the whole filesystem: keep the landing zone on a volume of its own (docs/deployment.md),
not beside the warehouse's data directory, or a busy warehouse lengthens the intake's flushes. Where the C
library has no ``syncfs``, each writer's files and directories are flushed one by one, still grouped.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
import uuid
from collections.abc import Iterable
from pathlib import Path


def _load_syncfs():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        syncfs = libc.syncfs
    except (OSError, AttributeError, TypeError):
        return None
    syncfs.argtypes = [ctypes.c_int]
    syncfs.restype = ctypes.c_int
    return syncfs


_SYNCFS = _load_syncfs()


def fsync_path(path: Path) -> None:
    """Flush a file or a directory (its entries: a rename in it) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_filesystem(path: Path) -> None:
    """Flush every file and directory of the filesystem holding ``path`` (Linux ``syncfs``)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        if _SYNCFS(fd) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, os.strerror(errno), str(path))
    finally:
        os.close(fd)


def write_file(path: Path, content: bytes) -> Path:
    """Write ``content`` to a new temporary file beside ``path`` (not flushed); returns the temporary path."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view):]
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    return tmp


def write_durably(path: Path, content: bytes) -> None:
    """Write a file so that it is either absent or complete on disk, even across a crash."""
    tmp = write_file(path, content)
    try:
        fsync_path(tmp)
        os.rename(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_path(path.parent)


class GroupSync:
    """Shared flushes of one filesystem for the threads of one process (see the module's description)."""

    def __init__(self, root: Path):
        self.root = root
        self._cond = threading.Condition()
        self._asked = 0  # flush requests so far; a request's number is its ticket
        self._done = 0  # every ticket up to this one is on disk
        self._leading = False
        self._paths: set[Path] = set()  # what to flush one by one when there is no syncfs
        self.flushes = 0  # flushes performed (how many writers shared each: requests ÷ flushes)

    def flush(self, paths: Iterable[Path] = ()) -> None:
        """Return once everything this thread wrote before calling is on disk. ``paths`` (the files written
        and the directories changed) are needed only where there is no syncfs."""
        with self._cond:
            if _SYNCFS is None:
                self._paths.update(paths)
            self._asked += 1
            ticket = self._asked
            while self._done < ticket:
                if self._leading:
                    self._cond.wait()
                    continue
                self._lead()

    def _lead(self) -> None:
        """Flush everything asked for so far; called and returns with the condition held."""
        self._leading = True
        covered, paths, self._paths = self._asked, self._paths, set()
        self._cond.release()
        try:
            if _SYNCFS is not None:
                sync_filesystem(self.root)
            else:
                for path in sorted(paths, key=lambda p: len(p.parts), reverse=True):  # files before their folders
                    try:
                        fsync_path(path)
                    except FileNotFoundError:  # a temporary file its writer has given up on
                        pass
        except BaseException:
            self._cond.acquire()
            self._paths |= paths  # the next leader tries again
            self._leading = False
            self._cond.notify_all()
            raise
        self._cond.acquire()
        self._leading = False
        self._done = covered
        self.flushes += 1
        self._cond.notify_all()
