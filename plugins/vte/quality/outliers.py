"""Held-out outliers confirmed as real (`vte institutions outliers`): the way back into the indicators for a count
that really was far above the department's own history.

A count above median + held_out_z × scale of its department's recent days (outlier_rules seed) is held out of
the indicators: usually an interface fault, sometimes a real day (a mass-casualty event, a ward merged in).
The hospital cannot tell the platform so in a submission; it tells the data centre, which confirms the value
after asking. ``registry.confirmed_outliers`` keeps each confirmation (one value of one count of one
department-day; another version's other value is judged afresh) and ``ops.admin_audit`` a line; dbt then counts
the row, still flagged as a confirmed outlier (a warning), from the next publication on.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import date, datetime

import psycopg

from vte.registry import RegistryError, audit


@dataclass(frozen=True)
class PublishedOutlier:
    """A count outside its usual range in the published marts, held out or confirmed."""

    report_date: date
    campus: str
    department_code: str
    version: int
    field_name: str
    value: int
    usual_low: int
    usual_high: int
    median: float
    severity: str  # held_out | warning
    confirmed: bool


@dataclass(frozen=True)
class Confirmation:
    confirmed_outlier_id: int
    institution_code: str
    report_date: date
    campus: str
    department_code: str
    field_name: str
    field_value: int
    reason: str
    confirmed_by: str
    confirmed_at: datetime


# The published outliers of an institution in a range of report dates: those held out (fct_quarantined_rows)
# and those confirmed, counted and flagged (fct_warning_rows).
_PUBLISHED = """
    select rows.report_date, rows.hospital, rows.department, rows.version, o.field, o.value,
        o."usualLow", o."usualHigh", o.median, o.severity, coalesce(o.confirmed, false)
    from (
        select report_date, hospital, department, version, outliers from marts.fct_quarantined_rows
        where institution_code = %(code)s and report_date between %(first)s and %(last)s
        union all
        select report_date, hospital, department, version, outliers from marts.fct_warning_rows
        where institution_code = %(code)s and report_date between %(first)s and %(last)s
    ) as rows
    cross join lateral jsonb_to_recordset(rows.outliers) as o (
        field text, value bigint, "usualLow" bigint, "usualHigh" bigint, median numeric, severity text,
        confirmed boolean
    )
    where o.severity = 'held_out' or coalesce(o.confirmed, false)
    order by rows.report_date, rows.hospital, rows.department, o.field
"""


def published(marts: psycopg.Connection, institution_code: str, first: date, last: date) -> list[PublishedOutlier]:
    """The institution's held-out and confirmed outliers the current publication shows, oldest first."""
    rows = marts.execute(_PUBLISHED, {"code": institution_code, "first": first, "last": last}).fetchall()
    return [PublishedOutlier(r[0], r[1], r[2], r[3], r[4], int(r[5]), int(r[6]), int(r[7]), float(r[8]), r[9], r[10])
            for r in rows]


def confirm(conn: psycopg.Connection, held_out: PublishedOutlier, institution_code: str,
            reason: str) -> Confirmation:
    """Confirm a published held-out value as real (audited): the row counts from the next publication on."""
    reason = reason.strip()
    if not reason:
        raise RegistryError("the reason is empty: say who at the hospital confirmed it and what happened (须填写原因)")
    if held_out.severity != "held_out":
        raise RegistryError(f"{_name(held_out)} is not held out: nothing to confirm")
    with conn.transaction():
        row = conn.execute(
            "insert into registry.confirmed_outliers (institution_code, report_date, campus, department_code,"
            " field_name, field_value, reason, confirmed_by) values (%s, %s, %s, %s, %s, %s, %s, %s)"
            " on conflict do nothing returning confirmed_outlier_id, institution_code, report_date, campus,"
            " department_code, field_name, field_value, reason, confirmed_by, confirmed_at",
            (institution_code, held_out.report_date, held_out.campus, held_out.department_code, held_out.field_name,
             held_out.value, reason, getpass.getuser())).fetchone()
        if row is None:
            raise RegistryError(f"{_name(held_out)} = {held_out.value} is confirmed already: it counts from the next"
                                " publication (已确认)")
        audit(conn, "institution.outlier.confirm", institution_code, report_date=held_out.report_date.isoformat(),
              campus=held_out.campus, department=held_out.department_code, field=held_out.field_name,
              value=held_out.value, usual_range=[held_out.usual_low, held_out.usual_high], reason=reason,
              confirmed_outlier_id=row[0])
    return Confirmation(*row)


def find_held_out(found: list[PublishedOutlier], report_date: date, campus: str, department_code: str,
                  field_name: str) -> PublishedOutlier:
    """The one published outlier named, or a refusal that says what is there."""
    for outlier in found:
        if (outlier.report_date, outlier.campus, outlier.department_code, outlier.field_name) == \
                (report_date, campus, department_code, field_name):
            return outlier
    named = f"{report_date.isoformat()} {campus}/{department_code} {field_name}"
    raise RegistryError(f"the published marts hold no outlier {named}: `vte institutions outliers list` shows those"
                        " held out (未找到该异常值)")


def _name(outlier: PublishedOutlier) -> str:
    return f"{outlier.report_date.isoformat()} {outlier.campus}/{outlier.department_code} {outlier.field_name}"
