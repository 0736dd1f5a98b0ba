"""Accepting a month's data, DHIS2-style: each region accepts once every region under it has.

The units to accept for a month are the counties where an institution was expected to report on at least one
day of that month (joined by then, and not suspended or closed all month: registry.institution_status_periods)
and every division above them: a city, then the province (a county
directly under the province answers to the province). A unit accepts once all its required units below
have accepted; an accepted unit can be un-accepted by its own level until the level above accepts. The
province's acceptance locks the month (vte.review.locks). Every accept and un-accept is an event in
``review.approval_events``; the state of a unit is its newest event.

Who may act for which unit (a county reviewer for their county...) is decided by the caller: the console by
its user's role and region, `vte review` by the operator's access to the warehouse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import psycopg

from vte.review import locks

LEVELS = ("county", "city", "province")


class ReviewError(ValueError):
    """A refused accept or un-accept; the message says why (Chinese and English) and what to do."""


@dataclass(frozen=True)
class Unit:
    region_code: str
    region_name: str
    region_level: str
    parent_code: str | None
    institutions: int        # institutions expected to report in it that month
    accepted: bool
    actor: str | None
    acted_at: datetime | None


# The institutions with at least one report day of the month expected: on or after joining, and neither
# suspended nor closed (the same days fct_reporting_completeness expects).
EXPECTED_INSTITUTIONS = """
select institutions.institution_code, institutions.county_code
from registry.institutions
where exists (
    select 1
    from generate_series(greatest(institutions.joined_on, %(month)s::date), %(month_end)s::date, interval '1 day')
        as month_days (report_date)
    where not exists (
        select 1 from registry.institution_status_periods as periods
        where periods.institution_code = institutions.institution_code
            and periods.from_date <= month_days.report_date::date
            and (periods.resumed_on is null or month_days.report_date::date < periods.resumed_on)
    )
)
"""

UNITS = f"""
with recursive expected_institutions as (
    {EXPECTED_INSTITUTIONS.strip()}
),
required_counties as (
    select county_code as region_code, count(*) as institutions
    from expected_institutions
    group by county_code
),
required as (
    select regions.region_code, regions.parent_code, required_counties.institutions
    from registry.regions
    inner join required_counties on regions.region_code = required_counties.region_code
    union all
    select parents.region_code, parents.parent_code, required.institutions
    from registry.regions as parents
    inner join required on parents.region_code = required.parent_code
)
select regions.region_code, regions.region_name, regions.region_level, regions.parent_code,
       sum(required.institutions)::integer,
       coalesce(approvals.accepted, false), approvals.actor, approvals.acted_at
from required
inner join registry.regions on regions.region_code = required.region_code
left join review.approvals
    on approvals.region_code = regions.region_code and approvals.month = %(month)s
group by regions.region_code, regions.region_name, regions.region_level, regions.parent_code,
         approvals.accepted, approvals.actor, approvals.acted_at
order by regions.region_code
"""


def month_start(text_or_date: str | date) -> date:
    """``2026-03`` (or any date in it) -> 2026-03-01; a bad value is a ReviewError."""
    if isinstance(text_or_date, date):
        return text_or_date.replace(day=1)
    try:
        return datetime.strptime(text_or_date, "%Y-%m").date()
    except ValueError:
        raise ReviewError(f"month {text_or_date!r} is not YYYY-MM, e.g. 2026-03 (月份格式应为 YYYY-MM)") from None


def month_end(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def units(conn: psycopg.Connection, month: date) -> dict[str, Unit]:
    """Every unit that must accept ``month``, by region code."""
    return {row[0]: Unit(*row) for row in conn.execute(UNITS, {"month": month, "month_end": month_end(month)})}


def expected_institutions(conn: psycopg.Connection, month: date) -> set[str]:
    """The codes of the institutions expected to report on at least one day of ``month``."""
    return {row[0] for row in conn.execute(EXPECTED_INSTITUTIONS, {"month": month, "month_end": month_end(month)})}


def inside(all_units: dict[str, Unit], region_code: str) -> list[Unit]:
    """The units of ``all_units`` at or under ``region_code``, the region first."""
    found = [all_units[region_code]] if region_code in all_units else []
    frontier = {region_code}
    while frontier:
        below = [u for u in all_units.values() if u.parent_code in frontier]
        found += below
        frontier = {u.region_code for u in below}
    return found


def _serialise(conn: psycopg.Connection, month: date) -> None:
    # Two reviewers acting on the same month at once see each other's decision.
    conn.execute("select pg_advisory_xact_lock(hashtext('vte.review:' || %s::text))", (month,))


def _unit(conn: psycopg.Connection, month: date, region_code: str) -> tuple[Unit, dict[str, Unit]]:
    all_units = units(conn, month)
    if region_code not in all_units:
        known = conn.execute("select region_name from registry.regions where region_code = %s",
                             (region_code,)).fetchone()
        if known is None:
            raise ReviewError(f"region {region_code!r} is not a known GB/T 2260 code (未知的行政区划代码)")
        raise ReviewError(f"no institution reports in {region_code} {known[0]} for {month:%Y-%m}: nothing to accept"
                          f" (该地区 {month:%Y-%m} 无上报机构，无需审核)")
    return all_units[region_code], all_units


def accept(conn: psycopg.Connection, region_code: str, month: date, *, actor: str, comment: str | None = None,
           today: date | None = None) -> Unit:
    """Accept ``month`` for ``region_code``; the province's acceptance also locks the month."""
    today = today or locks.local_today()
    if today <= month_end(month):
        raise ReviewError(f"{month:%Y-%m} has not ended: a month is accepted after its last day"
                          f" ({month:%Y-%m} 尚未结束，月末之后才能审核)")
    with conn.transaction():
        _serialise(conn, month)
        _refuse_if_locked(conn, month)
        unit, all_units = _unit(conn, month, region_code)
        if unit.accepted:
            raise ReviewError(f"{unit.region_code} {unit.region_name} already accepted {month:%Y-%m}"
                              f" ({unit.actor}, {unit.acted_at:%Y-%m-%d %H:%M}) (已审核通过)")
        waiting = [u for u in all_units.values() if u.parent_code == region_code and not u.accepted]
        if waiting:
            names = ", ".join(f"{u.region_code} {u.region_name}" for u in waiting)
            raise ReviewError(f"{unit.region_code} {unit.region_name} cannot accept {month:%Y-%m} before {names}"
                              f" (下级尚未审核通过：{names})")
        _record(conn, unit, month, "accept", actor, comment)
        if unit.parent_code is None or unit.region_level == "province":
            locks.lock_month(conn, month, "province_accepted", actor)
    return units(conn, month)[region_code]


def unaccept(conn: psycopg.Connection, region_code: str, month: date, *, actor: str,
             comment: str | None = None) -> Unit:
    """Withdraw an acceptance, possible until the level above accepts (and never once the month is locked)."""
    with conn.transaction():
        _serialise(conn, month)
        _refuse_if_locked(conn, month)
        unit, all_units = _unit(conn, month, region_code)
        if not unit.accepted:
            raise ReviewError(f"{unit.region_code} {unit.region_name} has not accepted {month:%Y-%m}: nothing to"
                              f" withdraw (尚未审核通过，无可撤销)")
        parent = all_units.get(unit.parent_code) if unit.parent_code else None
        if parent is not None and parent.accepted:
            raise ReviewError(f"{parent.region_code} {parent.region_name} has accepted {month:%Y-%m} already: ask it"
                              f" to withdraw first (上级已审核通过，须上级先撤销)")
        _record(conn, unit, month, "unaccept", actor, comment)
    return units(conn, month)[region_code]


def _refuse_if_locked(conn: psycopg.Connection, month: date) -> None:
    lock = locks.month_lock(conn, month)
    if lock is not None:
        raise ReviewError(f"{month:%Y-%m} is locked ({lock.describe_en()}): its review is closed; corrections need"
                          f" a lock exception (`vte lock exception`) ({month:%Y-%m} 已锁定)")


def _record(conn, unit: Unit, month: date, action: str, actor: str, comment: str | None) -> None:
    conn.execute("insert into review.approval_events (region_code, region_level, month, action, actor, comment)"
                 " values (%s, %s, %s, %s, %s, %s)", (unit.region_code, unit.region_level, month, action, actor, comment))
