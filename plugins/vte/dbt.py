"""How the product runs dbt: the profile's connection comes from the warehouse URL, through the environment.

``dbt_project/profiles.yml`` reads ``VTE_DBT_*`` variables; ``dbt_env`` derives them from a libpq URL (the
embedded server's URL names its socket directory as ``host`` in the query string, which dbt-postgres accepts
as a host). dbt writes its artifacts under ``$VTE_HOME/dbt`` so two copies of the product, or two test
sessions in one checkout, never overwrite each other's ``target/``.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from functools import cache
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from vte import warehouse
from vte.access import roles
from vte.config import DBT_PROJECT_DIR, Settings, get_settings

DEFAULT_THREADS = 4


@cache
def project_var(name: str):
    """A var's default in ``dbt_project.yml``: Python that must agree with a model reads it from there."""
    return yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"][name]


class DbtFailed(RuntimeError):
    """A dbt invocation that did not succeed; the message names the failing nodes."""


def dbt_env(url: str, threads: int = DEFAULT_THREADS) -> dict[str, str]:
    """The VTE_DBT_* variables profiles.yml reads, from a postgresql:// URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError(f"not a PostgreSQL URL: {parts.scheme}://...")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    host = query.get("host") or parts.hostname
    if not host:
        raise ValueError("the warehouse URL names neither a host nor a socket directory (?host=)")
    dbname = unquote(parts.path.lstrip("/")) or query.get("dbname")
    if not dbname:
        raise ValueError("the warehouse URL names no database")
    return {
        "VTE_DBT_HOST": host,
        "VTE_DBT_PORT": str(query.get("port") or parts.port or 5432),
        "VTE_DBT_USER": unquote(parts.username or query.get("user") or "postgres"),
        # dbt-postgres refuses an empty password even where the server trusts the socket.
        "VTE_DBT_PASSWORD": unquote(parts.password or query.get("password") or "unused"),
        "VTE_DBT_DBNAME": dbname,
        "VTE_DBT_THREADS": str(threads),
        # TLS as the URL asks (the production template: verify-full against the deployment's CA).
        "VTE_DBT_SSLMODE": query.get("sslmode", "prefer"),
        "VTE_DBT_SSLROOTCERT": query.get("sslrootcert", ""),
    }


def product_env(settings: Settings | None = None) -> dict[str, str]:
    """Everything a dbt process of this product needs in its environment."""
    settings = settings or get_settings()
    artifacts = settings.home / "dbt"
    return {
        **dbt_env(warehouse.url(settings, role=roles.TRANSFORM)),
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
        "DBT_PROJECT_DIR": str(DBT_PROJECT_DIR),
        "DBT_TARGET_PATH": str(artifacts / "target"),
        "DBT_LOG_PATH": str(artifacts / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


@contextmanager
def _environment(values: dict[str, str]):
    previous = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _failures(result) -> list[str]:
    results = getattr(result.result, "results", None) or []
    # a node's result carries its node; run-operation's carries only its unique_id
    return [f"{getattr(r, 'node', r).unique_id}: {r.status} {r.message or ''}".strip()
            for r in results if str(r.status) in ("error", "fail", "runtime error")]


def run_dbt(args: list[str], vars: dict | None = None, *, check: bool = True, settings: Settings | None = None):
    """Run one dbt command in-process (``run_dbt(["build"], vars={...})``); returns dbt's dbtRunnerResult.

    With ``check`` (the default) a failed invocation raises DbtFailed naming the failing nodes.
    """
    from dbt.cli.main import dbtRunner  # dbt is heavy to import: only when dbt is run

    settings = settings or get_settings()
    (settings.home / "dbt").mkdir(parents=True, exist_ok=True)
    command = list(args)
    if vars:
        command += ["--vars", json.dumps(vars, default=str)]
    with _environment(product_env(settings)):
        result = dbtRunner().invoke(command)
    if check and not result.success:
        detail = "; ".join(_failures(result)) or str(result.exception or "see the dbt log")
        raise DbtFailed(f"dbt {' '.join(args)} failed: {detail}")
    return result
