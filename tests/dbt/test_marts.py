"""dbt builds the marts from raw; their contents equal an independent computation from the same submissions."""

from __future__ import annotations

from datetime import date

import pytest
from conftest import AS_OF
from indicator_oracle import completeness, indicator_values

from vte.dbt import run_dbt
from vte.ingest import load_landing_zone

pytestmark = pytest.mark.slow

INDICATOR_COLUMNS = ("level", "entity_code", "campus", "department", "period_type", "period_start", "indicator_id",
                     "entity_name", "numerator", "denominator", "rate", "target", "meets_target",
                     "rate_same_period_last_year")


def published_indicator_values(db) -> dict[tuple, dict]:
    rows = db.execute(f"select {', '.join(INDICATOR_COLUMNS)} from marts.fct_indicator_values").fetchall()
    return {row[:7]: dict(zip(INDICATOR_COLUMNS[7:], row[7:])) for row in rows}


def assert_indicator_values_match(db, built_at):
    actual, expected = published_indicator_values(db), indicator_values(db, built_at)
    # Summaries, not the sets: pytest's diff of two large sets takes longer than the suite.
    assert not actual.keys() - expected.keys(), list(actual.keys() - expected.keys())[:5]
    assert not expected.keys() - actual.keys(), list(expected.keys() - actual.keys())[:5]
    mismatched = [(key, actual[key], expected[key]) for key in expected if actual[key] != expected[key]]
    assert not mismatched, mismatched[:5]


def test_indicator_values_equal_an_independent_computation(province, db):
    assert_indicator_values_match(db, province.built_at)


def test_the_dataset_covers_every_level_period_and_null_rates(province, db):
    levels, periods, null_rates, last_year = db.execute(
        """
        select array_agg(distinct level), array_agg(distinct period_type),
               count(*) filter (where rate is null and denominator = 0),
               count(*) filter (where rate_same_period_last_year is not null)
        from marts.fct_indicator_values where entity_code like 'DBT%' or level not in ('department', 'campus', 'institution')
        """
    ).fetchone()
    assert set(levels) == {"department", "campus", "institution", "community", "county", "city", "province"}
    assert set(periods) == {"month", "quarter", "year"}
    assert null_rates > 0 and last_year > 0
    # DBTHZ01 reports no surgery: the surgical indicators have no rate, not 0 %.
    assert db.execute(
        "select rate, meets_target from marts.fct_indicator_values where level = 'institution'"
        " and entity_code = 'DBTHZ01' and indicator_id = 'B.3.5' and period_type = 'year'"
        " and period_start = '2025-01-01'"
    ).fetchone() == (None, None)


def test_supersession_and_quarantine(province, db):
    # The newest version of DBTWC01 2025-03-01 dropped NK: it is gone from that day, whole.
    depts = {r[0] for r in db.execute(
        "select department from marts.fct_department_days where institution_code = 'DBTWC01'"
        " and report_date = '2025-03-01'")}
    assert depts == {"ICU", "GKW"}
    assert db.execute("select version from marts.fct_department_days where institution_code = 'DBTWC01'"
                      " and report_date = '2025-03-01' limit 1").fetchone() == (2,)
    quarantined = db.execute(
        "select institution_code, report_date, quarantine_rule_ids from marts.fct_quarantined_rows"
        " where institution_code like 'DBT%'").fetchall()
    assert len(quarantined) == 1
    assert quarantined[0][:2] == ("DBTLC01", date(2025, 3, 3)) and "Q.B.2.1" in quarantined[0][2]
    warnings = db.execute("select institution_code, warning_rule_ids from marts.fct_warning_rows"
                          " where institution_code like 'DBT%'").fetchall()
    assert ("DBTWC02", ["W.01"]) in warnings


def test_reporting_completeness_equals_an_independent_computation(province, db):
    expected = completeness(db, AS_OF, province.built_at)
    rows = db.execute(
        "select level, entity_code, period_type, period_start, days_expected, days_received, days_late,"
        " missing_dates from marts.fct_reporting_completeness"
    ).fetchall()
    actual = {r[:4]: {"expected": r[4], "received": r[5], "late": r[6], "missing": r[7] or []} for r in rows}
    assert actual == expected
    hz = actual[("institution", "DBTHZ01", "month", date(2025, 3, 1))]
    assert date(2025, 3, 2) in hz["missing"] and date(2025, 3, 1) not in hz["missing"] and hz["expected"] == 31
    assert actual[("institution", "DBTWC02", "month", date(2025, 2, 1))]["late"] == 1


def test_a_late_correction_of_an_old_date_propagates_incrementally(province, db):
    before = published_indicator_values(db)
    old_day = date(2024, 3, 2)
    rows = province.day_rows("DBTLC01", old_day)
    rows[0]["surgery"] += 40  # any change shows in the surgical denominators
    landed = province.land("DBTLC01", old_day, rows)
    assert landed.version == 2
    # and a corrected version of the quarantined day, now valid
    province.land("DBTLC01", date(2025, 3, 3), province.day_rows("DBTLC01", date(2025, 3, 3)))
    assert load_landing_zone(db, province.zone).loaded == 2
    seconds = province.build(db)
    print(f"incremental dbt build: {seconds:.1f} s (first build {province.first_build_seconds:.1f} s)")
    after = published_indicator_values(db)
    old_surgery = db.execute(
        "select sum(r.surgery) from raw.submission_rows as r join raw.submissions as s using (submission_id)"
        " where s.institution_code = 'DBTLC01' and s.report_date = %s and s.version = 1", (old_day,)
    ).fetchone()[0]
    key = ("institution", "DBTLC01", None, None, "month", date(2024, 3, 1), "B.3.5")
    assert after[key]["denominator"] - before[key]["denominator"] == sum(r["surgery"] for r in rows) - old_surgery
    assert not db.execute("select 1 from marts.fct_quarantined_rows where institution_code = 'DBTLC01'").fetchall()
    assert_indicator_values_match(db, province.built_at)


def test_a_back_fill_re_processes_the_given_report_dates(province, db):
    """Incremental state lost for some dates (e.g. after a model fix) comes back with reprocess_from/_to."""
    first, last = date(2025, 2, 26), date(2025, 2, 28)
    expected = db.execute("select count(*) from marts.fct_department_days where report_date between %s and %s",
                          (first, last)).fetchone()[0]
    assert expected > 0
    db.execute("delete from int.int_department_days_classified where report_date between %s and %s", (first, last))
    province.built_at = db.execute("select clock_timestamp()").fetchone()[0]
    run_dbt(["build"], vars={"as_of_date": AS_OF.isoformat(), "reprocess_from": first.isoformat(),
                             "reprocess_to": last.isoformat()})
    assert db.execute("select count(*) from marts.fct_department_days where report_date between %s and %s",
                      (first, last)).fetchone()[0] == expected
    assert_indicator_values_match(db, province.built_at)
