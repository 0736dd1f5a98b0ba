"""An institution's lifecycle: suspended, closed or resumed from a report date on (`vte institutions`).

Each change says "from this date on, this status". It is a row of ``registry.institution_status_changes``
(kept whole, like an audit) and a line of ``ops.admin_audit``. The status of a report date is that of the
change recorded last among those dated on or before it, so a later change from an earlier date corrects
what was said about the dates after it; ``registry.institution_status_periods`` lists the resulting
stretches that are suspended or closed. On those dates no report is expected (fct_reporting_completeness,
vte.alerts, the console's calendar) and the intake refuses a report dated on them with the status's own
code (JSON and Excel). Reports landed before a retroactive change stay what they are.

A change is never dated after today, so ``registry.institutions.status``, set with each change, is the
status in effect today.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import date, datetime

import psycopg

from vte.registry import RegistryError, StatusPeriod, audit
from vte.submission import report_today

SUSPENDED, CLOSED, ACTIVE = "suspended", "closed", "active"


@dataclass(frozen=True)
class StatusChange:
    change_id: int
    institution_code: str
    status: str
    effective_from: date
    reason: str
    set_by: str
    set_at: datetime


_VERBS = {SUSPENDED: "suspend", CLOSED: "close", ACTIVE: "resume"}


def suspend(conn: psycopg.Connection, institution_code: str, from_date: date, reason: str, *,
            today: date | None = None) -> StatusChange:
    """No report is expected, and none accepted, for dates from ``from_date`` until the institution resumes."""
    return change_status(conn, institution_code, SUSPENDED, from_date, reason, today=today)


def close(conn: psycopg.Connection, institution_code: str, from_date: date, reason: str, *,
          today: date | None = None) -> StatusChange:
    """No report is expected, and none accepted, for dates from ``from_date`` on (earlier dates still are)."""
    return change_status(conn, institution_code, CLOSED, from_date, reason, today=today)


def resume(conn: psycopg.Connection, institution_code: str, from_date: date, reason: str, *,
           today: date | None = None) -> StatusChange:
    """Reports are expected, and accepted, again for dates from ``from_date`` on."""
    return change_status(conn, institution_code, ACTIVE, from_date, reason, today=today)


def change_status(conn: psycopg.Connection, institution_code: str, status: str, from_date: date, reason: str, *,
                  today: date | None = None) -> StatusChange:
    """Record one change (audited) and make it the institution's current status, in one transaction."""
    reason = reason.strip()
    if not reason:
        raise RegistryError("the reason is empty: say why (须填写原因)")
    today = today or report_today()
    if from_date > today:
        raise RegistryError(f"--from {from_date.isoformat()} is after today ({today.isoformat()}): record a change"
                            " on or after the day it takes effect (生效日期不能晚于今天)")
    verb = _VERBS[status]
    with conn.transaction():
        row = conn.execute("select joined_on from registry.institutions where institution_code = %s for update",
                           (institution_code,)).fetchone()
        if row is None:
            raise RegistryError(f"institution {institution_code} is not registered (机构未注册)")
        joined_on = row[0]
        if from_date < joined_on:
            raise RegistryError(f"--from {from_date.isoformat()} is before {institution_code} joined"
                                f" ({joined_on.isoformat()}): no report was expected then (早于机构加入日期)")
        before = timeline(history(conn, institution_code))
        after = _applied(before, from_date, status)
        if after == before:
            raise RegistryError(f"{institution_code} is already {status} from {from_date.isoformat()} on: nothing"
                                " changes (状态未变)")
        closed = next((start for start, end, was in _stretches(before) if was == CLOSED
                       and (end is None or end > from_date)), None)
        if status == SUSPENDED and closed is not None:
            raise RegistryError(f"{institution_code} is closed from {closed.isoformat()}: resume it before suspending"
                                " it (机构已关闭)")
        set_by = getpass.getuser()
        change_id, set_at = conn.execute(
            """
            insert into registry.institution_status_changes
                (institution_code, status, effective_from, reason, set_by)
            values (%s, %s, %s, %s, %s)
            returning change_id, set_at
            """, (institution_code, status, from_date, reason, set_by)).fetchone()
        current = after[-1][1] if after else ACTIVE
        conn.execute("update registry.institutions set status = %s where institution_code = %s",
                     (current, institution_code))
        audit(conn, f"institution.{verb}", institution_code, status=status, effective_from=from_date.isoformat(),
              reason=reason, previous=before[-1][1] if before else ACTIVE, change_id=change_id)
    return StatusChange(change_id, institution_code, status, from_date, reason, set_by, set_at)


def timeline(changes: list[StatusChange]) -> list[tuple[date, str]]:
    """Where the status changes, in date order: (first date, status), active before the first (the same rule
    as registry.institution_status_periods)."""
    points: list[tuple[date, str]] = []
    for change in sorted(changes, key=lambda c: c.change_id):
        points = _applied(points, change.effective_from, change.status)
    return points


def _applied(points: list[tuple[date, str]], from_date: date, status: str) -> list[tuple[date, str]]:
    """The timeline after "from ``from_date`` on, ``status``": what it said about later dates is replaced."""
    kept = [point for point in points if point[0] < from_date]
    if (kept[-1][1] if kept else ACTIVE) == status:
        return kept
    return [*kept, (from_date, status)]


def _stretches(points: list[tuple[date, str]]):
    """(first date, first date after it or None, status) for each stretch of the timeline."""
    for index, (start, status) in enumerate(points):
        end = points[index + 1][0] if index + 1 < len(points) else None
        yield start, end, status


def history(conn: psycopg.Connection, institution_code: str) -> list[StatusChange]:
    """Every change of the institution's status, in the order they were made."""
    return [StatusChange(*row) for row in conn.execute(
        """
        select change_id, institution_code, status, effective_from, reason, set_by, set_at
        from registry.institution_status_changes
        where institution_code = %s
        order by change_id
        """, (institution_code,))]


def periods(conn: psycopg.Connection, institution_code: str) -> list[StatusPeriod]:
    """The stretches of report dates the institution is suspended or closed, oldest first."""
    return [StatusPeriod(*row) for row in conn.execute(
        "select status, from_date, resumed_on from registry.institution_status_periods"
        " where institution_code = %s order by from_date", (institution_code,))]


def since(conn: psycopg.Connection, institution_code: str) -> tuple[str, date | None]:
    """The institution's status today and the first date of it (None: active since it joined)."""
    points = timeline(history(conn, institution_code))
    return points[-1] if points else (ACTIVE, None)
