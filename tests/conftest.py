"""Shared fixtures: one real embedded PostgreSQL for the whole session, under a throw-away VTE_HOME."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import psycopg
import pytest

from vte import regions, warehouse
from vte.config import get_settings

# Tests run the real `vte`, `dbt` and `airflow` commands of this virtual environment.
os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")


@pytest.fixture(scope="session")
def vte_home(tmp_path_factory) -> Path:
    """A fresh VTE_HOME for the session (set in the environment so subprocesses inherit it)."""
    home = tmp_path_factory.mktemp("vte")
    previous = os.environ.get("VTE_HOME")
    os.environ["VTE_HOME"] = str(home)
    yield home
    if previous is None:
        os.environ.pop("VTE_HOME", None)
    else:
        os.environ["VTE_HOME"] = previous


@pytest.fixture(scope="session")
def warehouse_url(vte_home) -> str:
    """The running warehouse, schema applied and the bundled regions loaded."""
    url = warehouse.start()
    with psycopg.connect(url, autocommit=True) as conn:
        regions.load_bundled(conn)
    yield url
    warehouse.stop()


@pytest.fixture
def db(warehouse_url) -> psycopg.Connection:
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def settings(vte_home):
    return get_settings()
