"""fct_daily_indicator_values: the day as a period for institutions and regions, equal to an independent
computation from the rows the province landed; and an indicator on a non-additive field is refused when the
definitions load, in Python and in dbt."""

from __future__ import annotations

import csv
import json
from datetime import date

import pytest
from conftest import DAYS, INSTITUTIONS
from indicator_oracle import indicator_values

from vte import domain
from vte.config import SEEDS_DIR
from vte.dbt import DbtFailed, run_dbt
from vte.ingest import load_landing_zone

pytestmark = pytest.mark.slow

COLUMNS = ("level", "entity_code", "report_date", "indicator_id", "entity_name", "numerator", "denominator", "rate",
           "target", "meets_target", "is_small_denominator")
WORLD = tuple(code for code, *_ in INSTITUTIONS)
# The world's regions: 文成县 and its community, 温州市, 鹿城区, 杭州市, 上城区 and 浙江省.
REGIONS = ("330328", "文成县医共体", "330300", "330302", "330100", "330102", "330000")


def published_days(db) -> dict[tuple, dict]:
    rows = db.execute(
        f"select {', '.join(COLUMNS)} from marts.fct_daily_indicator_values"
        " where entity_code = any(%s) and report_date = any(%s)", (list(WORLD + REGIONS), DAYS)).fetchall()
    return {row[:4]: dict(zip(COLUMNS[4:], row[4:])) for row in rows}


def expected_days(db, built_at) -> dict[tuple, dict]:
    """The oracle's day values of the world's institutions and regions, with the small-denominator flag worked
    out from its province value of the same day."""
    oracle = indicator_values(db, built_at, period_types=("day",))
    province = {(key[0], key[5], key[6]): value for key, value in oracle.items() if key[0] in ("province",)}
    out = {}
    for (level, code, _, _, _, day, indicator_id), value in oracle.items():
        if level in ("department", "campus") or code not in WORLD + REGIONS or day not in DAYS:
            continue
        whole = province[("province", day, indicator_id)]
        n, p_num, p_den = value["denominator"], whole["numerator"], whole["denominator"]
        small = (n * p_num < 5 * p_den or n * (p_den - p_num) < 5 * p_den) if n else None
        out[(level, code, day, indicator_id)] = {
            "entity_name": value["entity_name"], "numerator": value["numerator"], "denominator": n,
            "rate": value["rate"], "target": value["target"], "meets_target": value["meets_target"],
            "is_small_denominator": small}
    return out


def test_day_values_equal_an_independent_computation(province, db):
    actual, expected = published_days(db), expected_days(db, province.built_at)
    assert {key[0] for key in expected} == {"institution", "community", "county", "city", "province"}
    assert not actual.keys() ^ expected.keys(), list(actual.keys() ^ expected.keys())[:5]  # not pytest's slow diff
    mismatched = [(key, actual[key], expected[key]) for key in expected if actual[key] != expected[key]]
    assert not mismatched, mismatched[:5]
    # a day is its own period: the institution's days of March 2025 sum to its month in fct_indicator_values
    month = db.execute(
        "select numerator, denominator from marts.fct_indicator_values where level = 'institution'"
        " and entity_code = 'DBTWC01' and period_type = 'month' and period_start = '2025-03-01'"
        " and indicator_id = 'B.1.1'").fetchone()
    assert month == db.execute(
        "select sum(numerator), sum(denominator) from marts.fct_daily_indicator_values where level = 'institution'"
        " and entity_code = 'DBTWC01' and report_date between '2025-03-01' and '2025-03-31'"
        " and indicator_id = 'B.1.1'").fetchone()


def test_a_day_without_denominator_has_no_rate_and_held_out_rows_are_left_out(province, db):
    # DBTHZ01 reports no surgery: its surgical indicators have no rate on any day, not 0 %.
    assert db.execute(
        "select distinct rate, meets_target, is_small_denominator from marts.fct_daily_indicator_values"
        " where entity_code = 'DBTHZ01' and indicator_id = 'B.3.5'").fetchall() == [(None, None, None)]
    # The missing day has no value at all.
    assert not db.execute("select 1 from marts.fct_daily_indicator_values where entity_code = 'DBTHZ01'"
                          " and report_date = '2025-03-02'").fetchall()
    # DBTLC01's first row of 2025-03-03 is quarantined: the day's B.2.1 counts only its published rows.
    day = date(2025, 3, 3)
    published = db.execute(
        "select sum(precaution), sum(high_risk_assessment) from marts.fct_department_days"
        " where institution_code = 'DBTLC01' and report_date = %s", (day,)).fetchone()
    held_out = db.execute(
        "select precaution, high_risk_assessment from marts.fct_quarantined_rows"
        " where institution_code = 'DBTLC01' and report_date = %s", (day,)).fetchone()
    assert held_out is not None
    assert db.execute(
        "select numerator, denominator from marts.fct_daily_indicator_values where level = 'institution'"
        " and entity_code = 'DBTLC01' and report_date = %s and indicator_id = 'B.2.1'", (day,)).fetchone() == published


def test_a_correction_rewrites_only_its_day(province, db):
    """A new version of an old day: the institution-day sums recompute that day only (incremental), and the
    day's values of the institution and its regions follow; other days stay as they were."""
    code, day = "DBTWC02", date(2024, 3, 4)
    before = published_days(db)
    province.land(code, day, province.day_rows(code, day))
    assert load_landing_zone(db, province.zone).loaded == 1
    province.build(db)
    rewritten = {r for r in db.execute(
        "select institution_code, report_date from int.int_institution_days_aggregated where xmin::text = ("
        " select xmin::text from int.int_institution_days_aggregated where institution_code = %s"
        " and report_date = %s) and institution_code like 'DBT%%'", (code, day))}
    assert rewritten == {(code, day)}
    after = published_days(db)
    assert after == expected_days(db, province.built_at)
    moved = {key[:3] for key in after if after[key] != before[key]}
    assert {("institution", code, day), ("community", "文成县医共体", day), ("county", "330328", day),
            ("city", "330300", day), ("province", "330000", day)} <= moved
    assert {key[2] for key in moved} == {day}


def seed_rows(name: str) -> list[dict[str, str]]:
    with open(SEEDS_DIR / f"{name}.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


NON_ADDITIVE = {"indicator_id": "S.9", "section": "S", "section_name_zh": "补充指标", "name_zh": "人数比",
                "name_en": "Patients per episode", "numerator_field": "distinctDischargeHospital",
                "denominator_field": "dischargeHospital", "target_rate": "", "higher_is_better": "",
                "is_supplementary": "true"}
REFUSAL = ("indicator S.9 is defined on distinctDischargeHospital, which is not additive across days or"
           " departments")


def test_an_indicator_on_a_non_additive_field_is_refused_when_the_definitions_load():
    rows = seed_rows("indicators")
    assert len(domain.indicators_from(rows)) == len(rows)
    with pytest.raises(domain.DefinitionError, match=REFUSAL):
        domain.indicators_from([*rows, NON_ADDITIVE])


def test_dbt_refuses_an_indicator_on_a_non_additive_field(province, db, capfd):
    """The macro dim_indicators calls, run on a copy of the indicators seed holding such an indicator."""
    db.execute("drop schema if exists test_definitions cascade")
    db.execute("create schema test_definitions")
    try:
        db.execute("create table test_definitions.indicators as select * from ref.indicators")
        db.execute(
            "insert into test_definitions.indicators (indicator_id, section, section_name_zh, name_zh, name_en,"
            " numerator_field, denominator_field, is_supplementary) values (%s, %s, %s, %s, %s, %s, %s, true)",
            [NON_ADDITIVE[k] for k in ("indicator_id", "section", "section_name_zh", "name_zh", "name_en",
                                       "numerator_field", "denominator_field")])
        db.execute("grant usage on schema test_definitions to vte_builder")
        db.execute("grant select on test_definitions.indicators to vte_builder")
        run_dbt(["run-operation", "refuse_non_additive_indicators", "--args",
                 json.dumps({"indicators_table": "ref.indicators"})])
        capfd.readouterr()
        with pytest.raises(DbtFailed, match="refuse_non_additive_indicators"):
            run_dbt(["run-operation", "refuse_non_additive_indicators", "--args",
                     json.dumps({"indicators_table": "test_definitions.indicators"})])
        assert REFUSAL in capfd.readouterr().out  # dbt logs the compiler error, the result does not carry it
    finally:
        db.execute("drop schema test_definitions cascade")
