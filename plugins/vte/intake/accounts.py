"""The accounts the service accepts, cached in memory from the warehouse registry.

The cache is refreshed periodically and, for an unknown key, at most once per few seconds. When the
warehouse cannot be reached the last good copy keeps serving, so hospitals can submit while the
warehouse is down (accepted data goes to the landing zone, which is files).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from enum import Enum

import psycopg

from vte import registry, warehouse
from vte.config import Settings
from vte.registry import ActiveAccount

log = logging.getLogger(__name__)


class KeyStatus(Enum):
    ACTIVE = "active"
    REVOKED = "revoked"
    UNKNOWN = "unknown"
    UNAVAILABLE = "unavailable"  # no successful load yet


def warehouse_loader(settings: Settings, connect_timeout: float) -> Callable[[], dict]:
    def load() -> dict[str, ActiveAccount | None]:
        with psycopg.connect(warehouse.url(settings), connect_timeout=connect_timeout) as conn:
            return registry.account_statuses(conn, settings)
    return load


class AccountCache:
    def __init__(self, load: Callable[[], dict[str, ActiveAccount | None]], *, refresh_seconds: float,
                 miss_refresh_seconds: float, clock: Callable[[], float] = time.monotonic):
        self._load = load
        self.refresh_seconds = refresh_seconds
        self.miss_refresh_seconds = miss_refresh_seconds
        self._clock = clock
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
        status, account = self._find(access_key)
        if status in (KeyStatus.UNKNOWN, KeyStatus.UNAVAILABLE) and self._may_refresh_on_miss():
            self.refresh()
            status, account = self._find(access_key)
        return status, account

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
