"""Every DAG file imports cleanly in the product's Airflow environment and follows the house rules."""

import json
import os
import subprocess
import sys

import pytest

from vte import pipeline
from vte.airflow_env import airflow_env

# Runs inside the Airflow environment: Airflow reads its configuration when first imported.
_DESCRIBE = """
import json
from airflow.dag_processing.dagbag import DagBag
from vte.config import DAGS_DIR
bag = DagBag(dag_folder=DAGS_DIR)
print(json.dumps({
    "errors": {k: str(v) for k, v in bag.import_errors.items()},
    "dags": {d.dag_id: {
        "tags": sorted(d.tags), "catchup": d.catchup, "doc_md": bool(d.doc_md),
        "retries": sorted({t.retries for t in d.tasks}), "fileloc": d.fileloc,
        "tasks": sorted(t.task_id for t in d.tasks),
    } for d in bag.dags.values()},
}))
"""


@pytest.fixture(scope="module")
def dag_bag(warehouse_url, settings):
    pipeline.ensure_airflow_database(settings)
    proc = subprocess.run([sys.executable, "-c", _DESCRIBE], env=os.environ | airflow_env(settings),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_no_import_errors(dag_bag):
    assert not dag_bag["errors"], "\n".join(dag_bag["errors"].values())


def test_every_dag_file_defines_its_dag(dag_bag):
    from vte.config import DAGS_DIR

    files = {p.stem for p in DAGS_DIR.glob("*.py")}
    assert files <= set(dag_bag["dags"]), f"DAG files without a DAG of the same name: {files - set(dag_bag['dags'])}"


def test_house_rules(dag_bag):
    for dag_id, dag in dag_bag["dags"].items():
        assert "vte" in dag["tags"], dag_id
        assert dag["catchup"] is False, dag_id
        assert dag["doc_md"], dag_id
        assert min(dag["retries"]) >= 2, f"{dag_id} has a task with fewer than 2 retries"


def test_the_alerts_dag_detects_then_delivers(dag_bag):
    alerts = dag_bag["dags"]["vte_alerts"]
    assert alerts["tasks"] == ["deliver", "detect"]
    assert "alerts" in alerts["tags"]
