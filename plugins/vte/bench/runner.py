"""Runs the chosen stages in order, prints one table and writes ``$VTE_HOME/bench/<timestamp>.json``.

A stage that fails is recorded as failed with its reason and the others still run. With ``profile``, each
stage runs under py-spy (vte.bench.profiling), its child processes included, and the stacks and a summary go
beside the JSON as ``<timestamp>-<stage>.txt`` and ``<timestamp>-<stage>-top.txt``.
"""

from __future__ import annotations

import json
import os
import platform
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import datetime, timezone
from pathlib import Path

from vte.bench import end_to_end, excel, extract, ingest, intake, profiling, transform
from vte.bench.common import SCALES, StageResult

STAGES: dict[str, Callable] = {
    "intake": intake.run,
    "ingest": ingest.run,
    "transform": transform.run,
    "excel": excel.run,
    "extract": extract.run,
    "e2e": end_to_end.run,
}


def machine() -> dict:
    memory_kb = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal:")), 0) if Path("/proc/meminfo").exists() else 0
    return {"nproc": os.cpu_count(), "memory_gib": round(memory_kb / 1024**2, 1), "kernel": platform.release(),
            "python": platform.python_version(), "load_average_at_start": os.getloadavg()}


def memory_in_use_gib() -> float | None:
    """The machine's memory in use (total less available), GiB; None where /proc/meminfo is missing."""
    try:
        info = {line.split(":")[0]: int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()}
    except (OSError, ValueError, IndexError):
        return None
    return (info["MemTotal"] - info["MemAvailable"]) / 1024**2


@contextmanager
def memory_peak(every_seconds: float = 0.5) -> Iterator[dict]:
    """Samples the machine's memory in use while the block runs; the dict receives the peak and the start."""
    found: dict = {"memory_in_use_at_start_gib": memory_in_use_gib()}
    stop = threading.Event()

    def sample() -> None:
        peak = found["memory_in_use_at_start_gib"] or 0.0
        while not stop.wait(every_seconds):
            peak = max(peak, memory_in_use_gib() or 0.0)
        found["memory_in_use_peak_gib"] = round(peak, 2)

    sampler = threading.Thread(target=sample, name="bench-memory", daemon=True)
    sampler.start()
    try:
        yield found
    finally:
        stop.set()
        sampler.join()
        if found["memory_in_use_at_start_gib"] is not None:
            found["memory_in_use_at_start_gib"] = round(found["memory_in_use_at_start_gib"], 2)


def parse_stages(text: str | None) -> list[str]:
    if not text:
        return list(STAGES)
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in STAGES]
    if unknown or not names:
        raise ValueError(f"unknown stage(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(STAGES)}")
    return names


def _run_stage(name: str, scale, bench_home: Path, profile_stem: Path | None, echo) -> StageResult:
    echo(f"[{datetime.now():%H:%M:%S}] {name} …")
    started = time.perf_counter()
    with memory_peak() as memory, profiling.sampled(profile_stem) if profile_stem else nullcontext({}) as profiled:
        try:
            result = STAGES[name](scale, bench_home)
        except Exception as exc:  # one stage's failure is a result; the others still run
            result = StageResult(name, "failed", reason=f"{type(exc).__name__}: {exc}",
                                 details={"traceback": traceback.format_exc()[-4000:]})
    result.details.update(profiled)
    result.details.update(memory)
    result.seconds = time.perf_counter() - started
    return result


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}" if abs(value) >= 1 else f"{value:.3f}"
    return f"{text} {unit}".strip()


def table(results: list[StageResult]) -> str:
    header = ("stage", "measure", "figure", "baseline", "ratio", "target", "met")
    lines = [header]
    for result in results:
        if result.status != "done":
            lines.append((result.stage, f"{result.status}: {result.reason}", "", "", "", "", ""))
            continue
        for m in result.measures:
            met = "-" if m.met is None else "met" if m.met else "NOT met"
            lines.append((result.stage, m.name, _number(m.figure, m.unit),
                          f"{_number(m.baseline, m.baseline_unit)} ({m.baseline_name})",
                          _number(m.ratio), m.target.text if m.target else "-", met))
    widths = [max(len(row[i]) for row in lines if len(row) > i) for i in range(len(header))]
    widths[1] = min(widths[1], 60)
    return "\n".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in lines)


def run(scale_name: str, stage_names: list[str], bench_home: Path, *, profile: bool = False,
        echo: Callable[[str], None] = print) -> tuple[Path, list[StageResult]]:
    scale = SCALES[scale_name]
    bench_home.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    started_at = datetime.now(timezone.utc).isoformat()
    info = machine()
    results = [_run_stage(name, scale, bench_home, bench_home / f"{stamp}-{name}" if profile else None, echo)
               for name in stage_names]
    report = {"started_at": started_at, "finished_at": datetime.now(timezone.utc).isoformat(), "scale": scale_name,
              "machine": info, "stages": [r.to_dict() for r in results]}
    path = bench_home / f"{stamp}.json"
    path.write_text(json.dumps(report, ensure_ascii=False, indent=1, default=str) + "\n", encoding="utf-8")
    echo(table(results))
    echo(f"written: {path}")
    return path, results
