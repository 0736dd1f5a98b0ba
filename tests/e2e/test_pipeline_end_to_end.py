"""The whole product: generator data over HTTP (JSON and Excel) → `vte pipeline run` → published marts.

The expected indicator values are computed here from the accepted submissions themselves (newest version
per institution and date, quarantined rows left out, Σ numerator / Σ denominator), sharing nothing with dbt.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import psycopg
import pytest

from vte import domain, feedback, regions

pytestmark = pytest.mark.slow


def _period_start(day: date, period_type: str) -> date:
    if period_type == "month":
        return day.replace(day=1)
    if period_type == "quarter":
        return day.replace(month=3 * ((day.month - 1) // 3) + 1, day=1)
    return day.replace(month=1, day=1)


def _is_quarantined(row: dict) -> bool:
    return any(row[r.lesser] > row[r.greater] for r in domain.rules() if r.severity == "quarantine")


def expected_values(pp) -> dict[tuple, tuple[int, int]]:
    """(level, entity_code, period_type, period_start, indicator_id) -> (numerator, denominator)."""
    region_rows = {r["region_code"]: r for path in regions.bundled_files() for r in regions.read_region_file(path)}
    by_code = {i.code: i for i in pp.institutions}
    sums: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for (code, day_text), rows in pp.accepted.items():
        inst = by_code[code]
        county = inst.county_code
        city = region_rows[county]["parent_code"]
        entities = [("institution", code), ("county", county), ("city", city), ("province", "330000")]
        day = date.fromisoformat(day_text)
        for row in rows:
            if _is_quarantined(row):
                continue
            for level, entity in entities:
                for period_type in ("month", "quarter", "year"):
                    for ind in domain.indicators():
                        key = (level, entity, period_type, _period_start(day, period_type), ind.indicator_id)
                        sums[key][0] += row[ind.numerator]
                        sums[key][1] += row[ind.denominator]
    return {k: (v[0], v[1]) for k, v in sums.items()}


@pytest.fixture(scope="module")
def published(published_pipeline):
    with psycopg.connect(_url(published_pipeline), autocommit=True) as conn:
        rows = conn.execute(
            """
            select level, entity_code, period_type, period_start, indicator_id, numerator, denominator, rate
            from marts.fct_indicator_values
            where level in ('institution', 'county', 'city', 'province')
            """
        ).fetchall()
    return {r[:5]: r[5:] for r in rows}


def _url(pp) -> str:
    from vte import warehouse

    return warehouse.url(pp.settings)


def test_marts_equal_the_values_computed_from_the_accepted_submissions(published_pipeline, published):
    expected = expected_values(published_pipeline)
    assert set(published) == set(expected)
    for key, (numerator, denominator) in expected.items():
        got_num, got_den, got_rate = published[key]
        assert (got_num, got_den) == (numerator, denominator), key
        if denominator == 0:
            assert got_rate is None, key
        else:
            assert got_rate == (Decimal(100 * numerator) / denominator).quantize(Decimal("0.0001"), ROUND_HALF_UP), key


def test_both_channels_and_refusals_reached_the_warehouse(published_pipeline):
    pp = published_pipeline
    assert pp.refused > 0, "the generator's refusable defects must have been refused at the door"
    with psycopg.connect(_url(pp)) as conn:
        channels = dict(conn.execute("select channel, count(*) from raw.submissions group by channel").fetchall())
        refused_logged = conn.execute(
            "select count(*) from ops.intake_requests where outcome = 'refused'").fetchone()[0]
        publication = conn.execute("select count(*) from ops.publications where success").fetchone()[0]
    assert channels["excel"] == len(pp.excel_dates)
    assert channels["api"] == len(pp.accepted) - len(pp.excel_dates)
    assert refused_logged == pp.refused
    assert publication == 1


def test_every_level_period_and_indicator_is_published(published_pipeline):
    with psycopg.connect(_url(published_pipeline)) as conn:
        levels = {r[0] for r in conn.execute("select distinct level from marts.fct_indicator_values")}
        periods = {r[0] for r in conn.execute("select distinct period_type from marts.fct_indicator_values")}
        indicators = {r[0] for r in conn.execute("select distinct indicator_id from marts.fct_indicator_values")}
    assert levels == {"department", "campus", "institution", "community", "county", "city", "province"}
    assert periods == {"month", "quarter", "year"}
    assert indicators == {i.indicator_id for i in domain.indicators()}


def test_feedback_reports_name_the_quarantined_rows_and_their_rules(published_pipeline):
    pp = published_pipeline
    quarantined = {(code, day) for (code, day), rows in pp.accepted.items() if any(map(_is_quarantined, rows))}
    assert quarantined, "the dataset should hold quarantined rows"
    code, day = sorted(quarantined)[0]
    report = feedback.latest_report(code, pp.settings)
    listed = [r for r in report["quarantinedRows"] if r["reportDate"] == day]
    assert listed and all(rule["zh"] and rule["ruleId"].startswith("Q.") for r in listed for rule in r["rules"][:1])
    html = (feedback.report_dir(pp.settings, code) / "latest.html").read_text()
    assert day in html and "被隔离" in html
    assert json.loads((feedback.report_dir(pp.settings, code) / "latest.json").read_text())["institutionCode"] == code
