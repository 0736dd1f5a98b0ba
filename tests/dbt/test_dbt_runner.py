"""How the product runs dbt: connection variables from the warehouse URL, and the `vte dbt` command."""

import subprocess

import pytest

from vte.dbt import dbt_env


def test_the_embedded_servers_socket_directory_becomes_the_host():
    env = dbt_env("postgresql://postgres:@/vte?host=/tmp/vte%20home/pgdata&port=5433")
    assert env["VTE_DBT_HOST"] == "/tmp/vte home/pgdata"
    assert (env["VTE_DBT_PORT"], env["VTE_DBT_USER"], env["VTE_DBT_DBNAME"]) == ("5433", "postgres", "vte")
    assert env["VTE_DBT_PASSWORD"]  # dbt-postgres needs one even under trust authentication


def test_an_external_servers_url_is_taken_as_it_is():
    env = dbt_env("postgresql://etl:s%40cret@db.example.org:6432/vte_prod")
    assert {k: env[k] for k in ("VTE_DBT_HOST", "VTE_DBT_PORT", "VTE_DBT_USER", "VTE_DBT_PASSWORD",
                                "VTE_DBT_DBNAME")} == {
        "VTE_DBT_HOST": "db.example.org", "VTE_DBT_PORT": "6432", "VTE_DBT_USER": "etl",
        "VTE_DBT_PASSWORD": "s@cret", "VTE_DBT_DBNAME": "vte_prod"}


@pytest.mark.parametrize(("url", "message"), [
    ("mysql://x@h/db", "not a PostgreSQL URL"),
    ("postgresql://postgres@/vte", "neither a host nor a socket directory"),
    ("postgresql://postgres@db/", "names no database"),
])
def test_unusable_urls_are_refused_by_name(url, message):
    with pytest.raises(ValueError, match=message):
        dbt_env(url)


def test_vte_dbt_runs_dbt_on_the_warehouse(warehouse_url):
    result = subprocess.run(["vte", "dbt", "debug", "--no-use-colors"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Connection test: [OK connection ok]" in result.stdout
