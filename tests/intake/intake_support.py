"""Helpers for the intake tests: the real ``vte serve`` in a subprocess, requests over HTTP(S), test rows."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import httpx
import psutil

from vte import client, registry
from vte.submission import report_today

SUBMIT = "/xt/api/submit"
JOINED_ON = date(2024, 1, 1)  # test institutions report from here: earlier dates are refused

# New accounts are seen at once, revocations within a second; generous limits so the property test is not
# throttled (the rate-limit test has its own server).
SERVER_ENV = {"VTE_INTAKE_ACCOUNTS_REFRESH": "1", "VTE_INTAKE_ACCOUNTS_MISS_REFRESH": "0",
              "VTE_INTAKE_RATE": "1000", "VTE_INTAKE_BURST": "1000"}

# A department row that breaks no consistency rule (checked by test_valid_row_breaks_no_rule).
VALID_COUNTS = dict(
    dischargeHospital=100, distinctDischargeHospital=98, dischargeHospitalNodaily=90, riskAssessment=85,
    initRiskAssessment=80, riskAssessmentInDaily=80, highRiskAssessment=40, highRiskAssessmentInDaily=35,
    repeatRiskAssessment=30, hemorrhageRiskAssessment=38, highHemorrhageRiskAssessment=5, highRiskLowHemorrhage=30,
    precaution=30, precautionNoBase=25, medicine=20, mechanical=15, basePreventNodaily=60,
    zgwBasePreventNodaily=30, highVte=10, highVteCheck=8, chuyuanVte=4, hospitalVte=3, newDvt=2, newPe=1,
    newDvtAndPe=0, vteDie=1, peDie=0, surgery=50, surgeryDvt=1, surgeryPe=0, surgeryDvtAndPe=0,
)


def row(hospital: str = "本院", dept: str = "骨科", **counts) -> dict:
    return {"hospital": hospital, "dept": dept, **VALID_COUNTS, **counts}


def payload(days_ago: int = 1, rows: list[dict] | None = None) -> dict:
    return {"date": (report_today() - timedelta(days=days_ago)).isoformat(),
            "data": rows if rows is not None else [row(dept="骨科"), row(dept="普外科")]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log_path: Path
    verify: bool | str = True
    http: httpx.Client = field(init=False)

    def __post_init__(self):
        self.http = httpx.Client(base_url=self.url, verify=self.verify, timeout=30)

    def post(self, body: dict | bytes | str, *, dry_run: bool = False, content_type: str = "application/json"):
        content = body if isinstance(body, bytes) else body.encode() if isinstance(body, str) else \
            json.dumps(body, ensure_ascii=False).encode()
        return self.http.post(SUBMIT, content=content, headers={"Content-Type": content_type},
                              params={"dryRun": "true"} if dry_run else None)

    def submit(self, creds: registry.Credentials, body: dict, *, timestamp: int | None = None, **kw):
        return self.post(client.envelope(creds.access_key, creds.access_secret, body, timestamp), **kw)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(tmp_dir: Path, *, env: dict | None = None, tls: tuple[Path, Path] | None = None,
                 verify: bool | str = True, wait_ready: bool = True, workers: int = 1, port: int | None = None) -> Server:
    port = port or free_port()
    log_path = tmp_dir / f"intake-{port}.log"
    args = ["vte", "serve", "--port", str(port), "--workers", str(workers)]
    if tls:
        args += ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    server = Server(f"{'https' if tls else 'http'}://127.0.0.1:{port}", process, log_path, verify)
    deadline = time.monotonic() + 30
    path = "/readyz" if wait_ready else "/healthz"
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"vte serve exited with {process.returncode}:\n{server.log()}")
        try:
            if server.http.get(path).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            stop_server(server)
            raise RuntimeError(f"vte serve was not {'ready' if wait_ready else 'up'} within 30 s:\n{server.log()}")
        time.sleep(0.1)


def worker_processes(server: Server) -> list[psutil.Process]:
    """The processes that serve requests: the server itself, or its workers when it has several."""
    main = psutil.Process(server.process.pid)
    workers = [c for c in main.children() if "spawn_main" in " ".join(c.cmdline())]  # uvicorn spawns them
    return workers or [main]


def peak_memory_mb(process: psutil.Process) -> float:
    """The process's peak resident memory since it started (VmHWM), in MiB."""
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {process.pid}")


def stop_server(server: Server) -> None:
    server.http.close()
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
