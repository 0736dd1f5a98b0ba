"""The real intake service (``vte serve``) in a subprocess, for the Excel channel's tests."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import httpx

# Generous limits: the tests upload many times from one account and one address.
SERVER_ENV = {"VTE_INTAKE_ACCOUNTS_REFRESH": "1", "VTE_INTAKE_ACCOUNTS_MISS_REFRESH": "0",
              "VTE_INTAKE_RATE": "1000", "VTE_INTAKE_BURST": "1000"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(log_dir: Path) -> tuple[str, subprocess.Popen]:
    """Start ``vte serve`` on a free port and wait until it is ready; returns its URL and process."""
    port = _free_port()
    log_path = log_dir / "serve.log"
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
                return url, process
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"vte serve was not ready within 30 s:\n{log_path.read_text()}")
        time.sleep(0.1)


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
