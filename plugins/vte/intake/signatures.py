"""Each signature is good for one request: the store of signatures already used within the replay window.

A captured ``(accessKey, timestamp, sign)`` would otherwise work again for the whole window, with any date
and data (the Appendix A signature covers neither). The store is a SQLite file beside the landing zone, so
every worker process of the service shares it and it needs no warehouse: the intake keeps refusing replays
while the warehouse is down. An entry is kept until its timestamp has left the window.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

PRUNE_EVERY_SECONDS = 60


class UsedSignatures:
    def __init__(self, path: Path, clock: Callable[[], float] = time.time):
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pruned_at = 0.0

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
            conn.execute("pragma journal_mode = wal")
            # A commit survives the process; after a power loss the last moments may be forgotten, which
            # only reopens those requests' remaining seconds of window.
            conn.execute("pragma synchronous = normal")
            conn.execute("create table if not exists used_signatures (access_key text not null, sign text not null,"
                         " expires_at real not null, primary key (access_key, sign)) without rowid")
            conn.execute("create index if not exists used_signatures_expiry on used_signatures (expires_at)")
            self._conn = conn
        return self._conn

    def claim(self, access_key: str, sign: str, expires_at: float) -> bool:
        """Record the signature as used; False when it was used before (a replay).

        Raises OSError when the store cannot be read or written (the request cannot be checked: retry later).
        """
        try:
            return self._claim(access_key, sign, expires_at)
        except sqlite3.IntegrityError:
            return False
        except sqlite3.Error as exc:
            self.close()  # reopen next time: the file may have been repaired or replaced
            raise OSError(f"used-signature store {self.path}: {exc}") from exc

    def _claim(self, access_key: str, sign: str, expires_at: float) -> bool:
        with self._lock:
            conn = self._connection()
            now = self._clock()
            if now - self._pruned_at > PRUNE_EVERY_SECONDS:
                conn.execute("delete from used_signatures where expires_at < ?", (now,))
                self._pruned_at = now
            conn.execute("insert into used_signatures (access_key, sign, expires_at) values (?, ?, ?)",
                         (access_key, sign.lower(), expires_at))
            return True

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
