"""Run the pipeline once through real Airflow: vte_ingest, then vte_transform (dbt → gate → publish → feedback).

``run_once`` is what `vte pipeline run` calls. It prepares the warehouse and Airflow's metadata database,
then runs each DAG with ``dag.test()`` in a child process that has the product's Airflow environment
(Airflow reads its configuration when first imported, so the environment must be set before that).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from vte import warehouse
from vte.access import roles
from vte.airflow_env import airflow_env
from vte.config import DAGS_DIR, Settings, executable, get_settings

PIPELINE_DAGS = ("vte_ingest", "vte_transform")


def ensure_airflow_database(settings: Settings) -> None:
    """Create or upgrade Airflow's metadata database once per Airflow version."""
    from importlib.metadata import version

    marker = settings.airflow_home / f".db-migrated-{version('apache-airflow-core')}"
    if marker.exists():
        return
    settings.airflow_home.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([executable("airflow"), "db", "migrate"], env=os.environ | airflow_env(settings),
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{proc.stderr[-4000:]}")
    marker.touch()


def run_once(settings: Settings | None = None, conf: dict | None = None, dag_ids=PIPELINE_DAGS, *,
             verbose: bool = False) -> bool:
    """Run the DAGs once, in order; False as soon as one fails (its failed tasks and the log are named).

    Airflow's task logs go to ``$VTE_HOME/logs/pipeline-<time>.log`` unless ``verbose``.
    """
    settings = settings or get_settings()
    warehouse.start(settings)
    ensure_airflow_database(settings)
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    log_path = settings.logs_dir / f"pipeline-{datetime.now():%Y%m%dT%H%M%S}.log"
    summary_path = log_path.with_suffix(".summary.json")
    request = {"conf": conf or {}, "dag_ids": list(dag_ids), "summary": str(summary_path)}
    with open(log_path, "ab") as log:
        proc = subprocess.run([sys.executable, "-m", "vte.pipeline", json.dumps(request)],
                              env=os.environ | airflow_env(settings),
                              stdout=None if verbose else log, stderr=None if verbose else subprocess.STDOUT)
    runs = json.loads(summary_path.read_text()) if summary_path.exists() else []
    for run in runs:
        failed = f"; failed tasks: {', '.join(run['failed_tasks'])}" if run["failed_tasks"] else ""
        print(f"{run['dag_id']}: {run['state']} ({run['run_id']}){failed}", file=sys.stderr)
    if proc.returncode != 0:
        for message in _alerts(settings, [run["run_id"] for run in runs]):
            print(message, file=sys.stderr)
        print(f"the pipeline failed; Airflow's log: {log_path}", file=sys.stderr)
    return proc.returncode == 0


def _alerts(settings: Settings, run_ids: list[str]) -> list[str]:
    """The alerts the failed runs recorded (a failed gate lists its failed expectations)."""
    with warehouse.connect(settings, role=roles.ADMIN) as conn:
        return [row[0] for row in conn.execute(
            "select message from ops.alerts where run_id = any(%s) order by alert_id", (run_ids,))]


def _load_dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=DAGS_DIR / f"{dag_id}.py")
    if bag.import_errors:
        raise RuntimeError(f"DAG file of {dag_id} does not import: {bag.import_errors}")
    return bag.dags[dag_id]


def _test_dags(request: dict) -> int:
    runs = []
    try:
        for dag_id in request["dag_ids"]:
            run = _load_dag(dag_id).test(run_conf=request["conf"])
            failed = [ti.task_id for ti in run.get_task_instances() if ti.state in ("failed", "upstream_failed")]
            runs.append({"dag_id": dag_id, "run_id": run.run_id, "state": str(run.state), "failed_tasks": failed})
            if run.state != "success":
                return 1
        return 0
    finally:
        Path(request["summary"]).write_text(json.dumps(runs))


if __name__ == "__main__":
    sys.exit(_test_dags(json.loads(sys.argv[1])))
