"""Stand-in tables with the shapes the gate validates, built in scratch schemas of the session's warehouse.

The staged rows are random department rows that satisfy every consistency rule (fields are filled in the
order the rules impose); the marts are summed from random department-month numerators and denominators
over the region hierarchy, the way the indicator definition says (Σ numerator / Σ denominator), and the
funnel compares each institution with its regions from those values, as dbt's fct_institution_funnel does, and
the ranking and the submission counts follow from them as dbt's fct_institution_ranking and
fct_submission_counts do.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from contextlib import contextmanager
from datetime import date

import psycopg
from psycopg import sql

from vte import domain
from vte.publication.suites import PLAUSIBLE_MAX_COUNT

# code, community, county, city; all in province 330000
INSTITUTIONS = (
    ("GATE01", "文成县医共体", "330328", "330300"),
    ("GATE02", "文成县医共体", "330328", "330300"),
    ("GATE03", None, "330102", "330100"),
)
DEPARTMENTS = (("本院", "NK"), ("本院", "WK"), ("分院", "NK"))
MONTHS = (date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1))


def _fill_order() -> list[str]:
    """Field names ordered so every rule's greater field comes before its lesser one."""
    greater_of = defaultdict(set)
    for rule in domain.rules():
        greater_of[rule.lesser].add(rule.greater)
    ordered: list[str] = []
    remaining = list(domain.count_field_names())
    while remaining:
        ready = [f for f in remaining if greater_of[f] <= set(ordered)]
        ordered += ready
        remaining = [f for f in remaining if f not in ready]
    return ordered


def valid_department_row(rng: random.Random) -> dict[str, int]:
    """Counts (keyed by the standard's names) that break no rule."""
    greater_of = defaultdict(set)
    for rule in domain.rules():
        greater_of[rule.lesser].add(rule.greater)
    row: dict[str, int] = {}
    for name in _fill_order():
        bound = min((row[g] for g in greater_of[name]), default=rng.randint(20, 120))
        row[name] = rng.randint(bound // 2, bound) if greater_of[name] else bound
    assert not domain.broken_rules(row)
    return row


@contextmanager
def as_builder(conn: psycopg.Connection):
    """Create the stand-ins as dbt does: as vte_builder, so that the publisher's gate and swap may use them."""
    conn.execute("set role vte_builder")
    try:
        yield
    finally:
        conn.execute("reset role")


def create_staged_rows(conn: psycopg.Connection, schema: str, rows: list[dict[str, int]], institutions: int = 10,
                       outliers: frozenset[int] = frozenset()) -> None:
    """The touched department rows, classified as dbt does, spread evenly over ``institutions`` institutions
    (row i belongs to institution i mod ``institutions``); the rows numbered in ``outliers`` have their
    dischargeHospital held out as far above the department's own history."""
    with as_builder(conn):
        _create_staged_rows(conn, schema, rows, institutions, outliers)


def _create_staged_rows(conn: psycopg.Connection, schema: str, rows: list[dict[str, int]], institutions: int,
                        outliers: frozenset[int]) -> None:
    columns = [f.column for f in domain.count_fields()]
    conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))
    conn.execute(sql.SQL("create schema {}").format(sql.Identifier(schema)))
    conn.execute(sql.SQL(
        "create table {}.int_department_days_touched (institution_code text not null, report_date date not null,"
        " hospital text not null, department text not null, submission_id uuid not null,"
        " quarantine_rule_ids text[] not null, warning_rule_ids text[] not null, implausible_fields text[] not null,"
        " outlier_held_out_fields text[] not null, outlier_warning_fields text[] not null,"
        " rule_status text not null, {})").format(
        sql.Identifier(schema), sql.SQL(", ").join(sql.SQL("{} integer not null").format(sql.Identifier(c))
                                                   for c in columns)))
    fields = domain.count_fields()
    with conn.cursor().copy(sql.SQL("copy {}.int_department_days_touched from stdin").format(
            sql.Identifier(schema))) as copy:
        for i, row in enumerate(rows):
            broken = domain.broken_rules(row)
            quarantine = [r.rule_id for r in broken if r.severity == "quarantine"]
            warning = [r.rule_id for r in broken if r.severity == "warning"]
            implausible = [f.name for f in fields if row[f.name] > PLAUSIBLE_MAX_COUNT]
            held_out = ["dischargeHospital"] if i in outliers else []
            status = "quarantined" if quarantine or implausible or held_out else "warning" if warning else "valid"
            copy.write_row([f"GS{i % institutions:03d}", date(2025, 3, 1), "本院", f"D{i:04d}", uuid.uuid4(),
                            quarantine, warning, implausible, held_out, [], status, *(row[f.name] for f in fields)])


def _period_starts(month: date) -> dict[str, date]:
    return {"month": month, "quarter": date(month.year, 3 * ((month.month - 1) // 3) + 1, 1),
            "year": date(month.year, 1, 1)}


def indicator_value_rows(rng: random.Random, months=MONTHS) -> list[tuple]:
    """fct_indicator_values rows: every level, period and indicator, summed from department months."""
    indicators = domain.indicators()
    sums: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    names: dict[tuple, str] = {}
    for code, community, county, city in INSTITUTIONS:
        for campus, department in DEPARTMENTS:
            for month in months:
                for indicator in indicators:
                    # one department never has surgery: a zero denominator, hence no rate
                    denominator = 0 if (code, department, indicator.denominator) == ("GATE03", "WK", "surgery") \
                        else rng.randint(10, 60)
                    numerator = rng.randint(0, denominator)
                    entities = [("department", code, campus, department), ("campus", code, campus, None),
                                ("institution", code, None, None), ("county", county, None, None),
                                ("city", city, None, None), ("province", "330000", None, None)]
                    if community:
                        entities.append(("community", community, None, None))
                    for entity in entities:
                        for period_type, start in _period_starts(month).items():
                            key = (*entity, period_type, start, indicator.indicator_id)
                            sums[key][0] += numerator
                            sums[key][1] += denominator
                            names[key] = f"{entity[1]} name"
    targets = {i.indicator_id: i.target_rate for i in indicators}
    rows = []
    for key, (numerator, denominator) in sums.items():
        level, entity_code, campus, department, period_type, start, indicator_id = key
        rate = round(100 * numerator / denominator, 4) if denominator else None
        target = targets[indicator_id]
        meets = None if rate is None or target is None else rate >= target
        # small: n × p or n × (1 − p) under 5 at the province's proportion p, as dbt marks it
        province_numerator, province_denominator = sums[("province", "330000", None, None, period_type, start,
                                                         indicator_id)]
        small = None if not denominator else (
            denominator * province_numerator < 5 * province_denominator
            or denominator * (province_denominator - province_numerator) < 5 * province_denominator)
        rows.append((level, entity_code, names[key], campus, department, period_type, start, indicator_id,
                     numerator, denominator, rate, target, meets, None, False, small))
    return rows


def create_candidate(conn: psycopg.Connection, schema: str, rng: random.Random, months=MONTHS) -> int:
    """A candidate marts schema (dropped first if present); returns its indicator row count."""
    with as_builder(conn):
        return _create_candidate(conn, schema, rng, months)


def _create_candidate(conn: psycopg.Connection, schema: str, rng: random.Random, months) -> int:
    s = sql.Identifier(schema)
    conn.execute(sql.SQL("drop schema if exists {} cascade").format(s))
    conn.execute(sql.SQL("create schema {}").format(s))
    conn.execute(sql.SQL(
        "create table {}.dim_institutions (institution_code text, institution_name text,"
        " institution_status text, joined_on date, county_code text, city_code text, province_code text,"
        " community_name text)").format(s))
    for code, community, county, city in INSTITUTIONS:
        conn.execute(sql.SQL("insert into {}.dim_institutions values (%s, %s, 'active', '2024-12-01', %s, %s,"
                             " '330000', %s)").format(s), (code, f"{code} name", county, city, community))
    conn.execute(sql.SQL(
        "create table {}.fct_indicator_values (level text, entity_code text, entity_name text, campus text,"
        " department text, period_type text, period_start date, indicator_id text, numerator bigint,"
        " denominator bigint, rate numeric, target numeric, meets_target boolean,"
        " rate_same_period_last_year numeric, is_partial_period boolean, is_small_denominator boolean)").format(s))
    rows = indicator_value_rows(rng, months)
    with conn.cursor().copy(sql.SQL("copy {}.fct_indicator_values from stdin").format(s)) as copy:
        for row in rows:
            copy.write_row(row)
    # every period complete: each expected day received (the values above are not partial)
    conn.execute(sql.SQL(
        "create table {s}.fct_reporting_completeness as"
        " select distinct 'institution'::text as level, entity_code, entity_name, period_type, period_start,"
        " 28 as days_expected, 28 as days_received, 0 as days_missing, 0 as days_late,"
        " 100.0 as completeness_rate, 100.0 as timeliness_rate"
        " from {s}.fct_indicator_values where level = 'institution'").format(s=s))
    conn.execute(sql.SQL(FUNNEL).format(s=s))
    lower_is_better = [i.indicator_id for i in domain.indicators() if i.higher_is_better is False]
    conn.execute(sql.SQL(RANKING).format(s=s), {"lower_is_better": lower_is_better})
    # every institution-period from 28 clean submissions of 3 department rows, none held out or warned
    conn.execute(sql.SQL(
        "create table {s}.fct_submission_counts as"
        " select level, entity_code, entity_name, period_type, period_start,"
        " count(*) * 28 as current_submissions, count(*) * 28 as counted_submissions,"
        " count(*) * 28 as institution_days, count(*) * 84 as counted_department_rows,"
        " 0::bigint as quarantined_department_rows, 0::bigint as quarantined_days,"
        " '{{}}'::text[] as quarantine_rule_ids, 0::bigint as warning_department_rows, 0::bigint as warning_days,"
        " '{{}}'::text[] as warning_rule_ids, null::timestamptz as newest_received_at"
        " from (select distinct level, entity_code, entity_name, period_type, period_start"
        "       from {s}.fct_indicator_values where level in ('institution', 'county', 'city', 'province')) as v"
        " group by level, entity_code, entity_name, period_type, period_start").format(s=s))
    return len(rows)


# fct_institution_funnel as dbt builds it from the values above: each institution's rate of an indicator with a
# target against its county's, city's and province's, with the normal approximation's 95 % and 99.8 % limits.
FUNNEL = """
create table {s}.fct_institution_funnel as
with compared as (
    select
        regions.region_level,
        regions.region_code,
        region_values.entity_name as region_name,
        institution_values.entity_code as institution_code,
        institution_values.entity_name as institution_name,
        institution_values.period_type,
        institution_values.period_start,
        institution_values.indicator_id,
        institution_values.numerator,
        institution_values.denominator,
        institution_values.rate,
        region_values.numerator as region_numerator,
        region_values.denominator as region_denominator,
        institution_values.is_small_denominator,
        institution_values.is_partial_period,
        institution_values.numerator::numeric / institution_values.denominator as proportion,
        region_values.numerator::numeric / region_values.denominator as regional_proportion
    from {s}.fct_indicator_values as institution_values
    inner join {s}.dim_institutions as institutions
        on institution_values.entity_code = institutions.institution_code
    cross join lateral (
        values ('county', institutions.county_code), ('city', institutions.city_code),
            ('province', institutions.province_code)
    ) as regions (region_level, region_code)
    inner join {s}.fct_indicator_values as region_values
        on region_values.level = regions.region_level and region_values.entity_code = regions.region_code
            and region_values.period_type = institution_values.period_type
            and region_values.period_start = institution_values.period_start
            and region_values.indicator_id = institution_values.indicator_id
    where institution_values.level = 'institution' and institution_values.target is not null
        and institution_values.denominator > 0
),
limited as (
    select
        compared.*,
        sqrt(compared.regional_proportion * (1 - compared.regional_proportion) / compared.denominator)
            as standard_error
    from compared
)
select
    region_level, region_code, region_name, institution_code, institution_name, period_type, period_start,
    indicator_id, numerator, denominator, rate, region_numerator, region_denominator, is_small_denominator,
    is_partial_period,
    round(100 * regional_proportion, 4) as regional_rate,
    round(100 * greatest(regional_proportion - 3.09 * standard_error, 0), 4) as lower_998_limit,
    round(100 * greatest(regional_proportion - 1.96 * standard_error, 0), 4) as lower_95_limit,
    round(100 * least(regional_proportion + 1.96 * standard_error, 1), 4) as upper_95_limit,
    round(100 * least(regional_proportion + 3.09 * standard_error, 1), 4) as upper_998_limit,
    case
        when proportion > regional_proportion + 3.09 * standard_error then 'above_998'
        when proportion > regional_proportion + 1.96 * standard_error then 'above_95'
        when proportion < regional_proportion - 3.09 * standard_error then 'below_998'
        when proportion < regional_proportion - 1.96 * standard_error then 'below_95'
        else 'within'
    end as funnel_flag
from limited
"""


# fct_institution_ranking as dbt builds it from the funnel above: each institution ranked within its regions by
# its funnel band (1 best), then by rate, the better first; without a rate, no rank.
RANKING = """
create table {s}.fct_institution_ranking as
with candidates as (
    select
        regions.region_level,
        regions.region_code,
        institution_values.entity_code as institution_code,
        institution_values.entity_name as institution_name,
        institution_values.period_type,
        institution_values.period_start,
        institution_values.indicator_id,
        institution_values.indicator_id <> all(%(lower_is_better)s) as higher_is_better,
        institution_values.numerator,
        institution_values.denominator,
        institution_values.rate,
        institution_values.target,
        institution_values.meets_target,
        funnel.funnel_flag,
        funnel.regional_rate,
        funnel.lower_95_limit,
        funnel.upper_95_limit,
        institution_values.is_small_denominator,
        institution_values.is_partial_period,
        array_position(
            case when institution_values.indicator_id <> all(%(lower_is_better)s)
                then array['above_998', 'above_95', 'within', 'below_95', 'below_998']
                else array['below_998', 'below_95', 'within', 'above_95', 'above_998'] end,
            funnel.funnel_flag) as funnel_band
    from {s}.fct_indicator_values as institution_values
    inner join {s}.dim_institutions as institutions
        on institution_values.entity_code = institutions.institution_code
    cross join lateral (
        values ('county', institutions.county_code), ('city', institutions.city_code),
            ('province', institutions.province_code)
    ) as regions (region_level, region_code)
    left join {s}.fct_institution_funnel as funnel
        on funnel.region_level = regions.region_level and funnel.region_code = regions.region_code
            and funnel.institution_code = institution_values.entity_code
            and funnel.indicator_id = institution_values.indicator_id
            and funnel.period_type = institution_values.period_type
            and funnel.period_start = institution_values.period_start
    where institution_values.level = 'institution' and institution_values.target is not null
)
select
    region_level, region_code, institution_code, institution_name, period_type, period_start, indicator_id,
    higher_is_better,
    case when funnel_band is not null then rank() over (
        partition by region_level, region_code, period_type, period_start, indicator_id, funnel_band is null
        order by funnel_band, case when higher_is_better then rate else -rate end desc
    ) end as region_rank,
    funnel_band, numerator, denominator, rate, target, meets_target, funnel_flag, regional_rate, lower_95_limit,
    upper_95_limit, is_small_denominator, is_partial_period
from candidates
"""
