"""Collection monitoring: what arrived for each institution and day, read live from raw and the intake's log.

Each expected day of each institution (from its joined_on, except the days it is suspended or closed:
registry.institution_status_periods) is one of:

- ``on_time``: a version arrived by the end of D+1 (Asia/Shanghai), as int_report_days_summarized decides;
- ``late``: the first version arrived after that;
- ``refused``: no version, but the intake refused requests for it;
- ``pending``: nothing yet, and D+1 has not ended;
- ``missing``: nothing, and D+1 has ended.

Days with rows held out of the published indicators (marts.fct_quarantined_rows: a broken quarantine rule
or an implausible count) are flagged besides. The intake records a refused request's report date only once
its content was valid; a refusal made before that counts for the day before it was sent, since day D is sent
on D+1.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import psycopg
from psycopg.rows import class_row

STATUSES = ("refused", "missing", "late", "pending", "on_time")  # the worst first

SCOPE = """
with scope as (
    select institutions.institution_code, institutions.institution_name, institutions.county_code,
           counties.region_name as county_name, institutions.joined_on,
           -- the division right under the region shown: a city under the province, a county under a city
           case when counties.parent_code = %(region)s or counties.region_code = %(region)s
                then counties.region_code else counties.parent_code end as child_code
    from registry.institutions
    inner join registry.regions as counties on institutions.county_code = counties.region_code
    where institutions.county_code in (select access.regions_inside(%(region)s))
        and (%(institution)s::text is null or institutions.institution_code = %(institution)s::text)
        -- an institution closed before the dates shown has nothing to show; one closed later, its days before
        and not exists (
            select 1 from registry.institution_status_periods as periods
            where periods.institution_code = institutions.institution_code and periods.status = 'closed'
                and periods.from_date <= %(start)s::date
                and (periods.resumed_on is null or periods.resumed_on > %(end)s::date)
        )
),
"""

DAY_STATUSES = """
expected as (
    select scope.institution_code, expected_day::date as report_date
    from scope
    cross join generate_series(greatest(scope.joined_on, %(start)s::date), %(end)s::date, interval '1 day')
        as expected_day
    where not exists (
        select 1 from registry.institution_status_periods as periods
        where periods.institution_code = scope.institution_code
            and periods.from_date <= expected_day::date
            and (periods.resumed_on is null or expected_day::date < periods.resumed_on)
    )
),
received as (
    select submissions.institution_code, submissions.report_date, count(*) as versions,
           min(submissions.received_at) as first_received_at, max(submissions.received_at) as last_received_at
    from raw.submissions
    inner join scope on submissions.institution_code = scope.institution_code
    where submissions.report_date between %(start)s and %(end)s
    group by submissions.institution_code, submissions.report_date
),
refusals as (
    select intake_requests.institution_code, intake_requests.report_date
    from ops.intake_requests
    inner join scope on intake_requests.institution_code = scope.institution_code
    where intake_requests.outcome = 'refused' and not intake_requests.dry_run
        and intake_requests.report_date between %(start)s and %(end)s
    union all
    select intake_requests.institution_code, (intake_requests.requested_at at time zone 'Asia/Shanghai')::date - 1
    from ops.intake_requests
    inner join scope on intake_requests.institution_code = scope.institution_code
    where intake_requests.outcome = 'refused' and not intake_requests.dry_run and intake_requests.report_date is null
        and intake_requests.requested_at >= (%(start)s::date + 1)::timestamp at time zone 'Asia/Shanghai'
        and intake_requests.requested_at < (%(end)s::date + 2)::timestamp at time zone 'Asia/Shanghai'
),
refused as (
    select refusals.institution_code, refusals.report_date, count(*) as refusals
    from refusals
    group by refusals.institution_code, refusals.report_date
),
{held_out},
day_statuses as (
    select
        expected.institution_code,
        expected.report_date,
        case
            when received.report_date is null and refused.refusals > 0 then 'refused'
            when received.report_date is null
                and now() < (expected.report_date + 2)::timestamp at time zone 'Asia/Shanghai' then 'pending'
            when received.report_date is null then 'missing'
            when received.first_received_at >= (expected.report_date + 2)::timestamp at time zone 'Asia/Shanghai'
                then 'late'
            else 'on_time'
        end as status,
        coalesce(received.versions, 0) as versions,
        received.last_received_at,
        coalesce(refused.refusals, 0) as refusals,
        coalesce(held_out.held_out_rows, 0) as held_out_rows
    from expected
    left join received
        on expected.institution_code = received.institution_code and expected.report_date = received.report_date
    left join refused
        on expected.institution_code = refused.institution_code and expected.report_date = refused.report_date
    left join held_out
        on expected.institution_code = held_out.institution_code and expected.report_date = held_out.report_date
)
"""

HELD_OUT = """held_out as (
    select fct_quarantined_rows.institution_code, fct_quarantined_rows.report_date, count(*) as held_out_rows
    from marts.fct_quarantined_rows
    inner join scope on fct_quarantined_rows.institution_code = scope.institution_code
    where fct_quarantined_rows.report_date between %(start)s and %(end)s
    group by fct_quarantined_rows.institution_code, fct_quarantined_rows.report_date
)"""
# Before the first publication there is nothing held out to show.
NOTHING_HELD_OUT = """held_out as (
    select null::text as institution_code, null::date as report_date, 0 as held_out_rows where false
)"""

INSTITUTION_SUMMARIES = """
select
    scope.institution_code, scope.institution_name, scope.county_code, scope.county_name, scope.child_code,
    count(day_statuses.report_date)::integer as days_expected,
    count(*) filter (where day_statuses.status = 'on_time')::integer as on_time,
    count(*) filter (where day_statuses.status = 'late')::integer as late,
    count(*) filter (where day_statuses.status = 'missing')::integer as missing,
    count(*) filter (where day_statuses.status = 'refused')::integer as refused,
    count(*) filter (where day_statuses.status = 'pending')::integer as pending,
    count(*) filter (where day_statuses.held_out_rows > 0)::integer as days_held_out,
    coalesce(sum(day_statuses.versions), 0)::integer as versions,
    coalesce(sum(day_statuses.refusals), 0)::integer as refusals,
    max(day_statuses.last_received_at) as last_received_at
from scope
left join day_statuses on scope.institution_code = day_statuses.institution_code
group by scope.institution_code, scope.institution_name, scope.county_code, scope.county_name, scope.child_code
order by scope.institution_code
"""

DAYS = """
select day_statuses.report_date, count(*)::integer as expected,
       count(*) filter (where day_statuses.status in ('on_time', 'late'))::integer as received,
       count(*) filter (where day_statuses.status = 'on_time')::integer as on_time
from day_statuses
group by day_statuses.report_date
order by day_statuses.report_date
"""

INSTITUTION_DAYS = """
select day_statuses.report_date, day_statuses.status, day_statuses.versions, day_statuses.refusals,
       day_statuses.held_out_rows
from day_statuses
order by day_statuses.report_date
"""


@dataclass(frozen=True)
class InstitutionSummary:
    institution_code: str
    institution_name: str
    county_code: str
    county_name: str
    child_code: str
    days_expected: int
    on_time: int
    late: int
    missing: int
    refused: int
    pending: int
    days_held_out: int
    versions: int
    refusals: int
    last_received_at: datetime | None

    @property
    def status(self) -> str:
        """The worst status of its days (one day: that day's); ``not_expected`` when none was expected (before it
        joined, suspended, closed)."""
        if not self.days_expected:
            return "not_expected"
        return next(s for s in STATUSES if getattr(self, s))


@dataclass(frozen=True)
class Day:
    report_date: date
    expected: int
    received: int
    on_time: int


@dataclass(frozen=True)
class InstitutionDay:
    report_date: date
    status: str
    versions: int
    refusals: int
    held_out_rows: int


@dataclass(frozen=True)
class Version:
    report_date: date
    version: int
    channel: str
    received_at: datetime
    row_count: int
    after_deadline: bool


@dataclass(frozen=True)
class Refusal:
    requested_at: datetime
    report_date: date | None
    endpoint: str
    code: int | None
    http_status: int
    problem_count: int | None


@dataclass(frozen=True)
class HeldOutRow:
    report_date: date
    hospital: str
    department: str
    version: int
    quarantine_rule_ids: list[str]
    implausible_fields: list[str]
    outlier_held_out_fields: list[str]


@dataclass(frozen=True)
class DepartmentMonth:
    """One department of an institution's month as fct_department_completeness published it."""
    campus: str
    department_code: str
    department_name: str | None
    has_roster: bool
    is_on_roster: bool
    days_expected: int | None
    days_reported: int
    days_reported_zero: int
    days_missing: int | None
    missing_dates: list[date]
    reported_zero_dates: list[date]


def has_published(conn: psycopg.Connection) -> bool:
    return conn.execute("select to_regclass('marts.fct_quarantined_rows') is not null").fetchone()[0]


def _day_statuses(conn: psycopg.Connection) -> str:
    return SCOPE + DAY_STATUSES.format(held_out=HELD_OUT if has_published(conn) else NOTHING_HELD_OUT)


def _params(region: str, start: date, end: date, institution: str | None = None) -> dict:
    return {"region": region, "start": start, "end": end, "institution": institution}


def institution_summaries(conn: psycopg.Connection, region: str, start: date, end: date) -> list[InstitutionSummary]:
    """Each institution inside ``region``: its days from ``start`` to ``end`` counted by status."""
    with conn.cursor(row_factory=class_row(InstitutionSummary)) as cur:
        return cur.execute(_day_statuses(conn) + INSTITUTION_SUMMARIES, _params(region, start, end)).fetchall()


def days(conn: psycopg.Connection, region: str, start: date, end: date) -> list[Day]:
    """Institutions expected and received on each day inside ``region``."""
    with conn.cursor(row_factory=class_row(Day)) as cur:
        return cur.execute(_day_statuses(conn) + DAYS, _params(region, start, end)).fetchall()


def institution_days(conn: psycopg.Connection, region: str, institution: str, start: date,
                     end: date) -> list[InstitutionDay]:
    with conn.cursor(row_factory=class_row(InstitutionDay)) as cur:
        return cur.execute(_day_statuses(conn) + INSTITUTION_DAYS, _params(region, start, end, institution)).fetchall()


def versions(conn: psycopg.Connection, institution: str, start: date, end: date) -> list[Version]:
    with conn.cursor(row_factory=class_row(Version)) as cur:
        return cur.execute(
            "select report_date, version, channel, received_at, row_count,"
            " received_at >= (report_date + 2)::timestamp at time zone 'Asia/Shanghai' as after_deadline"
            " from raw.submissions where institution_code = %s and report_date between %s and %s"
            " order by report_date desc, version desc", (institution, start, end)).fetchall()


def refusals(conn: psycopg.Connection, institution: str, start: date, end: date) -> list[Refusal]:
    with conn.cursor(row_factory=class_row(Refusal)) as cur:
        return cur.execute(
            "select requested_at, report_date, endpoint, code, http_status, problem_count from ops.intake_requests"
            " where institution_code = %(institution)s and outcome = 'refused' and not dry_run"
            " and (report_date between %(start)s and %(end)s"
            "  or (report_date is null"
            "   and requested_at >= (%(start)s::date + 1)::timestamp at time zone 'Asia/Shanghai'"
            "   and requested_at < (%(end)s::date + 2)::timestamp at time zone 'Asia/Shanghai'))"
            " order by requested_at desc",
            {"institution": institution, "start": start, "end": end}).fetchall()


def held_out_rows(conn: psycopg.Connection, institution: str, start: date, end: date) -> list[HeldOutRow]:
    if not has_published(conn):
        return []
    with conn.cursor(row_factory=class_row(HeldOutRow)) as cur:
        return cur.execute(
            "select report_date, hospital, department, version, quarantine_rule_ids, implausible_fields,"
            " outlier_held_out_fields"
            " from marts.fct_quarantined_rows where institution_code = %s and report_date between %s and %s"
            " order by report_date desc, hospital, department", (institution, start, end)).fetchall()


def department_months(conn: psycopg.Connection, institution: str, month: date) -> list[DepartmentMonth]:
    """The institution's departments in the month: with a roster, which were missing on which day (never read
    as zero) and which stated zeros."""
    if not conn.execute("select to_regclass('marts.fct_department_completeness') is not null").fetchone()[0]:
        return []
    with conn.cursor(row_factory=class_row(DepartmentMonth)) as cur:
        return cur.execute(
            "select campus, department_code, department_name, has_roster, is_on_roster, days_expected,"
            " days_reported, days_reported_zero, days_missing, missing_dates, reported_zero_dates"
            " from marts.fct_department_completeness where institution_code = %s and period_type = 'month'"
            " and period_start = %s order by campus, department_code", (institution, month)).fetchall()
