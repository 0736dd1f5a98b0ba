"""Expected departments (the roster, `vte institutions roster`): what an institution is expected to report each day.

Each row of ``registry.expected_departments`` is a stretch: one campus and department expected from a report
date up to another (exclusive, open while it lasts), declared by an operator for the hospital (``add``) or
learned from the newest versions of its last complete month and confirmed (``learn``). ``close`` ends a
stretch from a date. Every change is a line of ``ops.admin_audit``. dbt reads the roster
(fct_department_completeness): a department expected on a day and absent from the day's newest version is
missing, not zero; a row of zeros is a reported zero. An institution without a roster is expected as a
whole only, as before.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import date, datetime

import psycopg

from vte.registry import RegistryError, audit
from vte.submission import report_today

DECLARED, LEARNED = "declared", "learned"


@dataclass(frozen=True)
class ExpectedDepartment:
    expected_department_id: int
    institution_code: str
    campus: str
    department_code: str
    department_name: str
    effective_from: date
    effective_to: date | None
    source: str
    reason: str
    confirmed_by: str
    confirmed_at: datetime
    close_reason: str | None = None

    def covers(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day < self.effective_to)


@dataclass(frozen=True)
class ProposedDepartment:
    campus: str
    department_code: str
    days_present: int  # days of the month the newest version had a row for it
    days_received: int  # days of the month a version arrived


@dataclass(frozen=True)
class Proposal:
    institution_code: str
    month: date  # its first day; learned stretches start on it
    departments: tuple[ProposedDepartment, ...]


def entries(conn: psycopg.Connection, institution_code: str) -> list[ExpectedDepartment]:
    """Every stretch of the institution's roster, by campus, department and date."""
    return [ExpectedDepartment(*row) for row in conn.execute(
        """
        select expected_department_id, institution_code, campus, department_code, department_name,
               effective_from, effective_to, source, reason, confirmed_by, confirmed_at, close_reason
        from registry.expected_departments
        where institution_code = %s
        order by campus, department_code, effective_from, expected_department_id
        """, (institution_code,))]


def _first_of_month(day: date) -> date:
    return day.replace(day=1)


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def parse_month(text: str) -> date:
    try:
        return datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise RegistryError(f"--month {text!r} is not a month: give it as yyyy-mm (月份格式应为 yyyy-mm)") from None


def propose(marts: psycopg.Connection, institution_code: str, month: date | None = None, *,
            today: date | None = None) -> Proposal:
    """The departments of the institution's newest versions in ``month`` (default: its last complete month, the
    newest ended month in which every expected day arrived), from the published marts."""
    this_month = _first_of_month(today or report_today())
    if month is None:
        row = marts.execute(
            """
            select max(period_start) from marts.fct_reporting_completeness
            where level = 'institution' and entity_code = %s and period_type = 'month'
                and period_start < %s and days_expected > 0 and days_missing = 0
            """, (institution_code, this_month)).fetchone()
        if row[0] is None:
            raise RegistryError(f"{institution_code} has no complete month published before {this_month:%Y-%m}:"
                                " give one with --month yyyy-mm, or declare departments with `roster add`"
                                " (无完整上报月份)")
        month = row[0]
    elif month >= this_month:
        raise RegistryError(f"--month {month:%Y-%m} has not ended: learn from an earlier month (月份尚未结束)")
    rows = marts.execute(
        """
        select campus, department_code, days_reported + days_reported_zero
        from marts.fct_department_completeness
        where institution_code = %s and period_type = 'month' and period_start = %s
            and days_reported + days_reported_zero > 0
        order by campus, department_code
        """, (institution_code, month)).fetchall()
    if not rows:
        raise RegistryError(f"{institution_code} has no published department rows in {month:%Y-%m}: choose a month"
                            " it reported with --month yyyy-mm (该月无上报科室)")
    received = marts.execute(
        """
        select days_received from marts.fct_reporting_completeness
        where level = 'institution' and entity_code = %s and period_type = 'month' and period_start = %s
        """, (institution_code, month)).fetchone()
    days_received = received[0] if received else 0
    return Proposal(institution_code, month,
                    tuple(ProposedDepartment(campus, dept, present, days_received) for campus, dept, present in rows))


def confirm(conn: psycopg.Connection, proposal: Proposal) -> list[ExpectedDepartment]:
    """Store a proposal as the institution's roster from the first day of its month (learned, audited). An
    institution that has a roster already is changed with ``add`` and ``close`` instead."""
    code = proposal.institution_code
    with conn.transaction():
        _lock_institution(conn, code)
        if conn.execute("select 1 from registry.expected_departments where institution_code = %s limit 1",
                        (code,)).fetchone():
            raise RegistryError(f"{code} has a roster already: change it with `vte institutions roster add|close`"
                                " (已有应报科室名单)")
        reason = f"learned from {proposal.month:%Y-%m}"
        ids = [_insert(conn, code, d.campus, d.department_code, d.department_code, proposal.month, LEARNED, reason)
               for d in proposal.departments]
        audit(conn, "institution.roster.learn", code, month=f"{proposal.month:%Y-%m}",
              effective_from=proposal.month.isoformat(), expected_department_ids=ids,
              departments=[[d.campus, d.department_code] for d in proposal.departments])
    return entries(conn, code)


def add(conn: psycopg.Connection, institution_code: str, campus: str, department_code: str, from_date: date,
        reason: str, name: str | None = None) -> ExpectedDepartment:
    """Expect the department from ``from_date`` on (declared, audited)."""
    campus, department_code, reason = campus.strip(), department_code.strip(), reason.strip()
    name = (name or "").strip() or department_code
    if not campus or not department_code:
        raise RegistryError("--campus and --department must not be empty (院区和科室不能为空)")
    if not reason:
        raise RegistryError("the reason is empty: say why (须填写原因)")
    with conn.transaction():
        _lock_institution(conn, institution_code)
        for stretch in _stretches(conn, institution_code, campus, department_code):
            if stretch.effective_to is None or stretch.effective_to > max(from_date, stretch.effective_from):
                until = stretch.effective_to.isoformat() if stretch.effective_to else "on"
                raise RegistryError(f"{campus}/{department_code} is expected already from"
                                    f" {stretch.effective_from.isoformat()} {until}: close it first, or add it from"
                                    " a later date (科室已在名单中)")
        new_id = _insert(conn, institution_code, campus, department_code, name, from_date, DECLARED, reason)
        audit(conn, "institution.roster.add", institution_code, campus=campus, department=department_code,
              department_name=name, effective_from=from_date.isoformat(), reason=reason,
              expected_department_id=new_id)
    return next(e for e in entries(conn, institution_code) if e.expected_department_id == new_id)


def close(conn: psycopg.Connection, institution_code: str, campus: str, department_code: str, from_date: date,
          reason: str) -> ExpectedDepartment:
    """No longer expect the department from ``from_date`` on (audited). Closed on its first date, the stretch is
    withdrawn: it was never expected."""
    campus, department_code, reason = campus.strip(), department_code.strip(), reason.strip()
    if not reason:
        raise RegistryError("the reason is empty: say why (须填写原因)")
    with conn.transaction():
        _lock_institution(conn, institution_code)
        open_stretch = next((s for s in _stretches(conn, institution_code, campus, department_code)
                             if s.effective_to is None), None)
        if open_stretch is None:
            raise RegistryError(f"{campus}/{department_code} is not on {institution_code}'s roster (or is closed"
                                " already): see `vte institutions roster show` (科室不在名单中)")
        if from_date < open_stretch.effective_from:
            raise RegistryError(f"--from {from_date.isoformat()} is before {campus}/{department_code} was expected"
                                f" ({open_stretch.effective_from.isoformat()}): close it on or after that date"
                                " (早于科室生效日期)")
        conn.execute(
            """
            update registry.expected_departments
            set effective_to = %s, closed_by = %s, closed_at = now(), close_reason = %s
            where expected_department_id = %s
            """, (from_date, getpass.getuser(), reason, open_stretch.expected_department_id))
        audit(conn, "institution.roster.close", institution_code, campus=campus, department=department_code,
              effective_to=from_date.isoformat(), reason=reason,
              expected_department_id=open_stretch.expected_department_id)
    return next(e for e in entries(conn, institution_code)
                if e.expected_department_id == open_stretch.expected_department_id)


def _lock_institution(conn: psycopg.Connection, institution_code: str) -> None:
    """The institution's registry row, locked so that two roster changes of it do not interleave."""
    if conn.execute("select 1 from registry.institutions where institution_code = %s for update",
                    (institution_code,)).fetchone() is None:
        raise RegistryError(f"institution {institution_code} is not registered (机构未注册)")


def _stretches(conn: psycopg.Connection, institution_code: str, campus: str,
               department_code: str) -> list[ExpectedDepartment]:
    return [e for e in entries(conn, institution_code) if e.campus == campus and e.department_code == department_code]


def _insert(conn: psycopg.Connection, institution_code: str, campus: str, department_code: str, name: str,
            from_date: date, source: str, reason: str) -> int:
    return conn.execute(
        """
        insert into registry.expected_departments
            (institution_code, campus, department_code, department_name, effective_from, source, reason,
             confirmed_by)
        values (%s, %s, %s, %s, %s, %s, %s, %s)
        returning expected_department_id
        """, (institution_code, campus, department_code, name, from_date, source, reason,
              getpass.getuser())).fetchone()[0]
