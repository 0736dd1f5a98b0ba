"""The accounts the service accepts: read from the warehouse registry at every authentication, cached as fallback.

Reading the registry for each request makes a revocation or a rotation take effect on the very next
request, in every worker. The whole registry is also cached in memory and re-read periodically: when the
warehouse cannot be reached the last good copy keeps serving (live reads are retried every few seconds), so
hospitals can submit while the warehouse is down — accepted data goes to the landing zone, which is files.
During such an outage a revocation waits for the warehouse to return.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from enum import Enum

import psycopg
from psycopg_pool import ConnectionPool

from vte import registry, warehouse
from vte.access import roles
from vte.config import Settings
from vte.registry import ActiveAccount

log = logging.getLogger(__name__)


class KeyStatus(Enum):
    ACTIVE = "active"
    REVOKED = "revoked"
    UNKNOWN = "unknown"
    UNAVAILABLE = "unavailable"  # no successful load yet


class WarehouseRegistry:
    """The registry's accounts through a small connection pool, made on first use (the warehouse may start later)."""

    def __init__(self, settings: Settings, connect_timeout: float):
        self.settings = settings
        self.connect_timeout = connect_timeout
        self._pool: ConnectionPool | None = None
        self._lock = threading.Lock()

    def _connections(self) -> ConnectionPool:
        with self._lock:
            if self._pool is None:
                timeout_ms = int(self.connect_timeout * 1000)
                self._pool = ConnectionPool(
                    warehouse.url(self.settings, role=roles.INTAKE), min_size=1, max_size=4, timeout=self.connect_timeout,
                    kwargs={"autocommit": True, "connect_timeout": max(1, round(self.connect_timeout)),
                            "options": f"-c statement_timeout={timeout_ms}"})
            return self._pool

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close(timeout=5)
                self._pool = None

    def run(self, read):
        """``read(conn)`` on a pooled connection (as vte_intake), retried once on a dropped connection."""
        try:
            with self._connections().connection() as conn:
                return read(conn)
        except psycopg.OperationalError:  # a connection the warehouse dropped (restart): once more, fresh
            with self._connections().connection() as conn:
                return read(conn)

    def load_all(self) -> dict[str, ActiveAccount | None]:
        return self.run(lambda conn: registry.account_statuses(conn, self.settings))

    def load_one(self, access_key: str) -> tuple[bool, ActiveAccount | None]:
        return self.run(lambda conn: registry.account_status(conn, access_key, self.settings))


class AccountCache:
    def __init__(self, load: Callable[[], dict[str, ActiveAccount | None]], *, refresh_seconds: float,
                 miss_refresh_seconds: float, clock: Callable[[], float] = time.monotonic,
                 load_one: Callable[[str], tuple[bool, ActiveAccount | None]] | None = None,
                 live_retry_seconds: float = 5):
        self._load = load
        self._load_one = load_one
        self.refresh_seconds = refresh_seconds
        self.miss_refresh_seconds = miss_refresh_seconds
        self.live_retry_seconds = live_retry_seconds
        self._clock = clock
        self._live_failed_at: float | None = None
        self._accounts: dict[str, ActiveAccount | None] | None = None
        self._last_attempt: float | None = None
        self.loaded_at: float | None = None
        self.last_error: str | None = None
        self._refresh_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def loaded(self) -> bool:
        return self._accounts is not None

    def refresh(self) -> bool:
        """Re-read the accounts; on failure keep the previous copy. True when the read succeeded."""
        with self._refresh_lock:
            self._last_attempt = self._clock()
            try:
                accounts = self._load()
            except Exception as exc:  # any failure to reach or read the warehouse: keep serving
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("accounts not refreshed, serving the last good copy: %s", self.last_error)
                return False
            self._accounts = accounts
            self.loaded_at = self._clock()
            self.last_error = None
            return True

    def lookup(self, access_key: str) -> tuple[KeyStatus, ActiveAccount | None]:
        live = self._lookup_live(access_key)
        if live is not None:
            return live
        status, account = self._find(access_key)
        if status in (KeyStatus.UNKNOWN, KeyStatus.UNAVAILABLE) and self._may_refresh_on_miss():
            self.refresh()
            status, account = self._find(access_key)
        return status, account

    def _lookup_live(self, access_key: str) -> tuple[KeyStatus, ActiveAccount | None] | None:
        """The registry's answer now, or None when it cannot be asked (the cache answers instead)."""
        if self._load_one is None:
            return None
        if self._live_failed_at is not None and self._clock() - self._live_failed_at < self.live_retry_seconds:
            return None
        try:
            known, account = self._load_one(access_key)
        except Exception as exc:  # any failure to reach or read the warehouse: the cache answers
            self._live_failed_at = self._clock()
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("registry not reachable, the cached accounts answer: %s", self.last_error)
            return None
        self._live_failed_at = None
        accounts = self._accounts
        if accounts is not None:  # keep the fallback copy as current as the last answer
            if known:
                accounts[access_key] = account
            else:
                accounts.pop(access_key, None)
        if not known:
            return KeyStatus.UNKNOWN, None
        return (KeyStatus.ACTIVE, account) if account is not None else (KeyStatus.REVOKED, None)

    def _may_refresh_on_miss(self) -> bool:
        return self._last_attempt is None or self._clock() - self._last_attempt >= self.miss_refresh_seconds

    def _find(self, access_key: str) -> tuple[KeyStatus, ActiveAccount | None]:
        accounts = self._accounts
        if accounts is None:
            return KeyStatus.UNAVAILABLE, None
        if access_key not in accounts:
            return KeyStatus.UNKNOWN, None
        account = accounts[access_key]
        return (KeyStatus.ACTIVE, account) if account is not None else (KeyStatus.REVOKED, None)

    def start(self) -> None:
        """Load now and keep refreshing in a background thread until ``stop``."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="account-cache", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self.refresh()
        while not self._stop.wait(self.refresh_seconds):
            self.refresh()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
