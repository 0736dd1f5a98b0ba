"""Airflow callbacks: a failed run opens a dag_failed alert; a successful run resolves it.

``on_failure`` works as a task's callback (``default_args["on_failure_callback"]``: called in the task's
process once the task has failed for good, after its retries, with ``ti``, ``dag_run`` and ``exception`` in
the context) and as a DAG's (``@dag(on_failure_callback=...)``: called by the DAG processor when the run
fails, with ``dag``, ``run_id`` and ``reason``). ``on_success`` is a DAG's ``on_success_callback``.

One alert per DAG (subject ``dag_failed:<dag_id>``), critical, for the province: further failures bump it
with the newest run, task and error. A callback never raises: a warehouse that cannot be reached is logged.
This module imports nothing heavy, so DAG files may import it at parse time.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

log = logging.getLogger(__name__)


def _dag_id(context) -> str | None:
    dag = context.get("dag")
    ti = context.get("ti") or context.get("task_instance")
    return getattr(dag, "dag_id", None) or getattr(ti, "dag_id", None)


def _run_id(context) -> str | None:
    dag_run = context.get("dag_run")
    ti = context.get("ti") or context.get("task_instance")
    return context.get("run_id") or getattr(dag_run, "run_id", None) or getattr(ti, "run_id", None)


def failure_finding(context, province: str):
    """The dag_failed finding a failure context stands for."""
    from vte.alerts.model import Finding

    dag_id = _dag_id(context) or "unknown_dag"
    run_id = _run_id(context) or "unknown run"
    ti = context.get("ti") or context.get("task_instance")
    task_id = getattr(ti, "task_id", None)
    error = context.get("exception") or context.get("reason") or ""
    error_line = (str(error).strip().splitlines() or [type(error).__name__ if error else "no reason given"])[0][:300]
    where = f"{dag_id}.{task_id}" if task_id else dag_id
    return Finding(
        kind="dag_failed", level="critical", region_code=province, subject=f"dag_failed:{dag_id}",
        message=(f"Airflow 运行失败：{where}（{run_id}）：{error_line} / Airflow run {run_id} of {dag_id} failed"
                 + (f" at task {task_id}" if task_id else "") + f": {error_line}"),
        details={"dag_id": dag_id, "run_id": run_id, "task_id": task_id, "error": error_line,
                 "try_number": getattr(ti, "try_number", None)})


def record_failure(conn, context, now: datetime | None = None) -> int | None:
    """Open or bump the DAG's dag_failed alert (``conn`` as vte_monitor); its id, or None without a province."""
    from vte.alerts.model import raise_alert
    from vte.alerts.scope import Scope

    province = Scope.read(conn).province()
    if province is None:
        return None
    finding = failure_finding(context, province)
    if context.get("exception") is None:
        # A DAG-level callback knows less than the task's, which may have recorded this run already.
        recorded = conn.execute(
            "select alert_id from alerts.alerts where subject = %s and state <> 'resolved'"
            " and details ->> 'run_id' = %s", (finding.subject, finding.details["run_id"])).fetchone()
        if recorded:
            return recorded[0]
    alert_id, _ = raise_alert(conn, finding, now or datetime.now(timezone.utc))
    return alert_id


def record_success(conn, context, now: datetime | None = None) -> int:
    """Resolve the DAG's dag_failed alert, if one is open; how many were resolved."""
    from vte.alerts.model import resolve_automatically

    dag_id = _dag_id(context)
    ids = [row[0] for row in conn.execute(
        "select alert_id from alerts.alerts where subject = %s and state <> 'resolved'", (f"dag_failed:{dag_id}",))]
    return resolve_automatically(conn, ids, f"之后的运行已成功 / a later run succeeded ({_run_id(context)})",
                                 now or datetime.now(timezone.utc))


def _as_monitor(action, context) -> None:
    try:
        from vte import warehouse
        from vte.access import roles

        with warehouse.connect(role=roles.MONITOR, autocommit=True) as conn:
            action(conn, context)
    except Exception:  # noqa: BLE001 - a callback must not fail the run a second time
        log.exception("could not record the run's outcome as an alert (%s)", getattr(action, "__name__", action))


def on_failure(context) -> None:
    """Airflow on_failure_callback (task or DAG level): open or bump the dag_failed alert."""
    _as_monitor(record_failure, context)


def on_success(context) -> None:
    """Airflow DAG-level on_success_callback: resolve the DAG's dag_failed alert."""
    _as_monitor(record_success, context)
