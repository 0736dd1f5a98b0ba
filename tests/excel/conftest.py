"""Fixtures: the real intake service (``vte serve``) in a subprocess, and fresh accounts per test."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from datetime import date

import httpx
import pytest

from vte import registry

# Generous limits: the tests upload many times from one account and one address.
SERVER_ENV = {"VTE_INTAKE_ACCOUNTS_REFRESH": "1", "VTE_INTAKE_ACCOUNTS_MISS_REFRESH": "0",
              "VTE_INTAKE_RATE": "1000", "VTE_INTAKE_BURST": "1000"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server_url(warehouse_url, tmp_path_factory) -> str:
    port = _free_port()
    log_path = tmp_path_factory.mktemp("excel-intake") / "serve.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(["vte", "serve", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                                   env={**os.environ, **SERVER_ENV})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"vte serve exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"vte serve was not ready within 30 s:\n{log_path.read_text()}")
        time.sleep(0.1)
    yield url
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def account(db) -> registry.Credentials:
    return registry.register(db, code="H" + uuid.uuid4().hex[:10], name="测试医院", level="二级", county_code="330328",
                             joined_on=date(2024, 1, 1))
