"""A failed `vte` command prints one line saying what is wrong and what to do, and never a password."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

UNREACHABLE = "postgresql://postgres:s3cret-pw@127.0.0.1:9/vte?sslmode=disable"


def vte(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("VTE_WAREHOUSE_URL", "VTE_DB_PASSWORD"))}
    return subprocess.run([sys.executable, "-m", "vte.cli", *args], capture_output=True, text=True,
                          env=clean | env, timeout=120)


@pytest.mark.parametrize("args", [["accounts", "list"], ["analysts", "list"], ["extract", "--period", "2026-03"],
                                  ["diff", "--period", "2026-03", "--from", "1", "--to", "2"],
                                  ["export", "--period", "2026-03", "--format", "fhir"]])
def test_an_unreachable_warehouse_is_one_line(tmp_path, args):
    proc = vte(*args, env={"VTE_HOME": str(tmp_path), "VTE_WAREHOUSE_URL": UNREACHABLE})
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: cannot reach the warehouse at 127.0.0.1:9") and "VTE_WAREHOUSE_URL" in lines[0]
    assert "s3cret-pw" not in proc.stderr + proc.stdout


def test_a_stopped_embedded_warehouse_is_one_line(tmp_path):
    proc = vte("accounts", "list", env={"VTE_HOME": str(tmp_path)})
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == [
        f"error: the embedded warehouse under {tmp_path}/warehouse/pgdata is not running:"
        " start it with `vte warehouse start`"]


def test_verbose_adds_the_traceback(tmp_path):
    proc = vte("--verbose", "accounts", "list", env={"VTE_HOME": str(tmp_path), "VTE_WAREHOUSE_URL": UNREACHABLE})
    assert proc.returncode != 0 and "Traceback" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: cannot reach the warehouse")


def test_no_password_is_printed_unless_asked(tmp_path):
    env = {"VTE_HOME": str(tmp_path), "VTE_WAREHOUSE_URL": UNREACHABLE, "VTE_DB_PASSWORD_LOADER": "loader-pw"}
    assert vte("warehouse", "url", env=env).stdout.strip() == \
        "postgresql://postgres:***@127.0.0.1:9/vte?sslmode=disable"
    assert vte("warehouse", "url", "--role", "vte_loader", env=env).stdout.strip() == \
        "postgresql://vte_loader:***@127.0.0.1:9/vte?sslmode=disable"
    assert vte("warehouse", "url", "--role", "vte_loader", "--show-password", env=env).stdout.strip() == \
        "postgresql://vte_loader:loader-pw@127.0.0.1:9/vte?sslmode=disable"
    status = vte("warehouse", "status", env=env)
    assert status.returncode == 1 and "s3cret-pw" not in status.stdout and "***" in status.stdout
