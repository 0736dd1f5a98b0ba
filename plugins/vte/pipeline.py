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

from vte import warehouse
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


def run_once(settings: Settings | None = None, conf: dict | None = None, dag_ids=PIPELINE_DAGS) -> bool:
    """Run the DAGs once, in order; False (with the failed tasks printed) as soon as one fails."""
    settings = settings or get_settings()
    warehouse.start(settings)
    ensure_airflow_database(settings)
    proc = subprocess.run(
        [sys.executable, "-m", "vte.pipeline", json.dumps({"conf": conf or {}, "dag_ids": list(dag_ids)})],
        env=os.environ | airflow_env(settings),
    )
    return proc.returncode == 0


def _load_dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=DAGS_DIR / f"{dag_id}.py")
    if bag.import_errors:
        raise RuntimeError(f"DAG file of {dag_id} does not import: {bag.import_errors}")
    return bag.dags[dag_id]


def _test_dags(conf: dict, dag_ids: list[str]) -> int:
    for dag_id in dag_ids:
        run = _load_dag(dag_id).test(run_conf=conf)
        if run.state != "success":
            failed = [ti.task_id for ti in run.get_task_instances() if ti.state in ("failed", "upstream_failed")]
            print(f"{dag_id}: run {run.run_id} ended {run.state}; failed tasks: {', '.join(failed) or '-'}",
                  file=sys.stderr)
            return 1
        print(f"{dag_id}: run {run.run_id} succeeded", file=sys.stderr)
    return 0


if __name__ == "__main__":
    request = json.loads(sys.argv[1])
    sys.exit(_test_dags(request["conf"], request["dag_ids"]))
