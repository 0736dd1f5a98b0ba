"""What every DAG of the product shares: default task arguments, tags, assets and the local timezone."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset

from vte.alerts.callbacks import on_failure as alert_on_failure

LOCAL_TZ = pendulum.timezone("Asia/Shanghai")
START_DATE = pendulum.datetime(2026, 1, 1, tz=LOCAL_TZ)

DEFAULT_ARGS = {
    "owner": "vte-data-engineering",
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
    # A task that failed for good opens (or bumps) the DAG's dag_failed alert, which reaches people.
    "on_failure_callback": alert_on_failure,
}

# Raw tables changed: new submissions were loaded by vte_ingest; vte_transform is scheduled on it.
RAW_SUBMISSIONS = Asset(uri="postgres://warehouse:5432/vte/raw/submissions", name="vte_raw_submissions")
# Analysts' marts changed: a new publication went live; extracts and feedback read it.
PUBLISHED_MARTS = Asset(uri="postgres://warehouse:5432/vte/marts/fct_indicator_values", name="vte_published_marts")
