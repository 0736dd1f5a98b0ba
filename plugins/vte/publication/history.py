"""Every publication kept: the history of the indicator values, and what changed between two publications.

``history.indicator_values`` holds each value with the publications it was valid for
(``valid_from_publication`` up to, not including, ``valid_to_publication``). ``record`` runs inside the
publishing transaction, so the history always matches what analysts could read. A sliced publication
compares only the periods it replaced (vte.publication.scope): the cost of a day's publication does not
grow with the years of history. A complete one (the registry or the indicator definitions changed, or the
history is empty) compares every period, and so does the first publication after migration 017, which finds
current values recorded without their marks.

Each value keeps its marks as published: ``is_partial_period`` (its period not over, or its entity's expected
report days not all in) and ``is_small_denominator``. A mark that changes opens a new version of the value like
a changed number does. Values recorded before migration 017 have NULL marks: not recorded.

Analysts read it through ``marts.fct_indicator_values_history``; ``changes`` is what ``vte diff`` and the
restatement sheet of an extract show.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import psycopg
from psycopg.rows import dict_row

KEY = ("entity_key", "period_type", "period_start", "indicator_id")
VALUES = ("level", "entity_code", "entity_name", "campus", "department", "numerator", "denominator", "target",
          "rate", "meets_target", "rate_same_period_last_year", "is_partial_period", "is_small_denominator")
COLUMNS = (*KEY, *VALUES)

_ALL_PERIODS = """
create temporary table publication_periods on commit drop as
select distinct period_type, period_start from {schema}.fct_indicator_values
union
select distinct period_type, period_start from history.indicator_values where valid_to_publication is null
"""


def _same(left: str, right: str) -> str:
    # Keys are never NULL and compare with '=', so the planner can join on them; values may be NULL.
    return " and ".join([*(f"{left}.{c} = {right}.{c}" for c in KEY),
                         *(f"{left}.{c} is not distinct from {right}.{c}" for c in VALUES)])


def _compares_every_period(conn: psycopg.Connection) -> bool:
    """Whether the history is empty, or holds current values recorded without their marks (before migration 017):
    then a sliced publication compares every period, so each current value gets its marks once."""
    return conn.execute("""
        select not exists (select 1 from history.indicator_values)
            or exists (select 1 from history.indicator_values
                       where valid_to_publication is null and is_partial_period is null)""").fetchone()[0]


def record(conn: psycopg.Connection, publication_id: int, published: str = "marts", *, full: bool) -> dict:
    """Bring the history up to the publication just made in ``published``, inside its transaction: every period
    when ``full``, else the periods in the temporary table ``publication_periods`` (vte.publication.scope).
    Returns how many values were closed and opened, and how many periods were compared."""
    if full or _compares_every_period(conn):
        conn.execute("drop table if exists publication_periods")
        conn.execute(_ALL_PERIODS.format(schema=published))
    conn.execute(f"""
        create temporary table publication_values on commit drop as
        select {', '.join(f'facts.{c}' for c in COLUMNS)}
        from {published}.fct_indicator_values as facts
        inner join publication_periods using (period_type, period_start)""")
    conn.execute("create index on publication_values (period_type, period_start, entity_key, indicator_id)")
    closed = conn.execute(f"""
        update history.indicator_values as current_values
        set valid_to_publication = %(publication)s
        from publication_periods
        where current_values.valid_to_publication is null
            and current_values.period_type = publication_periods.period_type
            and current_values.period_start = publication_periods.period_start
            and not exists (
                select 1 from publication_values as new_values
                where {_same('new_values', 'current_values')})""",
                          {"publication": publication_id}).rowcount
    opened = conn.execute(f"""
        insert into history.indicator_values ({', '.join(COLUMNS)}, valid_from_publication)
        select {', '.join(f'new_values.{c}' for c in COLUMNS)}, %(publication)s
        from publication_values as new_values
        where not exists (
            select 1 from history.indicator_values as current_values
            where current_values.valid_to_publication is null
                and {_same('new_values', 'current_values')})""",
                          {"publication": publication_id}).rowcount
    periods = conn.execute("select count(*) from publication_periods").fetchone()[0]
    return {"closed": closed, "opened": opened, "periods_compared": periods}


# --- Reading the history ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Submission:
    institution_code: str
    report_date: date
    version: int
    received_at: datetime
    submission_id: str


@dataclass(frozen=True)
class Change:
    level: str
    entity_code: str
    entity_name: str | None
    campus: str | None
    department: str | None
    indicator_id: str
    old: tuple | None  # (numerator, denominator, rate) as of the earlier publication; None: no value then
    new: tuple | None  # the same as of the later one; None: no value any more
    submissions: tuple[Submission, ...]  # loaded between the two publications, for the value's institutions
    # The value's marks as of each publication; None: no value then, or recorded before the history kept them.
    old_partial: bool | None = None
    new_partial: bool | None = None
    old_small_denominator: bool | None = None
    new_small_denominator: bool | None = None


class HistoryError(LookupError):
    pass


def loaded_through(conn: psycopg.Connection, publication_id: int) -> datetime | None:
    row = conn.execute("select success, loaded_through from ops.publications where publication_id = %s",
                       (publication_id,)).fetchone()
    if row is None or not row[0]:
        raise HistoryError(f"publication {publication_id} is not a successful publication (see ops.publications)")
    return row[1]


# The entities within a region, as the published registry places them: the region and every level below it.
ENTITIES_IN_REGION = """
    with institutions as (
        select institution_code, county_code, city_code, province_code, community_name
        from marts.dim_institutions
        where %(region)s in (county_code, city_code, province_code)
    )
    select 'institution' as scope, institution_code as code from institutions
    union select 'county', county_code from institutions
    union select 'city', city_code from institutions where %(region)s in (city_code, province_code)
    union select 'province', province_code from institutions where %(region)s = province_code
    union select 'community', community_name from institutions where community_name is not null
"""

_CHANGES = f"""
    with region_entities as ({ENTITIES_IN_REGION}),
    scoped as (
        select history_values.*
        from history.indicator_values as history_values
        inner join region_entities
            on region_entities.code = history_values.entity_code
            and region_entities.scope = case when history_values.level in ('department', 'campus', 'institution')
                then 'institution' else history_values.level end
        where history_values.period_type = %(period_type)s and history_values.period_start = %(start)s
    ),
    old_values as (
        select * from scoped
        where valid_from_publication <= %(from)s and coalesce(valid_to_publication > %(from)s, true)
    ),
    new_values as (
        select * from scoped
        where valid_from_publication <= %(to)s and coalesce(valid_to_publication > %(to)s, true)
    )
    select coalesce(new_values.level, old_values.level) as level,
        coalesce(new_values.entity_code, old_values.entity_code) as entity_code,
        coalesce(new_values.entity_name, old_values.entity_name) as entity_name,
        coalesce(new_values.campus, old_values.campus) as campus,
        coalesce(new_values.department, old_values.department) as department,
        coalesce(new_values.indicator_id, old_values.indicator_id) as indicator_id,
        old_values.numerator as old_numerator, old_values.denominator as old_denominator,
        old_values.rate as old_rate, old_values.entity_key is not null as had_value,
        new_values.numerator as new_numerator, new_values.denominator as new_denominator,
        new_values.rate as new_rate, new_values.entity_key is not null as has_value,
        old_values.is_partial_period as old_partial, new_values.is_partial_period as new_partial,
        old_values.is_small_denominator as old_small_denominator,
        new_values.is_small_denominator as new_small_denominator
    from old_values
    full join new_values
        on old_values.entity_key = new_values.entity_key and old_values.indicator_id = new_values.indicator_id
    where (old_values.numerator, old_values.denominator, old_values.rate)
        is distinct from (new_values.numerator, new_values.denominator, new_values.rate)
    order by 1 desc, 2, 4 nulls first, 5 nulls first, 6
"""

# Submissions the later publication includes and the earlier does not, for the period's dates in the region.
_SUBMISSIONS = """
    select submissions.institution_code, submissions.report_date, submissions.version, submissions.received_at,
        submissions.submission_id::text, institutions.county_code, institutions.city_code,
        institutions.province_code, institutions.community_name
    from raw.submissions as submissions
    inner join marts.dim_institutions as institutions on institutions.institution_code = submissions.institution_code
    where submissions.report_date between %(start)s and %(end)s
        and submissions.loaded_at > coalesce(%(loaded_from)s, '-infinity'::timestamptz)
        and submissions.loaded_at <= %(loaded_to)s
        and %(region)s in (institutions.county_code, institutions.city_code, institutions.province_code)
    order by submissions.received_at, submissions.institution_code, submissions.report_date
"""


def changes(conn: psycopg.Connection, *, period_type: str, start: date, end: date, region: str, from_publication: int,
            to_publication: int) -> list[Change]:
    """Every indicator value of the period in the region whose numbers differ between two publications, with
    its marks as of each and the submissions (loaded after the earlier, up to the later) of the institutions it
    sums. A value whose marks alone changed (its period became complete with no count moving) is no
    restatement and is not listed."""
    loaded_from, loaded_to = loaded_through(conn, from_publication), loaded_through(conn, to_publication)
    params = {"region": region, "period_type": period_type, "start": start, "end": end,
              "from": from_publication, "to": to_publication, "loaded_from": loaded_from, "loaded_to": loaded_to}
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(_CHANGES, params).fetchall()
        arrived = cur.execute(_SUBMISSIONS, params).fetchall() if loaded_to is not None else []
    found = []
    for row in rows:
        mine = tuple(Submission(s["institution_code"], s["report_date"], s["version"], s["received_at"],
                                s["submission_id"]) for s in arrived if _sums(row, s))
        found.append(Change(
            row["level"], row["entity_code"], row["entity_name"], row["campus"], row["department"], row["indicator_id"],
            (row["old_numerator"], row["old_denominator"], row["old_rate"]) if row["had_value"] else None,
            (row["new_numerator"], row["new_denominator"], row["new_rate"]) if row["has_value"] else None, mine,
            row["old_partial"], row["new_partial"], row["old_small_denominator"], row["new_small_denominator"]))
    return found


def _sums(change: dict, submission: dict) -> bool:
    """Whether the value of ``change`` sums rows of the submission's institution."""
    level, code = change["level"], change["entity_code"]
    if level in ("department", "campus", "institution"):
        return submission["institution_code"] == code
    return submission[{"county": "county_code", "city": "city_code", "province": "province_code",
                       "community": "community_name"}[level]] == code
