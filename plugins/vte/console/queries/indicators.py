"""Indicator values as published (marts.fct_indicator_values): a region's, its trend, its institutions' with
where each lies against the region's funnel limits (marts.fct_institution_funnel), and its days
(marts.fct_daily_indicator_values)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import psycopg
from psycopg.rows import class_row

from vte.extracts.periods import Period


@dataclass(frozen=True)
class Value:
    indicator_id: str
    numerator: int | None
    denominator: int | None
    rate: Decimal | None
    target: Decimal | None
    meets_target: bool | None
    rate_same_period_last_year: Decimal | None
    is_partial_period: bool
    is_small_denominator: bool | None


@dataclass(frozen=True)
class MonthRate:
    period_start: date
    rate: Decimal | None
    numerator: int
    denominator: int
    is_partial_period: bool


@dataclass(frozen=True)
class DayRate:
    report_date: date
    rate: Decimal | None
    numerator: int
    denominator: int
    is_small_denominator: bool | None


@dataclass(frozen=True)
class InstitutionValue:
    entity_code: str
    entity_name: str
    numerator: int
    denominator: int
    rate: Decimal | None
    meets_target: bool | None
    rate_same_period_last_year: Decimal | None
    is_partial_period: bool
    is_small_denominator: bool | None
    funnel_flag: str | None  # above_998 | above_95 | within | below_95 | below_998; None without a rate
    regional_rate: Decimal | None
    lower_95_limit: Decimal | None
    upper_95_limit: Decimal | None


def is_published(conn: psycopg.Connection) -> bool:
    return conn.execute("select to_regclass('marts.fct_indicator_values') is not null").fetchone()[0]


def region_values(conn: psycopg.Connection, region_level: str, region_code: str, period: Period) -> dict[str, Value]:
    """The region's value of each indicator in the period, by indicator id."""
    with conn.cursor(row_factory=class_row(Value)) as cur:
        rows = cur.execute(
            "select indicator_id, numerator, denominator, rate, target, meets_target, rate_same_period_last_year,"
            " is_partial_period, is_small_denominator from marts.fct_indicator_values"
            " where level = %s and entity_code = %s and period_type = %s and period_start = %s",
            (region_level, region_code, period.period_type, period.start)).fetchall()
    return {row.indicator_id: row for row in rows}


def monthly_rates(conn: psycopg.Connection, region_level: str, region_code: str, indicator_id: str,
                  months: list[date]) -> list[MonthRate]:
    """The region's rate of one indicator in each of ``months`` that has a value, oldest first."""
    with conn.cursor(row_factory=class_row(MonthRate)) as cur:
        return cur.execute(
            "select period_start, rate, numerator, denominator, is_partial_period from marts.fct_indicator_values"
            " where level = %s and entity_code = %s and indicator_id = %s and period_type = 'month'"
            " and period_start = any(%s) order by period_start",
            (region_level, region_code, indicator_id, months)).fetchall()


def daily_rates(conn: psycopg.Connection, level: str, code: str, indicator_id: str, first: date,
                last: date) -> list[DayRate]:
    """The entity's rate of one indicator on each day from ``first`` to ``last`` that has a value, oldest first
    (none before the publication that added the daily values)."""
    if not conn.execute("select to_regclass('marts.fct_daily_indicator_values') is not null").fetchone()[0]:
        return []
    with conn.cursor(row_factory=class_row(DayRate)) as cur:
        return cur.execute(
            "select report_date, rate, numerator, denominator, is_small_denominator"
            " from marts.fct_daily_indicator_values where level = %s and entity_code = %s and indicator_id = %s"
            " and report_date between %s and %s order by report_date",
            (level, code, indicator_id, first, last)).fetchall()


def institutions_compared(conn: psycopg.Connection, region_level: str, region_code: str, indicator_id: str,
                          period: Period) -> list[InstitutionValue]:
    """Every institution inside the region on one indicator in the period, the highest rate first, with its
    position against the region's funnel limits (indicators with a target only)."""
    with conn.cursor(row_factory=class_row(InstitutionValue)) as cur:
        return cur.execute(
            "select v.entity_code, v.entity_name, v.numerator, v.denominator, v.rate, v.meets_target,"
            " v.rate_same_period_last_year, v.is_partial_period, v.is_small_denominator, f.funnel_flag,"
            " f.regional_rate, f.lower_95_limit, f.upper_95_limit"
            " from marts.fct_indicator_values as v"
            " left join marts.fct_institution_funnel as f on f.region_level = %s and f.region_code = %s"
            "   and f.institution_code = v.entity_code and f.indicator_id = v.indicator_id"
            "   and f.period_type = v.period_type and f.period_start = v.period_start"
            " where v.level = 'institution' and v.indicator_id = %s and v.period_type = %s and v.period_start = %s"
            " and v.entity_code in (select institutions.institution_code from registry.institutions"
            "   where institutions.county_code in (select access.regions_inside(%s)))"
            " order by v.rate desc nulls last, v.entity_code",
            (region_level, region_code, indicator_id, period.period_type, period.start, region_code)).fetchall()
