"""The accounts the service accepts: read from the warehouse registry at every authentication, cached as fallback.

Reading the registry for each request makes a revocation or a rotation take effect on the very next
request, in every worker. The same read answers whether the report's month is locked for the institution
(vte.review.locks), so a submission costs one round trip to the warehouse. The whole registry is also cached
in memory and re-read periodically: when the warehouse cannot be reached the last good copy keeps serving
(live reads are retried every few seconds), so hospitals can submit while the warehouse is down — accepted
data goes to the landing zone, which is files. During such an outage a revocation waits for the warehouse to
return.

An account carries its institution's suspensions and closure (vte.lifecycle): a report dated on one of
those dates is refused with the status's own code (``status_refusal``), by the JSON and Excel channels alike.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import Enum

import psycopg
from psycopg_pool import ConnectionPool

from vte import registry, warehouse
from vte.access import roles
from vte.config import Settings
from vte.intake.responses import ResultCode
from vte.registry import ActiveAccount, StatusPeriod
from vte.review import locks
from vte.review.locks import MonthLock

log = logging.getLogger(__name__)


class KeyStatus(Enum):
    ACTIVE = "active"
    REVOKED = "revoked"
    UNKNOWN = "unknown"
    UNAVAILABLE = "unavailable"  # no successful load yet


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
STATUS_CODES = {"suspended": ResultCode.INSTITUTION_SUSPENDED, "closed": ResultCode.INSTITUTION_CLOSED}


@dataclass(frozen=True)
class Found:
    """What the service knows of an access key, and of the report month asked with it."""

    status: KeyStatus
    account: ActiveAccount | None = None
    month: date | None = None  # the month whose lock was read with the account (None: not read)
    month_lock: MonthLock | None = None  # the lock refusing that month's reports to the institution, if any


# One row: the account, and the lock refusing its institution's reports of %(month)s (null columns when none).
_ACCOUNT_AND_LOCK = f"""
    select accounts.*, refusing.month, refusing.reason, refusing.actor, refusing.locked_at
    from ({registry.ACCOUNT_ROWS}) as accounts
    left join lateral ({locks.REFUSING_LOCK.format(institution="accounts.institution_code")}) as refusing on true
    where accounts.access_key = %(access_key)s
"""


def account_and_lock(conn: psycopg.Connection, access_key: str, month: date | None,
                     settings: Settings | None = None) -> tuple[bool, ActiveAccount | None, MonthLock | None]:
    """(known, credentials when active, the lock refusing ``month``'s reports) as the registry has them now."""
    row = conn.execute(_ACCOUNT_AND_LOCK, {"access_key": access_key, "month": month}).fetchone()
    if row is None:
        return False, None, None
    account, lock = row[:-4], row[-4:]
    return True, registry.account_from_row(account, settings), MonthLock(*lock) if lock[0] is not None else None


@dataclass(frozen=True)
class StatusRefusal:
    """Why a report date is refused: the institution is suspended or closed on it."""

    report_date: date
    period: StatusPeriod

    @property
    def code(self) -> ResultCode:
        return STATUS_CODES[self.period.status]

    @property
    def data(self) -> dict:
        resumed = self.period.resumed_on
        return {"reportDate": self.report_date.isoformat(), "status": self.period.status,
                "fromDate": self.period.from_date.isoformat(), "resumedOn": resumed.isoformat() if resumed else None}

    def detail(self) -> tuple[str, str]:
        """The particulars, Chinese and English."""
        day, start, resumed = self.report_date.isoformat(), self.period.from_date.isoformat(), self.period.resumed_on
        if self.period.status == "closed":
            return f"{day} 在关闭日期 {start} 之后", f"{day} is on or after its closing date, {start}"
        until_zh = f"至 {resumed.isoformat()} 恢复" if resumed else "至今"
        until_en = f" until it resumed on {resumed.isoformat()}" if resumed else ""
        return f"{day} 处于自 {start} 起的暂停期（{until_zh}）", f"{day} falls in its suspension from {start}{until_en}"

    def message(self) -> str:
        return self.code.explain(*self.detail())


def well_formed_date(value: object) -> date | None:
    """``value`` as a date when it is a yyyy-MM-dd string of a real date; None otherwise."""
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def status_refusal(account: ActiveAccount, report_date: object) -> StatusRefusal | None:
    """The refusal of a report dated ``report_date`` (a yyyy-MM-dd string or a date) because the institution is
    suspended or closed on it; None when it may go on (a malformed date is the content check's to refuse)."""
    report_date = report_date if isinstance(report_date, date) else well_formed_date(report_date)
    if report_date is None:
        return None
    period = account.status_on(report_date)
    return None if period is None else StatusRefusal(report_date, period)


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

    def load_one(self, access_key: str,
                 month: date | None = None) -> tuple[bool, ActiveAccount | None, MonthLock | None]:
        return self.run(lambda conn: account_and_lock(conn, access_key, month, self.settings))


class AccountCache:
    def __init__(self, load: Callable[[], dict[str, ActiveAccount | None]], *, refresh_seconds: float,
                 miss_refresh_seconds: float, clock: Callable[[], float] = time.monotonic,
                 load_one: Callable[[str, date | None], tuple[bool, ActiveAccount | None, MonthLock | None]]
                 | None = None,
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
        found = self.find(access_key)
        return found.status, found.account

    def find(self, access_key: str, month: date | None = None) -> Found:
        """The key's status and account; read live, also the lock refusing ``month`` (when given)."""
        live = self._find_live(access_key, month)
        if live is not None:
            return live
        status, account = self._find(access_key)
        if status in (KeyStatus.UNKNOWN, KeyStatus.UNAVAILABLE) and self._may_refresh_on_miss():
            self.refresh()
            status, account = self._find(access_key)
        return Found(status, account)

    def _find_live(self, access_key: str, month: date | None) -> Found | None:
        """The registry's answer now, or None when it cannot be asked (the cache answers instead)."""
        if self._load_one is None:
            return None
        if self._live_failed_at is not None and self._clock() - self._live_failed_at < self.live_retry_seconds:
            return None
        try:
            known, account, lock = self._load_one(access_key, month)
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
            return Found(KeyStatus.UNKNOWN)
        if account is None:
            return Found(KeyStatus.REVOKED)
        return Found(KeyStatus.ACTIVE, account, month, lock)

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
