"""`vte up`: the whole stack on one machine — embedded warehouse, Airflow standalone with its UI, the intake
service and the data centre console."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

import httpx

from vte import pipeline, warehouse
from vte.airflow_env import airflow_env
from vte.config import Settings, executable, get_settings


@dataclass
class Stack:
    airflow: subprocess.Popen
    intake: subprocess.Popen
    console: subprocess.Popen
    airflow_url: str
    intake_url: str
    console_url: str

    def stop(self) -> None:
        """End the services and everything they started (airflow standalone forks a scheduler,
        a dag-processor, a triggerer and workers): each runs in its own process group."""
        processes = (self.intake, self.console, self.airflow)
        for sig, grace in ((signal.SIGTERM, 30.0), (signal.SIGKILL, 5.0)):
            groups = [proc.pid for proc in processes if _group_alive(proc.pid)]
            for pgid in groups:
                os.killpg(pgid, sig)
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and any(_group_alive(pgid) for pgid in groups):
                for proc in processes:
                    proc.poll()  # reap the leader, or its group never looks empty
                time.sleep(0.5)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def _wait_until_up(url: str, proc: subprocess.Popen, name: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}; see its log")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{name} did not answer at {url} within {timeout:.0f} s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_service(settings: Settings, command: str, name: str, log_name: str, *, port: int | None, host: str,
                   extra_env: dict[str, str] | None, timeout: float) -> tuple[subprocess.Popen, str]:
    """`vte <command>` for this VTE_HOME in its own process group; returns once its /readyz answers."""
    port = port or free_port()
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    log_path = settings.logs_dir / f"{log_name}-{port}.log"
    proc = subprocess.Popen([sys.executable, "-m", "vte.cli", command, "--host", host, "--port", str(port)],
                            env=os.environ | (extra_env or {}) | {"VTE_HOME": str(settings.home)},
                            start_new_session=True, stdout=open(log_path, "ab"), stderr=subprocess.STDOUT)
    url = f"http://{host}:{port}"
    try:
        _wait_until_up(f"{url}/readyz", proc, f"{name} (log: {log_path})", timeout)
    except RuntimeError:
        proc.terminate()
        raise
    return proc, url


def start_intake(settings: Settings, *, port: int | None = None, host: str = "127.0.0.1",
                 extra_env: dict[str, str] | None = None, timeout: float = 60.0) -> tuple[subprocess.Popen, str]:
    """`vte serve`; ready once the accounts are loaded."""
    return _start_service(settings, "serve", "the intake service", "intake", port=port, host=host, extra_env=extra_env,
                          timeout=timeout)


def start_console(settings: Settings, *, port: int | None = None, host: str = "127.0.0.1",
                  extra_env: dict[str, str] | None = None, timeout: float = 60.0) -> tuple[subprocess.Popen, str]:
    """`vte console`, the data centre's web console."""
    return _start_service(settings, "console", "the console", "console", port=port, host=host, extra_env=extra_env,
                          timeout=timeout)


def start(settings: Settings | None = None, *, airflow_port: int = 8080, intake_port: int = 8000,
          console_port: int = 8090, host: str = "127.0.0.1") -> Stack:
    settings = settings or get_settings()
    warehouse.start(settings)
    pipeline.ensure_airflow_database(settings)
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    env = os.environ | airflow_env(settings) | {
        "AIRFLOW__API__PORT": str(airflow_port),
        "AIRFLOW__API__HOST": host,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://{host}:{airflow_port}/execution/",
    }
    intake, intake_url = start_intake(settings, port=intake_port, host=host)
    console, console_url = start_console(settings, port=console_port, host=host)
    airflow = subprocess.Popen([executable("airflow"), "standalone"], env=env, start_new_session=True,
                               stdout=open(settings.logs_dir / "airflow-standalone.log", "ab"), stderr=subprocess.STDOUT)
    stack = Stack(airflow, intake, console, f"http://{host}:{airflow_port}", intake_url, console_url)
    try:
        _wait_until_up(f"{stack.airflow_url}/api/v2/monitor/health", airflow, "Airflow", 180)
    except RuntimeError:
        stack.stop()
        raise
    return stack
