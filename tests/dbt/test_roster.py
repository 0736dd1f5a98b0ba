"""Expected departments (the roster): a dropped department is missing, not zero; a stated zero counts as reported.

A world of its own in the session province (one build): ROSTA01 has one campus and one department, ROSTB01
three departments on one campus and one on a second campus, its roster changed with `roster add|close`,
ROSTC01 two departments and no roster (then learned from its complete month). The expected figures come from
what the test landed and the stretches it declared, by the oracle below, not from the warehouse.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from cli_support import invoke, one_line_error
from conftest import AS_OF, SHANGHAI, on_time, valid_row

from vte import domain, registry
from vte.dbt import run_dbt
from vte.ingest import load_landing_zone
from vte.publication import feedback, gate, publish
from vte.quality import roster
from vte.reports.assembly import assemble

pytestmark = pytest.mark.slow

JOINED = date(2025, 3, 1)
MARCH = [JOINED + timedelta(days=i) for i in range(31)]
APRIL = [date(2025, 4, 1), date(2025, 4, 2), date(2025, 4, 3)]  # AS_OF is 2025-04-03
ONE, MANY, NONE = "ROSTA01", "ROSTB01", "ROSTC01"
MAIN, BRANCH = "院本部", "分院"
ICU_CLOSED, BRANCH_ADDED = date(2025, 3, 20), date(2025, 3, 15)
DROPPED_DAY = date(2025, 3, 10)  # ROSTB01's second version of this day leaves out WK


def zero_row(hospital: str, dept: str) -> dict:
    """A department stating "no discharges": every count 0."""
    return {"hospital": hospital, "dept": dept, **{name: 0 for name in domain.count_field_names()}}


def oracle(stretches: dict, sent: dict, expected_days: list[date], period: list[date]) -> dict:
    """(campus, dept) -> (days_expected, days_reported, days_reported_zero, days_missing, missing, zeros) over
    ``period``; ``sent`` maps each day to its newest version's {(campus, dept): is_zero} (a day absent: nothing)."""
    figures = {}
    keys = set(stretches) | {key for day in period for key in sent.get(day, {})}
    for key in keys:
        expected = [d for d in period if d in expected_days
                    and any(start <= d and (end is None or d < end) for start, end in stretches.get(key, []))]
        present = {d: sent[d][key] for d in period if key in sent.get(d, {})}
        missing = [d for d in expected if d not in present]
        zeros = [d for d in period if present.get(d) is True]
        if expected or present:
            figures[key] = (len(expected), sum(1 for z in present.values() if not z), len(zeros), len(missing),
                            missing, zeros)
    return figures


def department_completeness(db, code: str, month: date) -> dict:
    return {(r[0], r[1]): r[2:] for r in db.execute(
        "select campus, department_code, days_expected, days_reported, days_reported_zero, days_missing,"
        " missing_dates, reported_zero_dates from marts.fct_department_completeness"
        " where institution_code = %s and period_type = 'month' and period_start = %s", (code, month))}


@pytest.fixture(scope="module")
def world(province, warehouse_url):
    with psycopg.connect(warehouse_url, autocommit=True) as db:
        yield from _world(province, db)


def _world(province, db):
    started = time.monotonic()
    rng = province.rng
    keys = {code: registry.register(db, code=code, name=name, level="二级", county_code="330328",
                                    joined_on=JOINED).access_key
            for code, name in ((ONE, "单科室测试医院"), (MANY, "多科室测试医院"), (NONE, "无名单测试医院"))}
    sent: dict[str, dict[date, dict]] = {ONE: {}, MANY: {}, NONE: {}}

    def land(code: str, day: date, rows: list[dict], version: int = 1) -> None:
        received = on_time(day) if version == 1 else datetime.combine(day + timedelta(days=1), datetime.min.time(),
                                                                         SHANGHAI) + timedelta(hours=3)
        province.zone.land(institution_code=code, access_key=keys[code], channel="api",
                           payload={"date": day.isoformat(), "data": rows}, received_at=received)
        sent[code][day] = {(r["hospital"], r["dept"]): all(r[n] == 0 for n in domain.count_field_names())
                           for r in rows}

    # ROSTA01: one department; 03-08 and 04-01 stated as no discharges, 04-02 never sent.
    for day in [*MARCH, APRIL[0], APRIL[2]]:
        stated_zero = day in (date(2025, 3, 8), APRIL[0])
        land(ONE, day, [zero_row("本院", "QY") if stated_zero else valid_row(rng, "本院", "QY")])
    # ROSTB01: ICU until it closes, the branch's NK from the day before it was added, WK stated zero on
    # 03-05 and dropped by the second version of 03-10; 04-02 never sent.
    for day in [*MARCH, APRIL[0], APRIL[2]]:
        depts = [(MAIN, "NK"), (MAIN, "WK")] + ([(MAIN, "ICU")] if day < ICU_CLOSED else []) \
            + ([(BRANCH, "NK")] if day >= BRANCH_ADDED - timedelta(days=1) else [])
        rows = [zero_row(*d) if (d, day) == ((MAIN, "WK"), date(2025, 3, 5)) else valid_row(rng, *d) for d in depts]
        land(MANY, day, rows)
        if day == DROPPED_DAY:
            land(MANY, day, [r for r in rows if r["dept"] != "WK"], version=2)
    # ROSTC01: no roster; every day of March, nothing in April.
    for day in MARCH:
        land(NONE, day, [valid_row(rng, "本院", "NK"), valid_row(rng, "本院", "WK")])
    assert load_landing_zone(db, province.zone).loaded == 33 + 34 + 31

    # The rosters, as an operator declares them (audited).
    invoke("roster", "add", ONE, "--campus", "本院", "--department", "QY", "--name", "全院", "--from",
           JOINED.isoformat(), "--reason", "医院申报")
    for dept in ("NK", "WK", "ICU"):
        invoke("roster", "add", MANY, "--campus", MAIN, "--department", dept, "--from", JOINED.isoformat(),
               "--reason", "医院申报")
    invoke("roster", "close", MANY, "--campus", MAIN, "--department", "ICU", "--from", ICU_CLOSED.isoformat(),
           "--reason", "ICU 并入内科")
    invoke("roster", "add", MANY, "--campus", BRANCH, "--department", "NK", "--name", "分院内科", "--from",
           BRANCH_ADDED.isoformat(), "--reason", "分院开科")
    province.build(db)
    stretches = {
        ONE: {("本院", "QY"): [(JOINED, None)]},
        MANY: {(MAIN, "NK"): [(JOINED, None)], (MAIN, "WK"): [(JOINED, None)], (MAIN, "ICU"): [(JOINED, ICU_CLOSED)],
               (BRANCH, "NK"): [(BRANCH_ADDED, None)]},
    }
    yield {"sent": sent, "stretches": stretches}
    print(f"roster world: {time.monotonic() - started:.1f} s")


@pytest.mark.parametrize("code", [ONE, MANY])
@pytest.mark.parametrize("month", [MARCH, APRIL], ids=["march", "april"])
def test_department_completeness_is_the_oracles(world, db, code, month):
    expected_days = [d for d in [*MARCH, *APRIL] if d <= AS_OF]
    want = oracle(world["stretches"][code], world["sent"][code], expected_days, month)
    got = department_completeness(db, code, month[0])
    assert got == {key: (e, r, z, m, missing, zeros) for key, (e, r, z, m, missing, zeros) in want.items()}


def test_a_dropped_department_is_missing_not_zero(world, db):
    march = department_completeness(db, MANY, date(2025, 3, 1))
    assert DROPPED_DAY in march[(MAIN, "WK")][4] and DROPPED_DAY not in march[(MAIN, "WK")][5]
    # the published counts have no row for it that day: summed, it would have read as zero
    assert db.execute("select count(*) from marts.fct_department_days where institution_code = %s"
                      " and report_date = %s and department = 'WK'", (MANY, DROPPED_DAY)).fetchone()[0] == 0
    # a day never sent leaves every department expected that day missing, the closed ICU not
    april = department_completeness(db, MANY, date(2025, 4, 1))
    assert {key for key, row in april.items() if APRIL[1] in row[4]} == {(MAIN, "NK"), (MAIN, "WK"), (BRANCH, "NK")}


def test_a_stated_zero_counts_as_reported(world, db):
    rate, zero_dates, name = db.execute(
        "select completeness_rate, reported_zero_dates, department_name from marts.fct_department_completeness"
        " where institution_code = %s and period_type = 'month' and period_start = '2025-04-01'", (ONE,)).fetchone()
    assert zero_dates == [APRIL[0]] and name == "全院"
    assert rate == round(Decimal(100) * 2 / 3, 4)  # 04-01 stated zero and 04-03 count; 04-02 is missing
    received = db.execute("select days_received, days_missing from marts.fct_reporting_completeness"
                          " where level = 'institution' and entity_code = %s and period_type = 'month'"
                          " and period_start = '2025-04-01'", (ONE,)).fetchone()
    assert received == (2, 1)


def test_closed_and_added_departments_follow_their_dates(world, db):
    march = department_completeness(db, MANY, date(2025, 3, 1))
    assert march[(MAIN, "ICU")][:4] == ((ICU_CLOSED - JOINED).days, (ICU_CLOSED - JOINED).days, 0, 0)
    assert (MAIN, "ICU") not in department_completeness(db, MANY, date(2025, 4, 1))
    branch = db.execute(
        "select days_expected, days_not_expected, is_on_roster from marts.fct_department_completeness"
        " where institution_code = %s and campus = %s and department_code = 'NK' and period_type = 'month'"
        " and period_start = '2025-03-01'", (MANY, BRANCH)).fetchone()
    assert branch == ((date(2025, 4, 1) - BRANCH_ADDED).days, 1, True)  # sent the day before its date too


def test_without_a_roster_nothing_is_expected_below_the_institution(world, db):
    rows = db.execute(
        "select department_code, has_roster, days_expected, days_missing, days_reported, completeness_rate"
        " from marts.fct_department_completeness where institution_code = %s and period_type = 'month'"
        " and period_start = '2025-03-01' order by department_code", (NONE,)).fetchall()
    assert rows == [("NK", False, None, None, 31, None), ("WK", False, None, None, 31, None)]


def test_learn_proposes_the_last_complete_month_and_confirm_stores_it_audited(world, db):
    shown = invoke("roster", "learn", NONE)
    assert "2025-03" in shown.stdout and "本院/NK: present 31 days" in shown.stdout and "--confirm" in shown.stdout
    assert roster.entries(db, NONE) == []  # a proposal stores nothing
    invoke("roster", "learn", NONE, "--confirm")
    stored = roster.entries(db, NONE)
    assert [(e.campus, e.department_code, e.effective_from, e.effective_to, e.source) for e in stored] == [
        ("本院", "NK", JOINED, None, "learned"), ("本院", "WK", JOINED, None, "learned")]
    one_line_error("roster", "learn", NONE, "--confirm", says="has a roster already")
    assert "本院/WK" in invoke("roster", "show", NONE).stdout

    audited = db.execute(
        "select action, subject, details->>'reason' from ops.admin_audit where subject in (%s, %s, %s)"
        " and action like 'institution.roster.%%' order by audit_id", (ONE, MANY, NONE)).fetchall()
    assert [(a, s) for a, s, _ in audited] == [
        ("institution.roster.add", ONE), *[("institution.roster.add", MANY)] * 3, ("institution.roster.close", MANY),
        ("institution.roster.add", MANY), ("institution.roster.learn", NONE)]
    assert audited[4][2] == "ICU 并入内科"


def test_roster_errors_are_one_line(world):
    one_line_error("roster", "show", "NOSUCH01", says="not registered")
    one_line_error("roster", "add", ONE, "--campus", "本院", "--department", "QY", "--from", "2025-03-05",
                   "--reason", "重复", says="expected already")
    one_line_error("roster", "add", ONE, "--campus", "本院", "--department", "XK", "--from", "someday",
                   "--reason", "x", says="not a date")
    one_line_error("roster", "close", ONE, "--campus", "本院", "--department", "XK", "--from", "2025-03-05",
                   "--reason", "x", says="not on ROSTA01's roster")
    one_line_error("roster", "close", ONE, "--campus", "本院", "--department", "QY", "--from", "2025-02-01",
                   "--reason", "x", says="before 本院/QY was expected")
    one_line_error("roster", "learn", MANY, "--month", "2025-13", says="not a month")
    one_line_error("roster", "learn", MANY, "--month", "2025-01", says="no published department rows")
    one_line_error("roster", "learn", MANY, "--month", "2099-01", says="has not ended")


def test_feedback_and_my_reports_list_a_missing_department_by_name_and_a_stated_zero_as_reported(world, db):
    institution = {"institution_code": ONE, "institution_name": "单科室测试医院"}
    one = assemble(feedback.build_report(db, institution, 0, AS_OF))
    days = {d["date"]: d for d in one["days"]}
    assert days["2025-04-01"]["status"] == "on_time" and days["2025-04-02"]["versions"] == []
    assert [(m["dept"], m["name"]) for m in days["2025-04-01"]["reportedZeroDepartments"]] == [("QY", "全院")]
    assert days["2025-04-01"]["missingDepartments"] == []
    assert "missing_departments" not in {g["group"] for g in one["problems"]}  # 04-02 is a missing day, listed once

    many = assemble(feedback.build_report(db, {"institution_code": MANY, "institution_name": "多科室测试医院"}, 0, AS_OF))
    groups = {g["group"]: g["items"] for g in many["problems"]}
    assert [(i["reportDate"], i["hospital"], i["dept"]) for i in groups["missing_departments"]] == [
        (DROPPED_DAY.isoformat(), MAIN, "WK")]
    assert [m["dept"] for m in {d["date"]: d for d in many["days"]}[DROPPED_DAY.isoformat()]["missingDepartments"]] \
        == ["WK"]
    assert [(d["hospital"], d["dept"], d["daysMissing"]) for d in many["departments"] if d["month"] == "2025-03"
            and d["daysMissing"]] == [(MAIN, "WK", 1)]


def _publish(db, *, publish_all: bool = False) -> publish.Publication:
    """A dbt build into the candidate schema and its publication, as vte_transform does (the gate's verdict given)."""
    run_id = f"roster-{time.monotonic_ns()}"
    run_dbt(["build"], vars={"as_of_date": AS_OF.isoformat(), "marts_schema": "marts_candidate",
                             "publish_all": publish_all})
    return publish.publish(db, "marts_candidate", "marts", run_id=run_id,
                           gate_result=gate.GateResult("marts", "marts_candidate", run_id, True, {}))


def test_a_roster_change_dated_in_a_published_month_is_republished_by_the_next_sliced_publication(
        world, db, province):
    """No new submission: the roster change alone makes the months from its date to as_of_date touched."""
    invoke("roster", "add", ONE, "--campus", "本院", "--department", "ER", "--from", "2025-03-28",
           "--reason", "急诊开科")
    try:
        _publish(db, publish_all=True)
        assert department_completeness(db, ONE, date(2025, 3, 1))[("本院", "ER")][3] == 4
        total = db.execute("select count(*) from marts.fct_department_completeness").fetchone()[0]
        # after March was published: ER withdrawn (closed on its first date), KF declared from 03-25
        invoke("roster", "close", ONE, "--campus", "本院", "--department", "ER", "--from", "2025-03-28",
               "--reason", "误登")
        invoke("roster", "add", ONE, "--campus", "本院", "--department", "KF", "--name", "康复科", "--from",
               "2025-03-25", "--reason", "补登")
        sliced = _publish(db)
        assert 0 < sliced.row_counts["fct_department_completeness"] < total, "a sliced publication"
        march = department_completeness(db, ONE, date(2025, 3, 1))
        late_march = [date(2025, 3, 25) + timedelta(days=i) for i in range(7)]
        assert ("本院", "ER") not in march
        assert march[("本院", "KF")] == (7, 0, 0, 7, late_march, [])
        assert department_completeness(db, ONE, date(2025, 4, 1))[("本院", "KF")][:4] == (3, 0, 0, 3)
        quarter = db.execute("select days_missing from marts.fct_department_completeness where institution_code = %s"
                             " and department_code = 'KF' and period_type = 'quarter' and period_start = '2025-01-01'",
                             (ONE,)).fetchone()
        assert quarter == (7,)
    finally:
        province.build(db)  # the other dbt tests read the marts as built by `vte dbt build`
