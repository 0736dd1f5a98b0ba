"""The sandbox during a whole run: test accounts sent through the same intake as the published pipeline's
hospitals (tests/conftest.py, ``_submit_sandbox_traffic``), and none of it reached raw, the request log, the marts,
completeness, the extracts or the alerts.

The registered institution's sandbox sent the day its production report was refused and other counts (with a
quarantine break) for a day it reported; a sandbox-only institution sent the same. Expected figures are computed
here from the production reports alone. They are checked for the periods holding those days (2025), which no
later test adds to.
"""

from __future__ import annotations

import csv
import gzip
import subprocess
from collections import defaultdict
from datetime import date, datetime, time, timedelta

import openpyxl
import psycopg
import pytest

from vte import domain, regions, sandbox, warehouse
from vte.access import roles
from vte.alerts import detect
from vte.alerts.model import LOCAL_TZ
from vte.alerts.scope import Scope
from vte.extracts.create import create_extract
from vte.extracts.periods import parse_period
from vte.landing import read_document

pytestmark = pytest.mark.slow  # the shared published pipeline takes minutes to build


def _query(pp, sql: str, params=()) -> list[tuple]:
    with psycopg.connect(warehouse.url(pp.settings), autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


def _submission_ids(traffic) -> list[str]:
    ids = []
    for _, _, channel, answer in traffic.sent:
        if answer["code"] == 0:
            data = answer["data"]
            ids += [s["submissionId"] for s in data["submissions"]] if channel == "excel" else [data["submissionId"]]
    return ids


def _test_keys(traffic) -> list[str]:
    return [creds.access_key for creds in traffic.credentials.values()]


def _names(traffic) -> list[str]:
    """What would betray sandbox data in a table or a file: the sandbox-only institution and the test keys."""
    return [traffic.sandbox_only_code, "沙箱测试医院", *_test_keys(traffic)]


def _period_starts(day: date) -> dict[str, date]:
    return {"month": day.replace(day=1), "quarter": day.replace(month=3 * ((day.month - 1) // 3) + 1, day=1),
            "year": day.replace(month=1, day=1)}


def _entities(pp, code: str) -> list[tuple[str, str]]:
    county = next(i.county_code for i in pp.institutions if i.code == code)
    parents = {r["region_code"]: r["parent_code"] for path in regions.bundled_files()
               for r in regions.read_region_file(path)}
    return [("institution", code), ("county", county), ("city", parents[county]), ("province", "330000")]


def _production_sums(pp, level: str, entity: str, period_type: str, start: date) -> dict[str, tuple[int, int]]:
    """indicator -> (Σ numerator, Σ denominator) over the accepted production reports, quarantined rows left out."""
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    quarantine = [r for r in domain.rules() if r.severity == "quarantine"]
    for (code, day_text), rows in pp.accepted.items():
        day = date.fromisoformat(day_text)
        if _period_starts(day)[period_type] != start or (level, entity) not in _entities(pp, code):
            continue
        for row in rows:
            if any(row[r.lesser] > row[r.greater] for r in quarantine):
                continue
            for ind in domain.indicators():
                sums[ind.indicator_id][0] += row[ind.numerator]
                sums[ind.indicator_id][1] += row[ind.denominator]
    return {k: (v[0], v[1]) for k, v in sums.items()}


def test_the_sandbox_received_and_judged_the_traffic(published_pipeline):
    """The traffic did happen: the sandbox stored what it accepted and judged both institutions passed."""
    traffic = published_pipeline.sandbox
    with warehouse.connect(published_pipeline.settings, role=roles.ADMIN) as conn:
        status = {r["institution_code"]: r for r in sandbox.status(conn, published_pipeline.settings)}
    registered, only = status[traffic.registered_code], status[traffic.sandbox_only_code]
    assert (registered["sandbox_submissions"], only["sandbox_submissions"]) == (2, 3)  # only's Excel upload too
    assert registered["held_out_submissions"] == only["held_out_submissions"] == 1
    assert registered["refused_requests"] == only["refused_requests"] == 1
    assert registered["passed"] and only["passed"]
    assert registered["has_production_account"] and not only["has_production_account"]
    landed = {read_document(path)["submission_id"]
              for path in sandbox.landing_root(published_pipeline.settings).rglob("v*.json")}
    assert len(_submission_ids(traffic)) == 5 and set(_submission_ids(traffic)) <= landed


def test_no_sandbox_submission_reached_raw_or_the_request_log(published_pipeline):
    pp, traffic = published_pipeline, published_pipeline.sandbox
    ids, keys = _submission_ids(traffic), _test_keys(traffic)
    assert _query(pp, "select count(*) from raw.submissions where submission_id = any(%s::uuid[])"
                      " or access_key = any(%s) or institution_code = %s",
                  (ids, keys, traffic.sandbox_only_code)) == [(0,)]
    assert _query(pp, "select count(*) from raw.submission_rows where submission_id = any(%s::uuid[])",
                  (ids,)) == [(0,)]
    assert _query(pp, "select count(*) from ops.intake_requests where access_key = any(%s) or institution_code = %s",
                  (keys, traffic.sandbox_only_code)) == [(0,)]
    # The registered institution's own days hold its production versions only.
    versions = dict(_query(pp, "select report_date::text, count(*) from raw.submissions where institution_code = %s"
                               " and report_date = any(%s::date[]) group by 1",
                           (traffic.registered_code, [traffic.missing_day, traffic.reported_day])))
    assert versions == {traffic.reported_day: 1}
    (discharges,) = _query(pp, "select sum(r.discharge_hospital) from raw.submission_rows as r join raw.submissions"
                               " as s using (submission_id) where s.institution_code = %s and s.report_date = %s",
                           (traffic.registered_code, traffic.reported_day))
    assert discharges[0] == sum(r["dischargeHospital"] for r in pp.accepted[(traffic.registered_code,
                                                                              traffic.reported_day)])


def test_the_marts_hold_the_production_reports_only(published_pipeline):
    pp, traffic = published_pipeline, published_pipeline.sandbox
    tables = [t for (t,) in _query(pp, "select table_name from information_schema.tables where table_schema = 'marts'")]
    assert "fct_indicator_values" in tables and "fct_reporting_completeness" in tables
    for table in tables:
        found = _query(pp, f"select count(*) from marts.{table} as t where t::text ~ %s", ("|".join(_names(traffic)),))
        assert found == [(0,)], table

    day = date.fromisoformat(traffic.missing_day)
    assert date.fromisoformat(traffic.reported_day).replace(day=1) == day.replace(day=1)
    checked = 0
    for level, entity in _entities(pp, traffic.registered_code):
        for period_type, start in _period_starts(day).items():
            published = {r[0]: (r[1], r[2]) for r in _query(pp, (
                "select indicator_id, numerator, denominator from marts.fct_indicator_values where level = %s"
                " and entity_code = %s and period_type = %s and period_start = %s"),
                (level, entity, period_type, start))}
            expected = _production_sums(pp, level, entity, period_type, start)
            assert published == expected and len(expected) == len(domain.indicators()), (level, entity, period_type)
            checked += 1
    assert checked == 12


def test_a_sandbox_day_is_not_received_and_a_sandbox_only_institution_not_expected(published_pipeline):
    pp, traffic = published_pipeline, published_pipeline.sandbox
    month = date.fromisoformat(traffic.missing_day).replace(day=1)
    (row,) = _query(pp, "select days_received, missing_dates from marts.fct_reporting_completeness where level ="
                        " 'institution' and entity_code = %s and period_type = 'month' and period_start = %s",
                    (traffic.registered_code, month))
    received = {d for (code, d) in pp.accepted if code == traffic.registered_code and d[:7] == f"{month:%Y-%m}"}
    assert row[0] == len(received) and date.fromisoformat(traffic.missing_day) in row[1]
    (province,) = _query(pp, "select days_received from marts.fct_reporting_completeness where level = 'province'"
                             " and period_type = 'month' and period_start = %s", (month,))
    assert province[0] == sum(d[:7] == f"{month:%Y-%m}" for (_, d) in pp.accepted)


def test_an_extract_of_the_sandbox_days_month_holds_the_production_reports_only(published_pipeline):
    pp, traffic = published_pipeline, published_pipeline.sandbox
    month = date.fromisoformat(traffic.missing_day).replace(day=1)
    made = create_extract(parse_period(f"{month:%Y-%m}"), kind="preliminary", actor="test", settings=pp.settings)
    texts = [p.read_text(encoding="utf-8-sig") for p in made.files if p.suffix == ".csv"]
    texts += [gzip.decompress(made.inputs_path.read_bytes()).decode(), made.manifest_path.read_text()]
    (workbook,) = [p for p in made.files if p.suffix == ".xlsx"]
    cells = [str(v) for sheet in openpyxl.load_workbook(workbook, read_only=True).worksheets
             for row in sheet.iter_rows(values_only=True) for v in row if v is not None]
    assert len(texts) > 3 and len(cells) > 100
    for name in _names(traffic):
        assert not any(name in text for text in texts) and not any(name in cell for cell in cells), name

    (institutions,) = [p for p in made.files if p.name == "institutions.csv"]
    with institutions.open(encoding="utf-8-sig", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["机构编码 Institution code"] == traffic.registered_code]
    published = {r["指标编号 Indicator ID"]: (int(r["分子 Numerator"]), int(r["分母 Denominator"]))
                 for r in rows}
    assert published == _production_sums(pp, "institution", traffic.registered_code, "month", month)


def test_alerts_count_no_sandbox_day_and_name_no_sandbox_only_institution(in_published_home):
    pp, traffic = in_published_home, in_published_home.sandbox
    day = date.fromisoformat(traffic.missing_day)
    just_after_the_deadline = datetime.combine(day + timedelta(days=2), time(1), LOCAL_TZ)
    with warehouse.connect(pp.settings, role=roles.MONITOR, autocommit=True) as conn:
        scope = Scope.read(conn)
        missing = detect.missing_reports(conn, scope, just_after_the_deadline)
        findings = missing + detect.late_reports(conn, scope, just_after_the_deadline) + \
            detect.consecutive_missing(conn, scope, just_after_the_deadline)
    # The sandbox's report for that day does not count: the institution is missing it.
    assert f"missing_report:{traffic.registered_code}:{traffic.missing_day}" in {f.subject for f in missing}
    assert not any(traffic.sandbox_only_code in f"{f.subject} {f.message} {f.institution_code}" for f in findings)

    ran = subprocess.run(["vte", "alerts", "run"], capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr
    assert _query(pp, "select count(*) from alerts.alerts") != [(0,)]
    assert _query(pp, "select count(*) from alerts.alerts as a where a::text ~ %s", ("|".join(_names(traffic)),)) \
        == [(0,)]
