"""Locked months and the exceptions that let one institution correct one of them for a while.

A month is locked when the province accepts it (vte.review.approval) or when its final extract for the
province is written (vte.extracts.create), whichever comes first; a lock is never lifted. While a month is
locked the intake refuses its dates (code 42301), so nothing already published and extracted changes. An
administrator may open an exception for one institution and month until a given time, with a reason; what
the institution sends meanwhile is published and shows in the next revision's restatement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
LONGEST_EXCEPTION = timedelta(days=31)
REASONS_ZH = {"province_accepted": "省级审核通过", "final_extract": "已出具终版报表"}
REASONS_EN = {"province_accepted": "the province accepted it", "final_extract": "its final extract was issued"}


class LockError(ValueError):
    """A refused lock request; the message says why and what to do."""


@dataclass(frozen=True)
class MonthLock:
    month: date
    reason: str
    actor: str
    locked_at: datetime

    def describe_en(self) -> str:
        return f"{REASONS_EN[self.reason]}, {self.locked_at.astimezone(LOCAL_TZ):%Y-%m-%d %H:%M}"

    def describe_zh(self) -> str:
        return f"{REASONS_ZH[self.reason]}，{self.locked_at.astimezone(LOCAL_TZ):%Y-%m-%d %H:%M}"


@dataclass(frozen=True)
class LockException:
    exception_id: int
    institution_code: str
    month: date
    valid_until: datetime
    reason: str
    actor: str
    opened_at: datetime


def local_today() -> date:
    return datetime.now(LOCAL_TZ).date()


def month_lock(conn: psycopg.Connection, month: date) -> MonthLock | None:
    row = conn.execute("select month, reason, actor, locked_at from review.month_locks where month = %s",
                       (month.replace(day=1),)).fetchone()
    return MonthLock(*row) if row else None


def lock_month(conn: psycopg.Connection, month: date, reason: str, actor: str) -> bool:
    """Lock ``month`` (True), or leave the earlier lock as it is (False)."""
    return conn.execute("insert into review.month_locks (month, reason, actor) values (%s, %s, %s)"
                        " on conflict (month) do nothing returning month", (month.replace(day=1), reason, actor)
                        ).fetchone() is not None


def open_exception(conn: psycopg.Connection, institution_code: str, month: date, valid_until: datetime, *,
                   reason: str, actor: str) -> LockException:
    """Let one institution correct one locked month until ``valid_until`` (at most LONGEST_EXCEPTION ahead)."""
    month = month.replace(day=1)
    if not reason or not reason.strip():
        raise LockError("an exception needs a reason (--reason): it is kept in the audit (须填写原因)")
    now = datetime.now(LOCAL_TZ)
    if valid_until <= now:
        raise LockError(f"--until {valid_until:%Y-%m-%d %H:%M} has passed: give a time to come (截止时间已过)")
    if valid_until - now > LONGEST_EXCEPTION:
        raise LockError(f"an exception lasts at most {LONGEST_EXCEPTION.days} days: give an earlier --until"
                        f" (例外最长 {LONGEST_EXCEPTION.days} 天)")
    if conn.execute("select 1 from registry.institutions where institution_code = %s",
                    (institution_code,)).fetchone() is None:
        raise LockError(f"institution {institution_code!r} is not registered: `vte accounts list` shows the codes"
                        " (机构未注册)")
    if month_lock(conn, month) is None:
        raise LockError(f"{month:%Y-%m} is not locked: the institution can already correct it (该月未锁定，无需例外)")
    row = conn.execute(
        "insert into review.lock_exceptions (institution_code, month, valid_until, reason, actor)"
        " values (%s, %s, %s, %s, %s) returning exception_id, institution_code, month, valid_until, reason, actor,"
        " opened_at", (institution_code, month, valid_until, reason.strip(), actor)).fetchone()
    return LockException(*row)


def exceptions(conn: psycopg.Connection, month: date | None = None) -> list[LockException]:
    return [LockException(*row) for row in conn.execute(
        "select exception_id, institution_code, month, valid_until, reason, actor, opened_at"
        " from review.lock_exceptions where %(month)s::date is null or month = %(month)s::date"
        " order by exception_id", {"month": month.replace(day=1) if month else None})]


# The lock of %(month)s that refuses an institution's reports: the month is locked and the institution holds no
# open exception for it. ``{institution}`` is filled with a parameter or with a column of an enclosing query.
REFUSING_LOCK = """
    select month, reason, actor, locked_at from review.month_locks
    where month = %(month)s and not exists (select from review.lock_exceptions
        where institution_code = {institution} and month = %(month)s and valid_until > now())
"""


def refusing_lock(conn: psycopg.Connection, institution_code: str, report_date: date) -> MonthLock | None:
    """The lock that refuses this institution's report for ``report_date`` now; None when it may send it."""
    row = conn.execute(REFUSING_LOCK.format(institution="%(institution)s"),
                       {"month": report_date.replace(day=1), "institution": institution_code}).fetchone()
    return MonthLock(*row) if row else None
