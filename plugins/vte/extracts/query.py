"""Read what an extract shows from the published marts, all from one publication.

Every read happens in one transaction that first takes a share lock on the marts tables it reads. A
publication swaps schemas by renaming and then drops the old tables, which needs an exclusive lock: so
while an extract reads, a new publication cannot complete, and the publication recorded in
``ops.publications`` is the one whose tables were read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg.rows import dict_row

from vte import domain
from vte.extracts.periods import Period, trailing_months
from vte.publication.publish import current_publication

MARTS_SCHEMA = "marts"
READ_TABLES = ("dim_indicators", "dim_institutions", "dim_regions", "fct_indicator_changes",
               "fct_department_completeness", "fct_institution_funnel", "fct_institution_ranking",
               "fct_reporting_completeness", "fct_submission_counts")
TREND_MONTHS = 12


class ExtractDataError(LookupError):
    pass


class RegionError(ExtractDataError):
    pass


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    level: str  # province | city | county


@dataclass(frozen=True)
class PublicationRef:
    publication_id: int
    run_id: str
    published_at: datetime


@dataclass(frozen=True)
class Snapshot:
    """Everything one extract shows, each table a list of rows keyed by column name."""

    publication: PublicationRef
    region: Region
    period: Period
    submissions: dict
    overview: list[dict]
    institutions: list[dict]
    counties: list[dict]
    ranking: list[dict]
    completeness: list[dict]
    data_quality: list[dict]
    trend: list[dict]
    target_indicators: list[dict]
    # The region's institutions against its rate with the control limits (fct_institution_funnel); empty in the
    # inputs of revisions written before the funnel existed.
    funnel: list[dict] = field(default_factory=list)
    # Added with inputs format 3 (empty when reading older inputs): the region's cities (a province's extract),
    # each indicator against the previous period and the same period last year, and the consistency rules the
    # data-quality sheet names, as the domain defined them when the extract was made.
    cities: list[dict] = field(default_factory=list)
    comparison: list[dict] = field(default_factory=list)
    rules: list[dict] = field(default_factory=list)
    # Added with inputs format 4 (None when reading older inputs, whose workbooks have no department sheet): the
    # departments on the region's institutions' rosters that missed days, stated zeros or were not expected.
    department_completeness: list[dict] | None = None


# Institutions of the region that had joined by the end of the period.
_REGION_INSTITUTIONS = """
    select institution_code, institution_name, county_code, county_name
    from marts.dim_institutions
    where %(region)s in (county_code, city_code, province_code) and coalesce(joined_on, %(end)s) <= %(end)s
"""

_INDICATOR_COLUMNS = """
    dim_indicators.indicator_id,
    dim_indicators.name_zh,
    dim_indicators.name_en,
    dim_indicators.is_supplementary,
    indicator_values.numerator,
    indicator_values.denominator,
    indicator_values.rate,
    dim_indicators.target_rate as target,
    indicator_values.meets_target,
    indicator_values.rate_same_period_last_year,
    indicator_values.change_last_year_pp as change_pp,
    indicator_values.is_partial_period,
    indicator_values.is_small_denominator
"""

_OVERVIEW = f"""
    select {_INDICATOR_COLUMNS}
    from marts.dim_indicators
    left join extract_indicator_values as indicator_values
        on indicator_values.indicator_id = dim_indicators.indicator_id
        and indicator_values.level = %(level)s and indicator_values.entity_code = %(region)s
        and indicator_values.period_type = %(period_type)s and indicator_values.period_start = %(start)s
    order by dim_indicators.is_supplementary, dim_indicators.indicator_id
"""

_BY_INSTITUTION = f"""
    with institutions as ({_REGION_INSTITUTIONS})
    select institutions.institution_code, institutions.institution_name, institutions.county_name,
        {_INDICATOR_COLUMNS}
    from institutions
    cross join marts.dim_indicators
    left join extract_indicator_values as indicator_values
        on indicator_values.indicator_id = dim_indicators.indicator_id
        and indicator_values.level = 'institution' and indicator_values.entity_code = institutions.institution_code
        and indicator_values.period_type = %(period_type)s and indicator_values.period_start = %(start)s
    order by institutions.institution_code, dim_indicators.is_supplementary, dim_indicators.indicator_id
"""

_BY_COUNTY = f"""
    with counties as (
        select distinct county_code, county_name from ({_REGION_INSTITUTIONS}) as institutions
    )
    select counties.county_code, counties.county_name, {_INDICATOR_COLUMNS}
    from counties
    cross join marts.dim_indicators
    left join extract_indicator_values as indicator_values
        on indicator_values.indicator_id = dim_indicators.indicator_id
        and indicator_values.level = 'county' and indicator_values.entity_code = counties.county_code
        and indicator_values.period_type = %(period_type)s and indicator_values.period_start = %(start)s
    order by counties.county_code, dim_indicators.is_supplementary, dim_indicators.indicator_id
"""

_BY_CITY = f"""
    with cities as (
        select distinct dim_institutions.city_code, dim_regions.region_name as city_name
        from ({_REGION_INSTITUTIONS}) as institutions
        inner join marts.dim_institutions on dim_institutions.institution_code = institutions.institution_code
        inner join marts.dim_regions on dim_regions.region_code = dim_institutions.city_code
        where %(level)s = 'province'
    )
    select cities.city_code, cities.city_name, {_INDICATOR_COLUMNS}
    from cities
    cross join marts.dim_indicators
    left join extract_indicator_values as indicator_values
        on indicator_values.indicator_id = dim_indicators.indicator_id
        and indicator_values.level = 'city' and indicator_values.entity_code = cities.city_code
        and indicator_values.period_type = %(period_type)s and indicator_values.period_start = %(start)s
    order by cities.city_code, dim_indicators.is_supplementary, dim_indicators.indicator_id
"""

# The region's value of each indicator beside the previous period's and the same period last year's, compared
# by dbt (fct_indicator_changes); a year's previous period is the year before, which the sheet shows once.
_COMPARISON = """
    select dim_indicators.indicator_id, dim_indicators.name_zh, dim_indicators.name_en,
        dim_indicators.is_supplementary, dim_indicators.target_rate as target, dim_indicators.higher_is_better,
        indicator_values.rate_same_period_last_year,
        indicator_values.rate_previous_period,
        indicator_values.rate,
        indicator_values.meets_target,
        indicator_values.change_previous_pp,
        indicator_values.change_last_year_pp
    from marts.dim_indicators
    left join extract_indicator_values as indicator_values
        on indicator_values.indicator_id = dim_indicators.indicator_id
        and indicator_values.level = %(level)s and indicator_values.entity_code = %(region)s
        and indicator_values.period_type = %(period_type)s and indicator_values.period_start = %(start)s
    order by dim_indicators.is_supplementary, dim_indicators.indicator_id
"""

# Institutions compared fairly, ranked in the region by dbt (fct_institution_ranking: funnel position, then
# rate); an institution without a rate (denominator 0) is listed last, unranked.
_RANKING = """
    select ranking.indicator_id, dim_indicators.name_zh, ranking.higher_is_better, ranking.region_rank as rank,
        ranking.institution_code, ranking.institution_name, ranking.numerator, ranking.denominator, ranking.rate,
        ranking.target, ranking.meets_target, ranking.funnel_flag, ranking.regional_rate, ranking.lower_95_limit,
        ranking.upper_95_limit, ranking.is_small_denominator, ranking.is_partial_period
    from marts.fct_institution_ranking as ranking
    inner join marts.dim_indicators on dim_indicators.indicator_id = ranking.indicator_id
    where ranking.region_level = %(level)s and ranking.region_code = %(region)s
        and ranking.period_type = %(period_type)s and ranking.period_start = %(start)s
    order by ranking.indicator_id, ranking.region_rank nulls last, ranking.institution_code
"""

# The funnel plot's points and limits: the region's institutions on each target indicator, by denominator.
_FUNNEL = f"""
    with institutions as ({_REGION_INSTITUTIONS})
    select funnel.indicator_id, dim_indicators.name_zh, dim_indicators.higher_is_better,
        funnel.institution_code, funnel.institution_name, funnel.numerator, funnel.denominator, funnel.rate,
        funnel.regional_rate, funnel.lower_998_limit, funnel.lower_95_limit, funnel.upper_95_limit,
        funnel.upper_998_limit, funnel.funnel_flag, funnel.is_small_denominator, funnel.is_partial_period
    from marts.fct_institution_funnel as funnel
    inner join marts.dim_indicators on dim_indicators.indicator_id = funnel.indicator_id
    where funnel.region_level = %(level)s and funnel.region_code = %(region)s
        and funnel.period_type = %(period_type)s and funnel.period_start = %(start)s
        and funnel.institution_code in (select institution_code from institutions)
    order by funnel.indicator_id, funnel.denominator, funnel.institution_code
"""

_COMPLETENESS = f"""
    with institutions as ({_REGION_INSTITUTIONS})
    select completeness.level, completeness.entity_code, completeness.entity_name,
        completeness.days_expected, completeness.days_received, completeness.days_late,
        completeness.days_missing, completeness.completeness_rate, completeness.timeliness_rate,
        completeness.missing_dates
    from marts.fct_reporting_completeness as completeness
    where completeness.period_type = %(period_type)s and completeness.period_start = %(start)s
        and ((completeness.level = %(level)s and completeness.entity_code = %(region)s)
             or (completeness.level = 'institution'
                 and completeness.entity_code in (select institution_code from institutions)))
    order by completeness.level = 'institution', completeness.entity_code
"""

# The departments of the region's institutions worth a line: with a roster for the period, those that missed
# a day, stated a zero or sent rows on days it was not expected (fct_department_completeness). A department
# that reported every expected day is not listed: the institution's line in the completeness sheet covers it.
_DEPARTMENT_COMPLETENESS = f"""
    with institutions as ({_REGION_INSTITUTIONS})
    select departments.institution_code, institutions.institution_name, departments.campus,
        departments.department_code, departments.department_name, departments.is_on_roster,
        departments.days_expected, departments.days_reported, departments.days_reported_zero,
        departments.days_missing, departments.days_not_expected, departments.completeness_rate,
        departments.missing_dates, departments.reported_zero_dates
    from marts.fct_department_completeness as departments
    inner join institutions on institutions.institution_code = departments.institution_code
    where departments.period_type = %(period_type)s and departments.period_start = %(start)s
        and departments.has_roster
        and (departments.days_missing > 0 or departments.days_reported_zero > 0 or departments.days_not_expected > 0)
    order by departments.institution_code, departments.campus, departments.department_code
"""

# Held-out and warned rows of each of the region's institutions (those joined by the end of the period), counted
# by dbt (fct_submission_counts).
_DATA_QUALITY = """
    select entity_code as institution_code, entity_name as institution_name,
        quarantined_department_rows as quarantined_rows, quarantined_days, quarantine_rule_ids as quarantine_rules,
        warning_department_rows as warning_rows, warning_days, warning_rule_ids as warning_rules
    from marts.fct_submission_counts
    where level = 'institution' and period_type = %(period_type)s and period_start = %(start)s
        and entity_code in (select institution_code from marts.dim_institutions
                            where %(region)s in (county_code, city_code, province_code))
    order by entity_code
"""

# The indicator values (institutions and regions, each beside its previous period and last year); one scan
# keeps what this extract shows: the period's institutions and regions, and the region's months of the trend.
_EXTRACT_INDICATOR_VALUES = """
    create temporary table extract_indicator_values on commit drop as
    select * from marts.fct_indicator_changes
    where (period_type = %(period_type)s and period_start = %(start)s
           and level in ('institution', 'county', 'city', 'province'))
        or (level = %(level)s and entity_code = %(region)s and period_type = 'month'
            and period_start = any(%(months)s))
"""

_TARGET_INDICATORS = """
    select indicator_id, name_zh, name_en, target_rate as target, higher_is_better
    from marts.dim_indicators where target_rate is not null order by indicator_id
"""

_TREND = """
    select indicator_values.period_start as month_start, indicator_values.indicator_id, indicator_values.rate,
        indicator_values.is_partial_period, indicator_values.is_small_denominator
    from extract_indicator_values as indicator_values
    inner join marts.dim_indicators on dim_indicators.indicator_id = indicator_values.indicator_id
    where indicator_values.level = %(level)s and indicator_values.entity_code = %(region)s
        and indicator_values.period_type = 'month' and indicator_values.period_start = any(%(months)s)
        and dim_indicators.target_rate is not null
"""

# The region's current submissions and their rows, counted by dbt (fct_submission_counts): the rows the
# indicators count are the current versions' published rows; a submission whose every row is quarantined is
# current but counted in no indicator.
_SUBMISSIONS = """
    select current_submissions, counted_submissions, institution_days, counted_department_rows,
        quarantined_department_rows, newest_received_at
    from marts.fct_submission_counts
    where level = %(level)s and entity_code = %(region)s
        and period_type = %(period_type)s and period_start = %(start)s
"""


def _require_published(conn: psycopg.Connection) -> None:
    exists = conn.execute("select 1 from pg_namespace where nspname = %s", (MARTS_SCHEMA,)).fetchone()
    if not exists:
        raise ExtractDataError("the marts have never been published: run the pipeline (vte pipeline run) first")


def _lock_published_tables(conn: psycopg.Connection) -> None:
    _require_published(conn)
    tables = ", ".join(f"{MARTS_SCHEMA}.{table}" for table in READ_TABLES)
    conn.execute(f"lock table {tables} in access share mode")


def check_region_code(code: str | None) -> None:
    if not re.fullmatch(r"\d{6}", code or ""):
        raise RegionError(f"region {code!r} is not a six-digit GB/T 2260 code (e.g. 330000, 330300)")


def find_region(conn: psycopg.Connection, code: str) -> Region:
    """The province, city or county with GB/T 2260 code ``code`` in the published marts."""
    check_region_code(code)
    row = conn.execute(
        f"select region_code, region_name, region_level from {MARTS_SCHEMA}.dim_regions where region_code = %s",
        (code,)).fetchone()
    if row is None:
        raise RegionError(f"region {code} is not a division in the published marts (dim_regions)")
    return Region(*row)


def default_region(conn: psycopg.Connection) -> Region:
    """The province the registered institutions belong to."""
    rows = conn.execute(f"select distinct province_code from {MARTS_SCHEMA}.dim_institutions").fetchall()
    if len(rows) != 1:
        raise RegionError(f"the published institutions belong to {len(rows)} provinces: name one with --region")
    return find_region(conn, rows[0][0])


def resolve_region(conn: psycopg.Connection, code: str | None) -> Region:
    """The region named by ``code``, or the province when there is none."""
    if code:
        check_region_code(code)
    _require_published(conn)
    return find_region(conn, code) if code else default_region(conn)


def reporting_cities(conn: psycopg.Connection, period: Period) -> list[str]:
    """Codes of the cities with published indicator values for the period."""
    return [r[0] for r in conn.execute(
        f"select distinct entity_code from {MARTS_SCHEMA}.fct_indicator_values"
        " where level = 'city' and period_type = %s and period_start = %s order by 1",
        (period.period_type, period.start))]


def _trend(conn, params: dict, targets: list[dict]) -> list[dict]:
    """One row a month: each target indicator's rate, whether the month is partial, and the indicators whose
    denominator is small."""
    months = params["months"]
    found = {(r["month_start"], r["indicator_id"]): r for r in conn.execute(_TREND, params).fetchall()}
    rows = []
    for m in months:
        values = [found.get((m, t["indicator_id"])) for t in targets]
        rows.append({"month": f"{m:%Y-%m}",
                     **{t["indicator_id"]: v and v["rate"] for t, v in zip(targets, values)},
                     "is_partial_period": any(v["is_partial_period"] for v in values if v),
                     "small_denominators": [t["indicator_id"] for t, v in zip(targets, values)
                                            if v and v["is_small_denominator"]]})
    return rows


def _rules(data_quality: list[dict]) -> list[dict]:
    """The consistency rules the data-quality rows name, described as the domain defines them."""
    named = {rule for row in data_quality for rule in (*row["quarantine_rules"], *row["warning_rules"])}
    return [{"rule_id": r.rule_id, "severity": r.severity, "description_zh": r.describe_zh(),
             "description_en": r.describe_en()} for r in domain.rules() if r.rule_id in named]


def read_snapshot(conn: psycopg.Connection, period: Period, region_code: str | None) -> Snapshot:
    """Read one extract's tables from the published marts, consistently from one publication."""
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        _lock_published_tables(conn)
        publication = current_publication(conn)
        if publication is None:
            raise ExtractDataError("no publication of the marts is recorded in ops.publications")
        region = find_region(conn, region_code) if region_code else default_region(conn)
        params = {"region": region.code, "level": region.level, "period_type": period.period_type,
                  "start": period.start, "end": period.end, "months": trailing_months(period.end, TREND_MONTHS)}
        conn.execute(_EXTRACT_INDICATOR_VALUES, params)

        def rows(query: str) -> list[dict]:
            return cur.execute(query, params).fetchall()

        targets = rows(_TARGET_INDICATORS)
        overview = rows(_OVERVIEW)
        if all(r["denominator"] is None for r in overview):
            raise ExtractDataError(f"the published marts have no indicator values for {period.label} "
                                   f"in {region.code} {region.name}")
        data_quality = rows(_DATA_QUALITY)
        submissions = rows(_SUBMISSIONS)
        if not submissions:
            raise ExtractDataError(f"the published marts count no submissions for {period.label} in {region.code} "
                                   f"{region.name} (fct_submission_counts): publish everything once (vte_transform"
                                   " with {\"publish_all\": true})")
        return Snapshot(
            publication=PublicationRef(publication.publication_id, publication.run_id, publication.published_at),
            region=region,
            period=period,
            submissions=submissions[0],
            overview=overview,
            institutions=rows(_BY_INSTITUTION),
            counties=rows(_BY_COUNTY),
            ranking=rows(_RANKING),
            completeness=rows(_COMPLETENESS),
            department_completeness=rows(_DEPARTMENT_COMPLETENESS),
            data_quality=data_quality,
            trend=_trend(cur, params, targets),
            target_indicators=targets,
            funnel=rows(_FUNNEL),
            cities=rows(_BY_CITY),
            comparison=rows(_COMPARISON),
            rules=_rules(data_quality),
        )
