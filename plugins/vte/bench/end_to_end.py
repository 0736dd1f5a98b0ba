"""End to end: from the last accepted submission of a day to the publication that includes it, stack running.

The stack is `vte up`'s (``vte.stack.start``: warehouse, Airflow standalone, intake) on free ports in the
stage's scratch home. A day's reports go over HTTP; as soon as the last is accepted the ingest DAG is
triggered with `airflow dags trigger vte_ingest` (instead of waiting up to 5 minutes for its schedule); the
transform follows on its asset. The clock stops when ops.publications records a successful publication and
the published marts hold every row of that day.

Baseline: the same work without the scheduler, on the same warehouse afterwards: the next day's reports
loaded and built by calling the loader, dbt, the gate and publish directly in this process.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import psycopg

from vte import client, stack, warehouse
from vte.publication import gate, publish, suites
from vte.airflow_env import airflow_env
from vte.bench import data
from vte.bench.common import Measure, Scale, StageResult, Stopwatch, Target, free_port, scratch
from vte.config import AIRFLOW_DATABASE, Settings, executable
from vte.dbt import run_dbt
from vte.ingest import load_landing_zone
from vte.landing import LandingZone
from vte.pipeline import PIPELINE_DAGS

TARGET = Target("figure", "<=", 120, "≤ 2 min")
WAIT_SECONDS = 900
REGISTER_SECONDS = 300
CANDIDATE, PUBLISHED = "marts_candidate", "marts"


def _submit_day(url: str, insts: list, credentials: dict, day: date) -> tuple[int, float]:
    """Post every institution's report of ``day``; returns (rows, time.time() of the last acceptance)."""
    def post(sub) -> tuple[int, float]:
        creds = credentials[sub.institution_code]
        result = client.submit(url, creds.access_key, creds.access_secret, {"date": sub.date, "data": sub.data})
        if result.get("code") != 0:
            raise RuntimeError(f"{sub.institution_code} {sub.date} refused: {result.get('message')}")
        return len(sub.data), time.time()

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(post, data.submissions(insts, day, day)))
    return sum(rows for rows, _ in answers), max(at for _, at in answers)


def _wait_for_dags(settings: Settings) -> None:
    """Until Airflow has registered every pipeline DAG: an asset event that comes before its consumer DAG is
    registered starts nothing, and a fresh stack registers vte_transform (cosmos) tens of seconds late."""
    deadline = time.monotonic() + REGISTER_SECONDS
    with psycopg.connect(warehouse.url(settings, AIRFLOW_DATABASE), autocommit=True) as conn:
        while time.monotonic() < deadline:
            found = conn.execute("select count(*) from dag where dag_id = any(%s)", (list(PIPELINE_DAGS),)).fetchone()
            if found[0] == len(PIPELINE_DAGS):
                return
            time.sleep(1)
    raise RuntimeError(f"Airflow did not register {', '.join(PIPELINE_DAGS)} within {REGISTER_SECONDS} s")


def _published_rows(conn: psycopg.Connection, day: date) -> int:
    exists = conn.execute("select to_regclass(%s)", (f"{PUBLISHED}.fct_department_days",)).fetchone()[0]
    if exists is None:
        return 0
    return conn.execute(f"select count(*) from {PUBLISHED}.fct_department_days where report_date = %s",
                        (day,)).fetchone()[0]


def _wait_for_publication(settings: Settings, day: date, rows: int, accepted_at: float) -> float:
    """time.time() when a successful publication newer than ``accepted_at`` holds all ``rows`` of ``day``."""
    deadline = time.monotonic() + WAIT_SECONDS
    with warehouse.connect(settings, autocommit=True) as conn:
        while time.monotonic() < deadline:
            latest = conn.execute(
                "select extract(epoch from published_at) from ops.publications"
                " where success and published_schema = %s order by published_at desc limit 1", (PUBLISHED,)
            ).fetchone()
            if latest and latest[0] > accepted_at and _published_rows(conn, day) >= rows:
                return float(latest[0])
            time.sleep(1)
    raise RuntimeError(f"no publication held the {rows} rows of {day} within {WAIT_SECONDS} s")


def _direct_pipeline(settings: Settings, day: date) -> None:
    with warehouse.connect(settings, autocommit=True) as conn:
        load_landing_zone(conn, LandingZone(settings=settings))
    run_dbt(["--quiet", "build"], vars={"marts_schema": CANDIDATE}, settings=settings)
    run_id = f"bench-direct-{uuid.uuid4()}"
    for stage, schema in (("staged", suites.DEFAULT_SCHEMAS["staged"]), ("marts", CANDIDATE)):
        result = gate.run_gate(stage, schema, run_id, published_schema=PUBLISHED)
        result.raise_for_failure()
    with warehouse.connect(settings, autocommit=True) as conn:
        publish.publish(conn, CANDIDATE, PUBLISHED, run_id=run_id, gate_result=result)


def run(scale: Scale, bench_home: Path) -> StageResult:
    day = date.today() - timedelta(days=2)
    next_day = day + timedelta(days=1)
    with scratch(bench_home, "e2e") as settings:
        insts = data.institutions(scale.e2e_institutions)
        with warehouse.connect(settings, autocommit=True) as conn:
            credentials = data.register(conn, insts, settings)
        running = stack.start(settings, airflow_port=free_port(), intake_port=free_port())
        try:
            _wait_for_dags(settings)
            rows, accepted_at = _submit_day(running.intake_url, insts, credentials, day)
            subprocess.run([executable("airflow"), "dags", "trigger", "vte_ingest"], check=True,
                           env=os.environ | airflow_env(settings), capture_output=True)
            published_at = _wait_for_publication(settings, day, rows, accepted_at)
            next_rows, _ = _submit_day(running.intake_url, insts, credentials, next_day)
        finally:
            running.stop()
        with Stopwatch() as direct:
            _direct_pipeline(settings, next_day)
        with warehouse.connect(settings, autocommit=True) as conn:
            if _published_rows(conn, next_day) != next_rows:
                raise RuntimeError(f"the direct run did not publish the {next_rows} rows of {next_day}")
    measures = [Measure("last acceptance → publication", published_at - accepted_at, "s",
                        "same work called directly (load, dbt, gates, publish)", direct.seconds, "s", TARGET)]
    details = {"institutions": len(insts), "rows": rows, "trigger": "airflow dags trigger vte_ingest",
               "transform": "vte_transform on the raw/submissions asset"}
    return StageResult("e2e", "done", measures, details)
