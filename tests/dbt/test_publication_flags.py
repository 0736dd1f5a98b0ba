"""Funnel-plot limits and partial periods: the marts' values against an independent computation, and a partial
period's flag rewritten by the next day's sliced publication and kept by the history of publications."""

from __future__ import annotations

import math
import uuid
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from conftest import INSTITUTIONS
from indicator_oracle import CHANGE_COLUMNS, indicator_changes

from vte.dbt import run_dbt
from vte.ingest import load_landing_zone
from vte.publication import gate, history, publish

pytestmark = pytest.mark.slow

# The 97.5 % and 99.9 % quantiles of the standard normal (two-sided 95 % and 99.8 %), as the model rounds them.
Z95, Z998 = 1.96, 3.09
CANDIDATE = "marts_candidate"


def _quantile_check():
    scipy_stats = pytest.importorskip("scipy.stats")
    assert round(scipy_stats.norm.ppf(0.975), 2) == Z95 and round(scipy_stats.norm.ppf(0.999), 2) == Z998


def _percent(x: float) -> Decimal:
    return Decimal(repr(100 * x)).quantize(Decimal("0.0001"), ROUND_HALF_UP)


def expected_funnel(db) -> dict[tuple, dict]:
    """(region level, region code, institution, period type, period start, indicator) → limits and flag, from
    the published values and registry with the formula worked out here."""
    regions = {code: (county, city, province) for code, county, city, province in db.execute(
        "select institution_code, county_code, city_code, province_code from marts.dim_institutions")}
    targets = {r[0] for r in db.execute("select indicator_id from marts.dim_indicators where target_rate is not null")}
    values = {(level, code, period_type, start, indicator): (int(numerator), int(denominator))
              for level, code, period_type, start, indicator, numerator, denominator in db.execute(
                  "select level, entity_code, period_type, period_start, indicator_id, numerator, denominator"
                  " from marts.fct_indicator_values where level in ('institution', 'county', 'city', 'province')")}
    expected = {}
    for (level, code, period_type, start, indicator), (numerator, denominator) in values.items():
        if level != "institution" or indicator not in targets or denominator == 0:
            continue
        for region_level, region_code in zip(("county", "city", "province"), regions[code]):
            region_numerator, region_denominator = values[(region_level, region_code, period_type, start, indicator)]
            p = region_numerator / region_denominator
            se = math.sqrt(p * (1 - p) / denominator)
            share = numerator / denominator
            flag = ("above_998" if share > p + Z998 * se else "above_95" if share > p + Z95 * se
                    else "below_998" if share < p - Z998 * se else "below_95" if share < p - Z95 * se else "within")
            expected[(region_level, region_code, code, period_type, start, indicator)] = {
                "regional_rate": _percent(p),
                "limits": tuple(_percent(min(max(x, 0.0), 1.0))
                                for x in (p - Z998 * se, p - Z95 * se, p + Z95 * se, p + Z998 * se)),
                "flag": flag,
            }
    return expected


def published_funnel(db) -> dict[tuple, dict]:
    return {row[:6]: {"regional_rate": row[6], "limits": row[7:11], "flag": row[11]} for row in db.execute(
        "select region_level, region_code, institution_code, period_type, period_start, indicator_id, regional_rate,"
        " lower_998_limit, lower_95_limit, upper_95_limit, upper_998_limit, funnel_flag"
        " from marts.fct_institution_funnel")}


def test_funnel_limits_equal_an_independent_computation(province, db):
    _quantile_check()
    actual, expected = published_funnel(db), expected_funnel(db)
    assert actual.keys() == expected.keys() and actual
    tolerance = Decimal("0.0001")  # float here, numeric in the model: the 4th decimal may round apart
    for key, want in expected.items():
        got = actual[key]
        assert got["flag"] == want["flag"], (key, got, want)
        assert abs(got["regional_rate"] - want["regional_rate"]) <= tolerance, (key, got, want)
        assert all(abs(g - w) <= tolerance for g, w in zip(got["limits"], want["limits"])), (key, got, want)
    # A few institutions spelled out: DBTHZ01 leaves many patients unassessed, far below every region's B.1.1.
    for region_level, region_code in (("county", "330102"), ("city", "330100"), ("province", "330000")):
        flag = actual[(region_level, region_code, "DBTHZ01", "month", date(2025, 3, 1), "B.1.1")]["flag"]
        assert flag == "within" if region_level != "province" else flag in ("below_95", "below_998")
    assert {v["flag"] for v in actual.values()} - {"within"}, "some institution lies outside its limits"


def test_partial_periods_in_the_built_world(province, db):
    """As of 2025-04-03, April 2025 is not over (partial everywhere); March 2025 is over but DBTHZ01 missed a day."""
    flags = {row[:3]: row[3] for row in db.execute(
        "select level, entity_code, period_start, is_partial_period from marts.fct_indicator_values"
        " where period_type = 'month' and indicator_id = 'B.1.1' and level in ('institution', 'province')")}
    assert flags[("province", "330000", date(2025, 4, 1))] is True
    assert flags[("institution", "DBTHZ01", date(2025, 3, 1))] is True
    assert db.execute("select count(*) from marts.fct_indicator_values where is_partial_period is null"
                      ).fetchone()[0] == 0


def _land_days(province, days: list[date]) -> None:
    for code, *_ in INSTITUTIONS:
        for day in days:
            province.land(code, day, province.day_rows(code, day))


def _publish(db, as_of: date, *, publish_all: bool = False) -> publish.Publication:
    run_id = f"flags-{uuid.uuid4()}"
    run_dbt(["build"], vars={"as_of_date": as_of.isoformat(), "marts_schema": CANDIDATE, "publish_all": publish_all})
    passed = gate.GateResult("marts", CANDIDATE, run_id, True, {})
    return publish.publish(db, CANDIDATE, "marts", run_id=run_id, gate_result=passed)


@pytest.fixture
def rebuilt_afterwards(province, db):
    """The other dbt tests read the marts as built as of conftest.AS_OF: build them so again afterwards."""
    yield
    province.build(db)


def test_the_next_days_sliced_publication_completes_a_partial_month(province, db, rebuilt_afterwards):
    """March 2024 with every day in but the 31st, published as of the 30th: partial. The next day's reports
    arrive, the sliced publication replaces March (its quarter and year) and the month is complete."""
    march = [date(2024, 3, 1) + timedelta(days=i) for i in range(31)]
    reported = {d for (d,) in db.execute("select distinct report_date from raw.submissions"
                                         " where report_date between '2024-03-01' and '2024-03-31'")}
    _land_days(province, [d for d in march[:-1] if d not in reported])
    load_landing_zone(db, province.zone)
    first = _publish(db, date(2024, 3, 30), publish_all=True)

    def march_flags(levels=("institution", "province")) -> dict[tuple, bool]:
        return {row[:3]: row[3] for row in db.execute(
            "select level, entity_code, period_type, is_partial_period from marts.fct_indicator_values"
            " where indicator_id = 'B.1.1' and level = any(%s)"
            " and (period_type, period_start) in (('month', '2024-03-01'), ('quarter', '2024-01-01'))",
            (list(levels),))}

    assert march_flags() and all(march_flags().values()), "not over as of the 30th"
    untouched = db.execute("select count(*) from marts.fct_institution_funnel where period_start = '2025-02-01'"
                           ).fetchone()[0]
    assert untouched > 0

    # Values the history kept before migration 017, without their marks: February 2025's.
    unmarked = db.execute(
        "update history.indicator_values set is_partial_period = null, is_small_denominator = null"
        " where valid_to_publication is null and period_type = 'month' and period_start = '2025-02-01'").rowcount
    assert unmarked > 0

    _land_days(province, [march[-1]])
    load_landing_zone(db, province.zone)
    publication = _publish(db, date(2024, 3, 31))
    published_rows = db.execute("select count(*) from marts.fct_institution_funnel").fetchone()[0]
    assert publication.success and 0 < publication.row_counts["fct_institution_funnel"] < published_rows, \
        "the candidate held only the touched periods: a sliced publication"
    # The world's institutions only: a county, city or province also counts the institutions other tests of the
    # session registered in the shared warehouse, whose March 2024 days are missing, so it rightly stays partial.
    assert march_flags(("institution",)) and not any(march_flags(("institution",)).values()), \
        "every expected day of March 2024 is in and the month is over"
    # The sliced publication replaced the touched periods of the funnel too and kept the others.
    assert db.execute("select count(*) from marts.fct_institution_funnel where period_start = '2025-02-01'"
                      ).fetchone()[0] == untouched
    funnel_march = db.execute(
        "select bool_or(is_partial_period), count(*) from marts.fct_institution_funnel"
        " where period_type = 'month' and period_start = '2024-03-01'").fetchone()
    assert funnel_march[0] is False and funnel_march[1] == len(INSTITUTIONS) * 3 * 3
    assert published_funnel(db).keys() == expected_funnel(db).keys()
    # The comparisons were replaced too: March 2025 against last year moved with March 2024.
    world = [code for code, *_ in INSTITUTIONS]
    compared = {row[:5]: dict(zip(CHANGE_COLUMNS, row[5:])) for row in db.execute(
        f"select level, entity_code, period_type, period_start, indicator_id, {', '.join(CHANGE_COLUMNS)}"
        " from marts.fct_indicator_changes where level = 'institution' and entity_code = any(%s)", (world,))}
    expected = indicator_changes(db, db.execute("select clock_timestamp()").fetchone()[0])
    assert compared == {key: value for key, value in expected.items() if key[0] == "institution" and key[1] in world}

    # The history keeps each publication's marks, and vte diff (history.changes) carries them.
    march_institution = db.execute(
        "select valid_from_publication, is_partial_period, is_small_denominator is not null"
        " from history.indicator_values where entity_key = 'institution|DBTHZ01' and indicator_id = 'B.1.1'"
        " and period_type = 'month' and period_start = '2024-03-01' and valid_from_publication >= %s"
        " order by valid_from_publication", (first.publication_id,)).fetchall()
    assert march_institution == [(first.publication_id, True, True), (publication.publication_id, False, True)]
    changed = [c for c in history.changes(db, period_type="month", start=march[0], end=march[-1], region="330000",
                                          from_publication=first.publication_id,
                                          to_publication=publication.publication_id)
               if c.level not in ("county", "city", "province")]  # regions also count other tests' institutions
    assert changed and all(c.new_partial is False for c in changed) and all(c.old_partial for c in changed if c.old)
    assert all(c.old_small_denominator is not None for c in changed if c.old and c.old[1])
    # The sliced publication found current values without marks, so it compared every period and marked them.
    assert db.execute("select count(*) from history.indicator_values"
                      " where valid_to_publication is null and is_partial_period is null").fetchone()[0] == 0
    assert db.execute(
        "select count(*) filter (where valid_from_publication = %(p)s and is_partial_period is not null),"
        " count(*) filter (where valid_to_publication = %(p)s and is_partial_period is null)"
        " from history.indicator_values where period_type = 'month' and period_start = '2025-02-01'",
        {"p": publication.publication_id}).fetchone() == (unmarked, unmarked)
