"""The numbers the extracts, the console and the exports read ready-made: fct_submission_counts equals an
independent count from raw, fct_institution_ranking ranks the published values and funnel positions as the
extracts' rule says, and fct_indicator_changes compares each value with an independently computed previous
period and same period last year."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import pytest
from indicator_oracle import CHANGE_COLUMNS, CHANGE_LEVELS, indicator_changes, period_end, submission_counts

from vte.publication.suites import PLAUSIBLE_MAX_COUNT

pytestmark = pytest.mark.slow

COUNT_COLUMNS = ("current_submissions", "counted_submissions", "institution_days", "counted_department_rows",
                 "quarantined_department_rows", "quarantined_days", "quarantine_rule_ids", "warning_department_rows",
                 "warning_days", "warning_rule_ids", "newest_received_at")
BANDS = ("above_998", "above_95", "within", "below_95", "below_998")


def test_submission_counts_equal_an_independent_computation(province, db):
    rows = db.execute(f"select level, entity_code, period_type, period_start, {', '.join(COUNT_COLUMNS)}"
                      " from marts.fct_submission_counts").fetchall()
    actual = {}
    for row in rows:
        values = dict(zip(COUNT_COLUMNS, row[4:]))
        values["quarantine_rule_ids"] = sorted(values["quarantine_rule_ids"])
        values["warning_rule_ids"] = sorted(values["warning_rule_ids"])
        actual[row[:4]] = values
    expected = submission_counts(db, province.built_at, PLAUSIBLE_MAX_COUNT)
    assert not actual.keys() ^ expected.keys(), list(actual.keys() ^ expected.keys())[:5]  # not pytest's slow diff
    mismatched = [(key, actual[key], expected[key]) for key in expected if actual[key] != expected[key]]
    assert not mismatched, mismatched[:5]
    # the world holds one held-out row (DBTLC01, 2025-03-03) and a warned one (DBTWC02)
    march = actual[("institution", "DBTLC01", "month", date(2025, 3, 1))]
    assert march["quarantined_department_rows"] == 1 and "Q.B.2.1" in march["quarantine_rule_ids"]
    assert any(v["warning_rule_ids"] for (level, code, *_), v in actual.items() if code == "DBTWC02")


def _expected_ranks(db) -> dict[tuple, int | None]:
    """Rank each region's institutions (joined by the period's end) on each target indicator by funnel band
    (better than the region first), then by rate, ties sharing; without a funnel position, no rank."""
    higher = dict(db.execute("select indicator_id, higher_is_better from marts.dim_indicators"
                             " where target_rate is not null").fetchall())
    institutions = {code: (regions, joined_on) for code, *regions, joined_on in db.execute(
        "select institution_code, county_code, city_code, province_code, joined_on from marts.dim_institutions")}
    flags = {row[:6]: row[6] for row in db.execute(
        "select region_level, region_code, institution_code, indicator_id, period_type, period_start, funnel_flag"
        " from marts.fct_institution_funnel")}
    groups = defaultdict(list)
    for code, indicator, period_type, start, rate in db.execute(
            "select entity_code, indicator_id, period_type, period_start, rate from marts.fct_indicator_values"
            " where level = 'institution' and indicator_id = any(%s)", (list(higher),)):
        if code not in institutions:
            continue
        regions, joined_on = institutions[code]
        if joined_on and joined_on > period_end(start, period_type):
            continue
        for level, region in zip(("county", "city", "province"), regions):
            flag = flags.get((level, region, code, indicator, period_type, start))
            band = None
            if flag is not None:
                band = BANDS.index(flag) + 1 if higher[indicator] else 5 - BANDS.index(flag)
            groups[(level, region, indicator, period_type, start)].append((code, band, rate))
    expected = {}
    for (level, region, indicator, period_type, start), members in groups.items():
        def order(member):
            return member[1], -member[2] if higher[indicator] else member[2]
        ranked = [m for m in members if m[1] is not None]
        for code, band, rate in members:
            rank = None if band is None else 1 + sum(order(o) < order((code, band, rate)) for o in ranked)
            expected[(level, region, code, indicator, period_type, start)] = rank
    return expected


def test_institution_ranking_follows_the_funnel_then_the_rate(province, db):
    actual = {row[:6]: row[6] for row in db.execute(
        "select region_level, region_code, institution_code, indicator_id, period_type, period_start, region_rank"
        " from marts.fct_institution_ranking")}
    expected = _expected_ranks(db)
    assert not actual.keys() ^ expected.keys(), list(actual.keys() ^ expected.keys())[:5]  # not pytest's slow diff
    assert actual == expected
    assert any(rank and rank > 1 for rank in actual.values())


CARRIED_COLUMNS = ("numerator", "denominator", "meets_target", "is_partial_period", "is_small_denominator")


def published_changes(db) -> dict[tuple, dict]:
    """marts.fct_indicator_changes keyed as indicator_oracle.indicator_changes."""
    return {row[:5]: dict(zip(CHANGE_COLUMNS, row[5:])) for row in db.execute(
        f"select level, entity_code, period_type, period_start, indicator_id, {', '.join(CHANGE_COLUMNS)}"
        " from marts.fct_indicator_changes")}


def test_indicator_changes_equal_an_independent_comparison(province, db):
    actual, expected = published_changes(db), indicator_changes(db, province.built_at)
    assert not actual.keys() ^ expected.keys(), list(actual.keys() ^ expected.keys())[:5]  # not pytest's slow diff
    mismatched = [(key, actual[key], expected[key]) for key in expected if actual[key] != expected[key]]
    assert not mismatched, mismatched[:5]

    # the marks are carried through from the indicator values
    keys = "level, entity_code, period_type, period_start, indicator_id"
    carried = {row[:5]: row[5:] for row in db.execute(
        f"select {keys}, {', '.join(CARRIED_COLUMNS)} from marts.fct_indicator_changes")}
    published = {row[:5]: row[5:] for row in db.execute(
        f"select {keys}, {', '.join(CARRIED_COLUMNS)} from marts.fct_indicator_values where level = any(%s)",
        (list(CHANGE_LEVELS),))}
    assert carried == published

    # the world's cases: a first month without a previous one, a previous period with data, a year compared with
    # the year before, a denominator of 0 (DBTHZ01 has no surgery) and a community
    first = actual[("province", "330000", "month", date(2024, 3, 1), "B.1.1")]
    assert first["rate"] is not None and first["rate_previous_period"] is None and first["change_previous_pp"] is None
    march = actual[("province", "330000", "month", date(2025, 3, 1), "B.1.1")]
    assert None not in march.values() and march["change_previous_pp"] != 0
    year = actual[("province", "330000", "year", date(2025, 1, 1), "B.1.1")]
    assert year["previous_period_start"] == date(2024, 1, 1) and year["rate_previous_period"] is not None
    assert year["rate_previous_period"] == year["rate_same_period_last_year"]
    no_surgery = actual[("institution", "DBTHZ01", "month", date(2025, 3, 1), "B.3.5")]
    assert no_surgery["rate"] is None and no_surgery["change_previous_pp"] is no_surgery["change_last_year_pp"] is None
    assert any(key[0] == "community" and v["change_previous_pp"] is not None for key, v in actual.items())
