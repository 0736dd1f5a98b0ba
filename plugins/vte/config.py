"""Where the product keeps its state and how it reaches the warehouse.

Everything a running copy writes lives under one directory, ``VTE_HOME`` (default ``.vte/`` in the
checkout), so two copies never collide.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
SEEDS_DIR = DBT_PROJECT_DIR / "seeds"
DAGS_DIR = PROJECT_ROOT / "dags"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
REFERENCE_DIR = Path(__file__).resolve().parent / "reference"

WAREHOUSE_DATABASE = "vte"
AIRFLOW_DATABASE = "airflow"


@dataclass(frozen=True)
class Settings:
    home: Path
    warehouse_url: str | None  # an external PostgreSQL; None means the embedded server

    @cached_property
    def pgdata(self) -> Path:
        return self.home / "warehouse" / "pgdata"

    @cached_property
    def landing_dir(self) -> Path:
        return self.home / "landing"

    @cached_property
    def audit_dir(self) -> Path:
        return self.home / "audit"

    @cached_property
    def used_signatures_path(self) -> Path:
        """The intake's record of signatures already used (shared by its worker processes)."""
        return self.home / "intake" / "used-signatures.sqlite3"

    @cached_property
    def exports_dir(self) -> Path:
        return self.home / "exports"

    @cached_property
    def keys_dir(self) -> Path:
        return self.home / "keys"

    @cached_property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @cached_property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @cached_property
    def generated_dir(self) -> Path:
        return self.home / "generated"


def get_settings() -> Settings:
    home = Path(os.environ.get("VTE_HOME") or PROJECT_ROOT / ".vte").expanduser().resolve()
    return Settings(home=home, warehouse_url=os.environ.get("VTE_WAREHOUSE_URL") or None)


def executable(name: str) -> str:
    """A command installed beside this Python (the product's virtual environment), else from PATH."""
    import shutil
    import sys

    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else (shutil.which(name) or name)
