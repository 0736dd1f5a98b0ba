"""What the gate and the publish step record in ops.alerts becomes alerts (once each); a failed Airflow run
opens a dag_failed alert through the callback, and the DAG's next success resolves it."""

from __future__ import annotations

from datetime import date, datetime, timezone
from types import SimpleNamespace

from vte.access import roles
from vte.alerts import callbacks
from vte.publication import publish
from vte.publication.gate import Failure

from alert_world import World, shanghai

WENCHENG, ZHEJIANG = "330328", "330000"
NOW = shanghai(date(2026, 3, 2), 9, 0)


def test_the_gates_rows_become_alerts_once_and_resolve_when_they_pass(world: World):
    world.register("H330328904", WENCHENG, date(2026, 3, 1), name="文成县暂扣医院")
    with world.connect(roles.PUBLISHER) as conn:  # as vte_transform's steps write them
        publish.record_alert(conn, "run-1", "held_out", [
            {"institution_code": "H330328904", "rows": 2, "report_dates": 1, "reasons": ["Q.B.2.1"]}],
            "2 rows held out")
        publish.record_alert(conn, "run-1", "vanished", [
            {"institution_code": "H330328904", "missing_month": "2026-02-01"}], "1 institution vanished")
        failed = Failure("expect_column_values_to_not_be_null", {"column": "rate"}, {"unexpected_count": 3},
                         "3 rates are null")
        publish.record_alert(conn, "run-1", "marts", [failed], "marts gate failed: 1 expectation")

    detected, _ = world.run(NOW)

    assert detected.opened == {"held_out": 1, "vanished": 1, "gate_stopped": 1}
    assert world.alerts("held_out") + world.alerts("vanished") + world.alerts("gate_stopped") == [
        ("held_out:H330328904", "warning", WENCHENG, "open"),
        ("vanished:H330328904:2026-02", "warning", WENCHENG, "open"),
        ("gate_stopped:marts", "critical", ZHEJIANG, "open"),
    ]
    [(message,)] = world.query("select message from alerts.alerts where kind = 'held_out'")
    assert message.startswith("文成县暂扣医院(H330328904) 有 2 行数据") and "(Q.B.2.1)" in message

    # Bridged once: the next run only sees them again if the gate writes again.
    detected, _ = world.run(NOW.replace(hour=10))
    assert not (detected.opened or detected.bumped)
    with world.connect(roles.PUBLISHER) as conn:
        publish.record_alert(conn, "run-2", "marts", [], "marts gate failed again")
    detected, _ = world.run(NOW.replace(hour=11))
    assert detected.bumped == {"gate_stopped": 1} and len(world.alerts("gate_stopped")) == 1

    # A successful publication resolves the stopped gate; a report of February resolves the vanished month.
    world.query("insert into ops.publications (run_id, candidate_schema, published_schema, success)"
                " values ('run-3', 'marts_candidate', 'marts', true) returning publication_id")
    world.report("H330328904", date(2026, 2, 27))
    detected, _ = world.run(NOW.replace(hour=12))
    assert detected.resolved == {"gate_stopped": 1, "vanished": 1}
    assert world.alerts("gate_stopped")[0][3] == world.alerts("vanished")[0][3] == "resolved"


def test_a_failed_run_opens_one_alert_and_the_next_success_resolves_it(world, in_alerts_home):
    dag = SimpleNamespace(dag_id="vte_transform")

    def failed_task(run_id: str, error: str) -> dict:  # the context Airflow gives a task's failure callback
        ti = SimpleNamespace(dag_id="vte_transform", task_id="publish", run_id=run_id, try_number=3)
        return {"dag": dag, "ti": ti, "task_instance": ti, "run_id": run_id,
                "dag_run": SimpleNamespace(run_id=run_id), "exception": RuntimeError(error)}

    callbacks.on_failure(failed_task("scheduled__2026-03-02T01:00:00+00:00", "could not obtain lock\nDETAIL: …"))
    callbacks.on_failure(failed_task("scheduled__2026-03-02T02:00:00+00:00", "could not obtain lock"))

    [(subject, level, region, state, message, details)] = world.query(
        "select subject, level, region_code, state, message, details from alerts.alerts")
    assert (subject, level, region, state) == ("dag_failed:vte_transform", "critical", ZHEJIANG, "open")
    assert message == ("Airflow 运行失败：vte_transform.publish（scheduled__2026-03-02T02:00:00+00:00）：could not"
                       " obtain lock / Airflow run scheduled__2026-03-02T02:00:00+00:00 of vte_transform failed at"
                       " task publish: could not obtain lock")
    assert details["try_number"] == 3

    # Wired at the DAG level as well, the run's own callback (which knows only a reason) keeps the task's story.
    callbacks.on_failure({"dag": dag, "run_id": "scheduled__2026-03-02T02:00:00+00:00", "reason": "task_failure"})
    assert world.query("select message from alerts.alerts") == [(message,)]

    # The DAG-level success callback (context: dag, run_id, reason).
    callbacks.on_success({"dag": dag, "run_id": "scheduled__2026-03-02T03:00:00+00:00", "reason": "success"})
    assert world.query("select state from alerts.alerts") == [("resolved",)]


def test_a_callback_that_cannot_reach_the_warehouse_does_not_raise(tmp_path, monkeypatch):
    monkeypatch.setenv("VTE_HOME", str(tmp_path))  # no warehouse runs there
    callbacks.on_failure({"dag": SimpleNamespace(dag_id="vte_ingest"), "run_id": "manual__1",
                          "exception": RuntimeError("boom"), "ts": datetime.now(timezone.utc)})
