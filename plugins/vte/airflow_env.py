"""The environment every Airflow process of this product runs with.

Airflow's metadata lives in its own database (``airflow``) on the warehouse's PostgreSQL server, so the
LocalExecutor can run tasks in parallel; its home, logs and DAG-processor state live under $VTE_HOME.
Everything is passed as environment variables: no airflow.cfg to keep in sync.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from vte import dbt, warehouse
from vte.access import roles
from vte.config import AIRFLOW_DATABASE, DAGS_DIR, PROJECT_ROOT, Settings, get_settings


def metadata_url(settings: Settings) -> str:
    url = os.environ.get("VTE_AIRFLOW_DATABASE_URL") or warehouse.url(settings, database=AIRFLOW_DATABASE,
                                                                             role=roles.AIRFLOW)
    return url.replace("postgresql://", "postgresql+psycopg2://", 1)


def airflow_env(settings: Settings | None = None) -> dict[str, str]:
    settings = settings or get_settings()
    home = settings.airflow_home
    return {
        **dbt.product_env(settings),  # cosmos runs dbt with the same connection as `vte dbt`
        "VTE_HOME": str(settings.home),
        # Cosmos runs dbt in-process and insists that the `dbt` on PATH is the one it imports.
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url(settings),
        # Airflow's async engine defaults to asyncpg, which refuses libpq's sslmode/sslrootcert: psycopg takes them.
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": metadata_url(settings).replace(
            "postgresql+psycopg2://", "postgresql+psycopg://", 1),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Shanghai",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(settings.logs_dir / "airflow"),
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
        # Cosmos caches `dbt ls` output in an Airflow Variable: parsing stays cheap on every task start.
        "AIRFLOW__COSMOS__ENABLE_CACHE": "True",
        # No usage reports: the warehouse's hosts have no way out, and no business phoning home.
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
        "DO_NOT_TRACK": "true",
        "AIRFLOW__COSMOS__CACHE_DIR": str(home / "cosmos-cache"),
    }


def apply_to_environ(settings: Settings | None = None) -> None:
    """Set the Airflow environment in this process (before anything imports airflow)."""
    os.environ.update(airflow_env(settings))
