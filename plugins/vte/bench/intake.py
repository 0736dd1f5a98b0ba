"""Intake: sustained accepted submissions/s and latency at a fixed offered load, against /healthz on the same server.

The service runs as `vte serve --workers N` in its own process group on loopback, on the stage's scratch
home; the load generator (``vte.bench.loadgen``) is another process on the same 2 cores, so it competes with
the server for CPU: the figures are what one machine does with both on it.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import httpx
import psutil

from vte import warehouse
from vte.bench import data
from vte.bench.common import Measure, Scale, StageResult, Stopwatch, Target, free_port, scratch
from vte.bench.loadgen import HEALTH_PATH, SUBMIT_PATH, Requests
from vte.config import Settings
from vte.intake.app import create_app
from vte.intake.config import IntakeConfig

ROWS_PER_SUBMISSION = 30
MOST_PER_SECOND = 6000  # more accepted submissions/s than a 2-core machine answers (for sizing the runs)
RATIO_TARGET = Target("ratio", ">=", 0.8, "ratio ≥ 0.8")
BURST_TARGET = Target("figure", "<=", 600, "≤ 10 min")  # DIGEST §9: most reports arrive within ten minutes
LATENCY_TARGET = Target("figure", "<", 50, "p99 < 50 ms")
GRACE_SECONDS = 5  # how long after the last request is due its answers are waited for
HANDLER_MOST_PER_SECOND = 3000  # more in-process submissions/s than one core handles (for sizing the dates)
HANDLER_BATCH = 1000  # bodies made before each timed batch of in-process submissions


def _start_server(settings: Settings, port: int, workers: int) -> subprocess.Popen:
    log = open(settings.home / "intake.log", "ab")
    server = subprocess.Popen(
        [sys.executable, "-m", "vte.cli", "serve", "--port", str(port), "--workers", str(workers)],
        env=os.environ | {"VTE_HOME": str(settings.home)}, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the intake service exited with {server.returncode}; see {settings.home}/intake.log")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    _stop(server)
    raise RuntimeError("the intake service was not ready within 60 s")


def _stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def _accounts(settings: Settings, count: int, rows_each: int | None = ROWS_PER_SUBMISSION) -> list[list[str]]:
    """[accessKey, accessSecret, JSON text of its department rows] per registered institution: 30 rows each,
    or (``rows_each`` None) every department the institution has, as a real day's reports vary."""
    insts = data.institutions(count, min_departments=rows_each or 0)
    yesterday = date.today() - timedelta(days=1)
    with warehouse.connect(settings, autocommit=True) as conn:
        credentials = data.register(conn, insts, settings)
    accounts = []
    for sub in data.submissions(insts, yesterday, yesterday):
        creds = credentials[sub.institution_code]
        rows = json.dumps(sub.data[:rows_each], ensure_ascii=False, separators=(",", ":"))
        accounts.append([creds.access_key, creds.access_secret, rows])
    return accounts


class CpuMeter:
    """CPU seconds (user + system) spent by the server's processes, the load generators and PostgreSQL: per
    request, it shows what each answer costs the machine, which a throughput ratio on shared cores hides."""

    def __init__(self, server: subprocess.Popen, settings: Settings):
        self.server = server
        self.warehouse_dir = str(settings.home / "warehouse")

    def _processes(self) -> dict[str, list[psutil.Process]]:
        server = psutil.Process(self.server.pid)
        # The postmaster names its data directory; its backends' titles do not, so they are found as its children.
        postmasters = [p for p in psutil.process_iter(["cmdline"])
                       if any(self.warehouse_dir in part for part in (p.info["cmdline"] or []))]
        postgres = [q for p in postmasters for q in (p, *p.children(recursive=True))]
        return {"server": [server, *server.children(recursive=True)], "postgres": postgres}

    def read(self) -> dict[str, float]:
        totals = {}
        for name, processes in self._processes().items():
            seconds = 0.0
            for process in processes:
                try:
                    times = process.cpu_times()
                    seconds += times.user + times.system
                except psutil.Error:  # a process that ended meanwhile
                    pass
            totals[name] = seconds
        children = resource.getrusage(resource.RUSAGE_CHILDREN)  # the load generators, once waited for
        totals["load_generator"] = children.ru_utime + children.ru_stime
        return totals

    def per_request(self, before: dict[str, float], after: dict[str, float], requests: int) -> dict[str, float]:
        return {name: round((after[name] - before[name]) / max(requests, 1) * 1000, 3) for name in after}


def _measured_load(settings: Settings, meter: CpuMeter, spec: dict) -> dict:
    """One load generator run, with the CPU milliseconds each side spent per answered request."""
    before = meter.read()
    result = _run_load(settings, spec)
    result["cpu_ms_per_request"] = meter.per_request(before, meter.read(), result["sent"])
    return result


def _run_load(settings: Settings, spec: dict) -> dict:
    spec_path = settings.home / "loadgen-spec.json"
    spec_path.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "vte.bench.loadgen", str(spec_path)], capture_output=True,
                          text=True, timeout=spec["duration"] * 4 + 120)
    if proc.returncode != 0:
        raise RuntimeError(f"the load generator failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


def _run_loads(settings: Settings, specs: list[dict]) -> list[dict]:
    """Several load generators at once, each its own process (as many hospitals' systems at midnight)."""
    procs = []
    for n, spec in enumerate(specs):
        spec_path = settings.home / f"loadgen-spec-{n}.json"
        spec_path.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
        procs.append(subprocess.Popen([sys.executable, "-m", "vte.bench.loadgen", str(spec_path)],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = []
    for proc, spec in zip(procs, specs):
        out, err = proc.communicate(timeout=spec["duration"] * 2 + 300)
        if proc.returncode != 0:
            raise RuntimeError(f"a load generator failed: {err[-2000:]}")
        results.append(json.loads(out))
    return results


def _handler_alone(settings: Settings, accounts: list[list[str]], dates: list[str], offset: int,
                   seconds: float, concurrency: int) -> dict:
    """The service's own work without HTTP: ``IntakeService.submit`` called in this process from ``concurrency``
    threads (as the server's thread pool calls it, so flushes are shared alike), in batches of bodies made
    beforehand, until it has spent ``seconds`` of CPU. Set against the server's CPU per submission, it says how
    much of that is the handler and how much the HTTP stack around it. The rate limit is lifted: one caller
    sends for every account."""
    app = create_app(settings, config=replace(IntakeConfig(), rate_per_second=1e9, rate_burst=1e9))
    service = app.state.service
    service.accounts.refresh()
    requests = Requests({"accounts": accounts, "dates": dates, "offset": offset})
    spent, codes, k = 0.0, Counter(), 0
    try:
        with ThreadPoolExecutor(concurrency) as pool:
            while spent < seconds and k < requests.capacity:
                bodies = [requests.body(n) for n in range(k, min(k + HANDLER_BATCH, requests.capacity))]
                k += len(bodies)
                started = time.process_time()
                codes.update(int(reply.code) for reply in pool.map(
                    lambda body: service.submit(body, dry_run=False, record={}), bodies))
                spent += time.process_time() - started
    finally:
        service.used_signatures.close()
        service.locks.close()
    if set(codes) != {0}:
        raise RuntimeError(f"in-process submissions by result code: {dict(codes)}; all should be accepted")
    return {"submissions": k, "threads": concurrency, "cpu_ms_per_submission": round(spent / max(k, 1) * 1000, 3)}


def _burst(scale: Scale, bench_home: Path) -> StageResult:
    """The midnight burst: every institution's report of one day, from several client processes at once,
    against /healthz answered to the same number of processes."""
    clients = scale.intake_burst_clients
    with scratch(bench_home, "intake") as settings:
        with Stopwatch() as registration:
            accounts = _accounts(settings, scale.intake_institutions, rows_each=None)
        day = (date.today() - timedelta(days=1)).isoformat()
        port = free_port()
        server = _start_server(settings, port, scale.intake_workers)
        try:
            base = {"url": f"http://127.0.0.1:{port}", "dates": [day], "offset": 0, "mode": "closed",
                    "concurrency": scale.intake_concurrency, "connections": scale.intake_concurrency}
            meter = CpuMeter(server, settings)
            before = meter.read()
            health = _run_loads(settings, [{**base, "accounts": accounts[:1], "path": HEALTH_PATH,
                                            "duration": scale.intake_seconds}] * clients)
            between = meter.read()
            shares = [accounts[n::clients] for n in range(clients)]
            burst = _run_loads(settings, [{**base, "accounts": share, "path": SUBMIT_PATH, "duration": 3600}
                                          for share in shares])
            cpu = {"healthz": meter.per_request(before, between, sum(run["sent"] for run in health)),
                   "burst": meter.per_request(between, meter.read(), sum(run["sent"] for run in burst))}
        finally:
            _stop(server)
        landed = sum(1 for _ in settings.landing_dir.rglob("v*.json"))
    accepted = sum(run["succeeded"] for run in burst)
    if accepted != len(accounts) or landed != len(accounts):
        raise RuntimeError(f"{accepted} of {len(accounts)} reports accepted and {landed} landed: {burst}")
    burst_seconds = max(run["elapsed"] for run in burst)
    health_per_s = sum(run["succeeded"] / run["elapsed"] for run in health)
    measures = [
        Measure(f"midnight burst: {len(accounts):,} reports accepted/s, {clients} client processes",
                accepted / burst_seconds, "/s", "/healthz answers/s, same server and clients", health_per_s, "/s",
                RATIO_TARGET),
        Measure(f"time to land the {len(accounts):,} reports of one day", burst_seconds, "s", "-", None, "",
                BURST_TARGET),
    ]
    details = {
        "server_workers": scale.intake_workers, "accounts": len(accounts),
        "department_rows": sum(len(json.loads(rows)) for _, _, rows in accounts), "client_processes": clients, "connections_per_client": scale.intake_concurrency,
        "registration_seconds_untimed_setup": registration.seconds, "documents_landed": landed,
        "cpu_ms_per_request": cpu, "runs": {"healthz_closed": health, "burst": burst},
    }
    return StageResult("intake", "done", measures, details)


def run(scale: Scale, bench_home: Path) -> StageResult:
    if scale.intake_burst_clients:
        return _burst(scale, bench_home)
    with scratch(bench_home, "intake") as settings:
        accounts = _accounts(settings, scale.intake_institutions)
        # Enough distinct (account, date) pairs for a closed run well beyond what one machine answers, plus the
        # open run.
        needed = int(scale.intake_seconds * (MOST_PER_SECOND + scale.intake_rate + HANDLER_MOST_PER_SECOND))
        days = needed // len(accounts) + 2
        dates = [(date.today() - timedelta(days=1 + n)).isoformat() for n in range(days)]
        port = free_port()
        server = _start_server(settings, port, scale.intake_workers)
        try:
            base = {"url": f"http://127.0.0.1:{port}", "accounts": accounts, "dates": dates,
                    "duration": scale.intake_seconds,
                    "connections": scale.intake_concurrency}
            closed = {"mode": "closed", "concurrency": scale.intake_concurrency}
            opened = {"mode": "open", "rate": scale.intake_rate, "grace": GRACE_SECONDS}
            meter = CpuMeter(server, settings)
            health_closed = _measured_load(settings, meter, {**base, **closed, "path": HEALTH_PATH, "offset": 0})
            submit_closed = _measured_load(settings, meter, {**base, **closed, "path": SUBMIT_PATH, "offset": 0})
            offset = -(-submit_closed["sent"] // len(accounts))  # the open run starts at dates not used yet
            health_open = _run_load(settings, {**base, **opened, "path": HEALTH_PATH, "offset": 0})
            submit_open = _run_load(settings, {**base, **opened, "path": SUBMIT_PATH, "offset": offset})
        finally:
            _stop(server)
        landed = sum(1 for _ in settings.landing_dir.rglob("v*.json"))
        offset += -(-submit_open["sent"] // len(accounts))
        handler = _handler_alone(settings, accounts, dates, offset, scale.intake_seconds / 2,
                                 scale.intake_concurrency)

    accepted_per_s = submit_closed["succeeded"] / submit_closed["elapsed"]
    health_per_s = health_closed["succeeded"] / health_closed["elapsed"]
    submit_cpu, health_cpu = submit_closed["cpu_ms_per_request"], health_closed["cpu_ms_per_request"]
    measures = [
        Measure("accepted submissions/s (closed loop)", accepted_per_s, "/s",
                "/healthz answers/s, same server and load", health_per_s, "/s", RATIO_TARGET),
        Measure("server CPU per accepted submission", submit_cpu["server"], "ms",
                "server CPU per /healthz answer", health_cpu["server"], "ms"),
        Measure("machine CPU per accepted submission (server, generator, PostgreSQL)", sum(submit_cpu.values()),
                "ms", "the same per /healthz answer", sum(health_cpu.values()), "ms"),
        Measure("handler CPU per accepted submission, in-process (no HTTP)", handler["cpu_ms_per_submission"], "ms",
                "server CPU per accepted submission over HTTP", submit_cpu["server"], "ms"),
        Measure(f"p50 latency at {scale.intake_rate:.0f}/s offered", submit_open["p50_ms"], "ms",
                f"/healthz p50 at {scale.intake_rate:.0f}/s", health_open["p50_ms"], "ms"),
        Measure(f"p99 latency at {scale.intake_rate:.0f}/s offered", submit_open["p99_ms"], "ms",
                f"/healthz p99 at {scale.intake_rate:.0f}/s", health_open["p99_ms"], "ms", LATENCY_TARGET),
    ]
    details = {
        "server_workers": scale.intake_workers, "accounts": len(accounts), "rows_per_submission": ROWS_PER_SUBMISSION,
        "seconds_per_run": scale.intake_seconds, "concurrency": scale.intake_concurrency,
        "documents_landed": landed, "load_generator": "one process, httpx asyncio, loopback, same 2 cores",
        "runs": {"healthz_closed": health_closed, "submit_closed": submit_closed, "healthz_open": health_open,
                 "submit_open": submit_open},
        "handler_in_process": handler,
    }
    return StageResult("intake", "done", measures, details)
