"""Outliers against a department's own history (the outlier_rules seed), through the real warehouse and dbt.

A small world of its own, in the last quarter of 2023 (apart from the province's dates): a hospital with tiny
departments (Poisson means 1-3) and a one-department hospital report a quarter with no planted outlier; a
third hospital's small department sends one day with every count ×20, and another department one early day
×20, before it has the minimum history. The usual ranges are recomputed here from the documented formula.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import psycopg
import pytest

from cli_support import invoke, one_line_error
from conftest import AS_OF
from vte import domain, registry
from vte.dbt import run_dbt
from vte.ingest import load_landing_zone
from vte.landing import LandingZone
from vte.publication import feedback
from vte.reports import assembly

START = date(2023, 10, 1)
QUARTER = [START + timedelta(days=i) for i in range(90)]
# Documented in README (Decisions): at most 1 in 200 judged department-days alarm on normal noise.
FALSE_ALARM_RATE = 0.005
TINY = {"OUTT01": {"A": 1.0, "B": 1.5, "C": 2.0, "D": 3.0}, "OUTT02": {"A": 1.0}}
PLANTED = "OUTP01"
PLANTED_MEANS = {"A": 2.0, "B": 20.0}
PLANTED_DAY = QUARTER[60]  # department A, every count ×20
EARLY_DAY = QUARTER[10]  # department B, every count ×20, with 10 days of history only
HOSPITAL = "本院"


def counts(rng: np.random.Generator, discharges: int) -> dict[str, int]:
    """A department-day drawn from its discharges by nested binomial steps: every consistency rule holds."""
    def b(n: int, p: float) -> int:
        return int(rng.binomial(n, p))

    d = {"dischargeHospital": discharges, "distinctDischargeHospital": discharges}
    d["dischargeHospitalNodaily"] = nodaily = b(discharges, 0.9)
    d["riskAssessment"] = assessed = b(nodaily, 0.95)
    d["riskAssessmentInDaily"] = early = b(assessed, 0.9)
    d["initRiskAssessment"] = early
    d["highRiskAssessment"] = high = b(assessed, 0.4)
    d["highRiskAssessmentInDaily"] = b(min(early, high), 0.8)
    d["repeatRiskAssessment"] = b(assessed, 0.5)
    d["hemorrhageRiskAssessment"] = bleed_assessed = b(high, 0.9)
    d["highHemorrhageRiskAssessment"] = bleeding = b(bleed_assessed, 0.1)
    d["highRiskLowHemorrhage"] = low_bleeding = bleed_assessed - bleeding
    d["precaution"] = prophylaxis = b(high - bleeding, 0.9)
    d["precautionNoBase"] = b(prophylaxis, 0.7)
    d["medicine"] = b(low_bleeding, 0.5)
    d["mechanical"] = b(high, 0.5)
    d["basePreventNodaily"] = b(nodaily, 0.6)
    d["zgwBasePreventNodaily"] = b(high, 0.8)
    d["highVte"] = very_high = b(high, 0.4)
    d["highVteCheck"] = b(very_high, 0.3)
    d["chuyuanVte"] = confirmed = b(discharges, 0.05)
    d["hospitalVte"] = hospital_vte = b(confirmed, 0.5)
    d["newDvt"], d["newPe"], d["newDvtAndPe"] = (b(hospital_vte, p) for p in (0.5, 0.3, 0.2))
    d["vteDie"] = died = b(confirmed, 0.1)
    d["peDie"] = b(died, 0.5)
    d["surgery"] = surgery = b(discharges, 0.5)
    d["surgeryDvt"], d["surgeryPe"], d["surgeryDvtAndPe"] = (
        b(min(d[f], surgery), 0.5) for f in ("newDvt", "newPe", "newDvtAndPe"))
    assert not domain.broken_rules(d), domain.broken_rules(d)
    return d


@dataclass
class World:
    sent: dict  # (code, day, dept) -> counts as sent
    build_seconds: float


@pytest.fixture(scope="module")
def world(province, warehouse_url, settings) -> World:
    """The world landed, loaded and run through dbt from the new institutions and rows on (the province built the
    rest)."""
    rng = np.random.default_rng(20231001)
    zone = LandingZone(root=settings.home / "landing-outliers")
    sent: dict = {}
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        for code in [*TINY, PLANTED]:
            key = registry.register(conn, code=code, name=f"离群测试医院{code}", level="二级", county_code="330328",
                                    community=None, joined_on=START).access_key
            means = TINY.get(code, PLANTED_MEANS)
            days = QUARTER if code in TINY else QUARTER[:70]
            for day in days:
                rows = []
                for dept, mean in means.items():
                    planted = code == PLANTED and (day, dept) in ((PLANTED_DAY, "A"), (EARLY_DAY, "B"))
                    # the planted day starts from a usual 3 discharges, so ×20 cannot start from 0
                    row = counts(rng, 3 if planted else int(rng.poisson(mean)))
                    if planted:
                        row = {name: 20 * value for name, value in row.items()}
                    sent[(code, day, dept)] = row
                    rows.append({"hospital": HOSPITAL, "dept": dept, **row})
                zone.land(institution_code=code, access_key=key, channel="api",
                          payload={"date": day.isoformat(), "data": rows})
        assert load_landing_zone(conn, zone).loaded == len(QUARTER) * len(TINY) + 70
    started = time.monotonic()
    run_dbt(["run", "--select", "dim_institutions+", "int_department_days_classified+"],
            vars={"as_of_date": AS_OF.isoformat()})
    return World(sent, time.monotonic() - started)


def usual_range(history: list[int], rule: domain.OutlierRule) -> tuple[int, int, float]:
    """The documented usual range: median ± warning_z × greatest(1.4826 × MAD, √median, min_scale)."""
    median = statistics.median(history)
    mad = statistics.median(abs(v - median) for v in history)
    scale = max(1.4826 * mad, math.sqrt(median), float(rule.min_scale))
    low = max(math.ceil(median - float(rule.warning_z) * scale), 0)
    return low, math.floor(median + float(rule.warning_z) * scale), median


def test_a_planted_outlier_is_held_out_with_its_usual_range(world, db):
    print(f"dbt run of the outlier world: {world.build_seconds:.1f} s")
    rule = next(r for r in domain.outlier_rules() if r.field == "dischargeHospital")
    history = [world.sent[(PLANTED, PLANTED_DAY - timedelta(days=k), "A")]["dischargeHospital"]
               for k in range(1, rule.window_days + 1)]
    low, high, median = usual_range(history, rule)
    value = world.sent[(PLANTED, PLANTED_DAY, "A")]["dischargeHospital"]
    assert value > high
    [(outliers, held_out)] = db.execute(
        "select outliers, outlier_held_out_fields from marts.fct_quarantined_rows"
        " where institution_code = %s and report_date = %s and department = 'A'", (PLANTED, PLANTED_DAY)).fetchall()
    found = next(o for o in outliers if o["field"] == "dischargeHospital")
    assert (found["value"], found["usualLow"], found["usualHigh"]) == (value, low, high)
    assert found["median"] == pytest.approx(median, abs=0.05)
    assert (found["historyDays"], found["windowDays"], found["severity"]) == (rule.window_days, rule.window_days,
                                                                              "held_out")
    assert "dischargeHospital" in held_out
    assert not db.execute("select 1 from marts.fct_department_days where institution_code = %s"
                          " and report_date = %s and department = 'A'", (PLANTED, PLANTED_DAY)).fetchall()


def test_a_held_out_outlier_leaves_the_indicators(world, db):
    month = PLANTED_DAY.replace(day=1)
    held = db.execute("select report_date, department from marts.fct_quarantined_rows where institution_code = %s",
                      (PLANTED,)).fetchall()
    assert held == [(PLANTED_DAY, "A")]
    expected = sum(row["dischargeHospital"] for (code, day, dept), row in world.sent.items()
                   if code == PLANTED and day.replace(day=1) == month and (day, dept) != (PLANTED_DAY, "A"))
    [(denominator,)] = db.execute(
        "select denominator from marts.fct_indicator_values where level = 'institution' and entity_code = %s"
        " and period_type = 'month' and period_start = %s and indicator_id = 'B.3.1'", (PLANTED, month)).fetchall()
    assert denominator == expected


def test_below_the_minimum_history_nothing_is_judged(world, db):
    assert EARLY_DAY - START < timedelta(days=min(r.min_history_days for r in domain.outlier_rules()))
    [(status, outliers)] = db.execute(
        "select rule_status, outliers from int.int_department_days_classified where institution_code = %s"
        " and report_date = %s and department = 'B'", (PLANTED, EARLY_DAY)).fetchall()
    assert (status, outliers) == ("valid", [])


def test_tiny_departments_do_not_alarm_on_normal_noise(world, db):
    min_history = max(r.min_history_days for r in domain.outlier_rules())
    judged = sum(len(depts) for depts in TINY.values()) * (len(QUARTER) - min_history)
    alarms = db.execute(
        "select institution_code, report_date, department, outliers from int.int_department_days_classified"
        " where institution_code = any(%s) and outliers <> '[]'::jsonb", (list(TINY),)).fetchall()
    print(f"{len(alarms)} alarm(s) in {judged} judged tiny department-days")
    assert len(alarms) <= FALSE_ALARM_RATE * judged, alarms
    assert not any(o["severity"] == "held_out" for *_, outliers in alarms for o in outliers)


def planted_feedback(db) -> dict:
    """The planted hospital's feedback report two days after the planted day, from the marts as built."""
    [institution] = feedback._rows(db, "select institution_code, institution_name, county_code, county_name,"
                                       " province_code, province_name from marts.dim_institutions"
                                       " where institution_code = %s", (PLANTED,))
    return feedback.build_report(db, institution, publication_id=0, as_of=PLANTED_DAY + timedelta(days=2))


def test_the_feedback_shows_the_outlier_with_its_range_and_history(world, db):
    report = planted_feedback(db)
    [row] = [r for r in report["quarantinedRows"] if r["reportDate"] == PLANTED_DAY.isoformat()]
    rule = next(r for r in row["rules"] if r["ruleId"] == "O.dischargeHospital")
    value = world.sent[(PLANTED, PLANTED_DAY, "A")]["dischargeHospital"]
    assert row["values"]["dischargeHospital"] == value
    span = f"{rule['usualLow']}-{rule['usualHigh']}"
    assert str(value) in rule["en"] and span in rule["en"] and "56" in rule["en"]
    [problem] = [p for p in assembly.assemble(report)["problems"] if p["group"] == "quarantined"]
    [item] = [i for i in problem["items"] if i["reportDate"] == PLANTED_DAY.isoformat()]
    shown = next(b for b in item["broken"] if b["ruleId"] == "O.dischargeHospital")
    assert shown["comparison"].startswith(f"dischargeHospital {value}, usual {span} (median ")
    assert "常见范围" in shown["comparisonZh"]


def test_a_held_out_value_confirmed_as_real_counts_from_the_next_build(world, db):
    """The hospital says the surge was real; the data centre confirms the value (audited) and the next build
    counts the row, still flagged as a confirmed outlier. Another field of the same row stays held out."""
    value = world.sent[(PLANTED, PLANTED_DAY, "A")]["dischargeHospital"]
    listed = invoke("outliers", "list", PLANTED, "--month", f"{PLANTED_DAY:%Y-%m}").stdout
    assert f"{PLANTED_DAY.isoformat()} {HOSPITAL}/A v1 dischargeHospital = {value}" in listed and "held out" in listed
    confirm = ("outliers", "confirm", PLANTED, "--date", PLANTED_DAY.isoformat(), "--campus", HOSPITAL,
               "--department", "A")
    one_line_error(*confirm, "--field", "dischargeHospital", "--reason", " ", says="the reason is empty")
    one_line_error(*confirm[:4], (PLANTED_DAY - timedelta(days=1)).isoformat(), *confirm[5:], "--field",
                   "dischargeHospital", "--reason", "x", says="no outlier")
    one_line_error(*confirm[:4], "someday", *confirm[5:], "--field", "dischargeHospital", "--reason", "x",
                   says="--date 'someday' is not a date")

    held_fields = set(db.execute("select outlier_held_out_fields from marts.fct_quarantined_rows"
                                 " where institution_code = %s and report_date = %s", (PLANTED, PLANTED_DAY)
                                 ).fetchone()[0])
    for field in held_fields:  # every count of the day was ×20: confirm each held-out one
        invoke(*confirm, "--field", field, "--reason", "院方确认：当日批量出院（电话核实）")
    one_line_error(*confirm, "--field", "dischargeHospital", "--reason", "again", says="confirmed already")
    audited = db.execute("select details->>'field', (details->>'value')::int from ops.admin_audit"
                         " where action = 'institution.outlier.confirm' and subject = %s", (PLANTED,)).fetchall()
    assert {f for f, _ in audited} == held_fields and (("dischargeHospital", value) in audited)

    run_dbt(["run", "--select", "int_department_days_classified+"], vars={"as_of_date": AS_OF.isoformat()})
    assert not db.execute("select 1 from marts.fct_quarantined_rows where institution_code = %s and report_date = %s",
                          (PLANTED, PLANTED_DAY)).fetchall(), "confirmed: no longer held out"
    [(outliers, warned)] = db.execute(
        "select outliers, outlier_warning_fields from marts.fct_warning_rows where institution_code = %s"
        " and report_date = %s and department = 'A'", (PLANTED, PLANTED_DAY)).fetchall()
    assert {o["field"] for o in outliers if o["confirmed"]} == held_fields <= set(warned)
    month = PLANTED_DAY.replace(day=1)
    [(denominator,)] = db.execute(
        "select denominator from marts.fct_indicator_values where level = 'institution' and entity_code = %s"
        " and period_type = 'month' and period_start = %s and indicator_id = 'B.3.1'", (PLANTED, month)).fetchall()
    assert denominator == sum(row["dischargeHospital"] for (code, day, _), row in world.sent.items()
                              if code == PLANTED and day.replace(day=1) == month)
    assert "confirmed, counted" in invoke("outliers", "list", PLANTED, "--month", f"{PLANTED_DAY:%Y-%m}").stdout

    report = planted_feedback(db)
    [row] = [r for r in report["warningRows"] if r["reportDate"] == PLANTED_DAY.isoformat()]
    rule = next(r for r in row["rules"] if r["ruleId"] == "O.dischargeHospital")
    assert rule["confirmed"] and "confirmed as real by the data centre" in rule["en"]
