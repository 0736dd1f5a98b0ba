"""Whether a month is locked for an institution: asked of the warehouse per report, cached as fallback.

A lock (vte.review.locks) refuses a report date of a locked month unless the institution holds an open
exception. The warehouse is asked for every report, so a new lock or exception applies at once: for a JSON
submission, in the same read as its account (vte.intake.accounts.Found). All locks and open exceptions are
also kept in memory, and answer while the warehouse cannot be reached.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timezone

from vte.intake.accounts import Found, WarehouseRegistry
from vte.review import locks
from vte.review.locks import MonthLock

log = logging.getLogger(__name__)


class LockBook:
    def __init__(self, registry: WarehouseRegistry | None, *, refresh_seconds: float = 60,
                 clock: Callable[[], float] = time.monotonic):
        self._registry = registry
        self.refresh_seconds = refresh_seconds
        self._clock = clock
        self._guard = threading.Lock()
        self._locks: dict[date, MonthLock] = {}
        self._exceptions: list[locks.LockException] = []
        self._loaded_at: float | None = None

    def refusing_lock(self, institution_code: str, report_date: date, read: Found | None = None) -> MonthLock | None:
        """The lock that refuses this report now, or None. ``read`` is the account's live read, which answers
        when it read the report's month."""
        if self._registry is None:  # no warehouse behind this service (tests of the HTTP layer alone)
            return None
        already_read = read is not None and read.month == report_date.replace(day=1)
        try:
            self._refresh_if_due()
            if already_read:
                return read.month_lock
            return self._registry.run(lambda conn: locks.refusing_lock(conn, institution_code, report_date))
        except Exception as exc:  # the warehouse cannot be asked: the last copy answers
            if already_read:  # read moments ago; only the fallback copy's refresh failed
                return read.month_lock
            log.warning("locks not readable, the cached copy answers: %s: %s", type(exc).__name__, exc)
            return self._cached(institution_code, report_date)

    def close(self) -> None:
        """Close the connections to the warehouse it reads through."""
        if self._registry is not None:
            self._registry.close()

    def _refresh_if_due(self) -> None:
        if self._loaded_at is not None and self._clock() - self._loaded_at < self.refresh_seconds:
            return
        def read(conn):
            month_locks = {row[0]: MonthLock(*row) for row in conn.execute(
                "select month, reason, actor, locked_at from review.month_locks")}
            return month_locks, [e for e in locks.exceptions(conn) if e.valid_until > datetime.now(timezone.utc)]
        month_locks, open_exceptions = self._registry.run(read)
        with self._guard:
            self._locks, self._exceptions, self._loaded_at = month_locks, open_exceptions, self._clock()

    def _cached(self, institution_code: str, report_date: date) -> MonthLock | None:
        month = report_date.replace(day=1)
        with self._guard:
            lock = self._locks.get(month)
            excepted = any(e.institution_code == institution_code and e.month == month
                           and e.valid_until > datetime.now(timezone.utc) for e in self._exceptions)
        return None if lock is None or excepted else lock
