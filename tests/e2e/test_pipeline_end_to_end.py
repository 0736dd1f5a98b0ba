"""The whole product: generator data over HTTP (JSON and Excel) → `vte pipeline run` → published marts.

The expected indicator values are computed here from the accepted submissions themselves (newest version
per institution and date, quarantined rows left out, Σ numerator / Σ denominator), sharing nothing with dbt.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import psycopg
import pytest

from vte import client, domain, generator, pipeline, regions
from vte.publication import feedback

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


def test_an_institution_fetches_its_feedback_over_the_signed_interface(published_pipeline):
    pp = published_pipeline
    quarantined = sorted((code, day) for (code, day), rows in pp.accepted.items() if any(map(_is_quarantined, rows)))
    code, day = quarantined[0]
    creds = pp.credentials[code]
    answer = client.fetch_feedback(pp.intake_url, creds.access_key, creds.access_secret, day)
    assert answer["code"] == 0
    assert answer["data"]["institutionCode"] == code and answer["data"]["reportDate"] == day
    assert answer["data"]["quarantinedRows"] and all(r["reportDate"] == day for r in answer["data"]["quarantinedRows"])

    refused = client.fetch_feedback(pp.intake_url, creds.access_key, "not-the-secret", day)
    assert refused["code"] == 40101 and "data" not in refused or not (refused.get("data") or {}).get("quarantinedRows")
    bad_date = client.fetch_feedback(pp.intake_url, creds.access_key, creds.access_secret, "2026-02-30")
    assert bad_date["code"] == 40002 and "2026-02-30" in bad_date["message"]


# Last in this module: they add data to the published pipeline's warehouse (the tests above count on it unchanged).
def test_one_hospitals_broken_month_is_held_out_and_the_province_publishes(published_pipeline):
    """A hospital whose whole September is quarantined: its rows are held out and it vanishes from a complete
    month, both are alerted and shown in its feedback, and everybody else's new data is published."""
    pp = published_pipeline
    url = _url(pp)
    (broken,) = generator.synthetic_institutions(1, 977, date(2026, 8, 1))
    with psycopg.connect(url, autocommit=True) as conn:
        creds = generator.register_institutions(conn, [broken], pp.settings)[broken.code]
        publications_before = conn.execute("select count(*) from ops.publications where success").fetchone()[0]
    for sub in generator.iter_submissions([broken], date(2026, 8, 1), date(2026, 10, 31), 977):
        rows = sub.data
        if "2026-09-01" <= sub.date <= "2026-09-30":
            rows = [{**r, "riskAssessment": r["dischargeHospitalNodaily"] + 1} for r in rows]
        _submit_until_known(pp.intake_url, creds, {"date": sub.date, "data": rows})

    assert pipeline.run_once(pp.settings) is True

    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("select count(*) from ops.publications where success").fetchone()[0] == publications_before + 1
        months = {r[0].isoformat()[:7] for r in conn.execute(
            "select period_start from marts.fct_indicator_values where level = 'institution' and entity_code = %s"
            " and period_type = 'month'", (broken.code,))}
        assert months == {"2026-08", "2026-10"}
        alerts = dict(conn.execute("select stage, failures::text from ops.alerts where run_id ="
                                   " (select max(run_id) from ops.alerts where stage = 'held_out')"))
        assert broken.code in alerts["held_out"] and broken.code in alerts["vanished"]
    report = feedback.latest_report(broken.code, pp.settings)
    assert {r["reportDate"][:7] for r in report["quarantinedRows"]} == {"2026-09"}


def test_a_feed_wide_break_keeps_the_previous_publication(published_pipeline):
    """Every institution's newest day breaks the same rule at once: that is the feed, not a hospital. The staged
    gate fails, the run fails, an alert is recorded and the analysts' marts stay exactly as they were."""
    pp = published_pipeline
    url = _url(pp)
    with psycopg.connect(url, autocommit=True) as conn:
        before = _fingerprint(conn)
        publications_before = conn.execute("select count(*) from ops.publications where success").fetchone()[0]
    day = pp.end.isoformat()
    reporting = {code: creds for code, creds in pp.credentials.items() if (code, day) in pp.accepted}
    for code, creds in reporting.items():
        rows = [{**r, "riskAssessment": r["dischargeHospitalNodaily"] + 1} for r in pp.accepted[(code, day)]]
        _submit_until_known(pp.intake_url, creds, {"date": day, "data": rows})

    assert pipeline.run_once(pp.settings) is False

    with psycopg.connect(url, autocommit=True) as conn:
        assert _fingerprint(conn) == before
        assert conn.execute("select count(*) from ops.publications where success").fetchone()[0] == publications_before
        alert = conn.execute("select stage, message from ops.alerts order by alert_id desc limit 1").fetchone()
        assert alert[0] == "staged" and "Q.B.1.1" in alert[1]

    # The vendor fixes the feed and the hospitals resend the day: the next run publishes again.
    for code, creds in reporting.items():
        _submit_until_known(pp.intake_url, creds, {"date": day, "data": pp.accepted[(code, day)]})
    assert pipeline.run_once(pp.settings) is True
    with psycopg.connect(url, autocommit=True) as conn:
        assert _fingerprint(conn) == before  # the same data as before the break, published anew


def _fingerprint(conn) -> tuple:
    return conn.execute(
        "select count(*), md5(string_agg(t::text, '|' order by t::text)) from marts.fct_indicator_values as t"
    ).fetchone()


def _submit_until_known(intake_url: str, creds, payload: dict) -> None:
    """Submit; a brand-new account is known to the service within its refresh interval."""
    for _ in range(40):
        answer = client.submit(intake_url, creds.access_key, creds.access_secret, payload)
        if answer["code"] == 0:
            return
        assert answer["code"] == 40103, answer  # unknown key: not refreshed yet
        time.sleep(0.25)
    raise AssertionError(f"the intake never accepted {payload['date']}")
