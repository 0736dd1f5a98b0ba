"""Ingest: department rows/s from the landing zone into raw (``load_landing_zone``), against a bare COPY.

The baseline COPYs the very same submission and department rows, already in memory, into look-alike scratch
tables in one transaction per batch, as the loader does: the ratio is what reading, checking and recording
the landed documents costs on top of PostgreSQL's own bulk path. Baseline and loader (from an emptied raw)
alternate three times and each side's median is taken, so a change in the machine's load touches both.
"""

from __future__ import annotations

import statistics
from datetime import date, timedelta
from pathlib import Path

from vte import warehouse
from vte.bench import data
from vte.bench.common import Measure, Scale, StageResult, Stopwatch, Target, scratch
from vte.ingest import load_landing_zone
from vte.landing import LandingZone

TARGET = Target("ratio", ">=", 0.8, "ratio ≥ 0.8")
REPETITIONS = 3


def _copy_baseline(conn, subs: list) -> float:
    conn.execute("drop table if exists public.bench_copy_rows, public.bench_copy_submissions")
    conn.execute("create table public.bench_copy_submissions (like raw.submissions including all)")
    conn.execute("create table public.bench_copy_rows (like raw.submission_rows including all)")
    with Stopwatch() as watch:
        data.copy_into_raw(conn, subs, {}, submissions_table="public.bench_copy_submissions",
                           rows_table="public.bench_copy_rows", batch=500)
    return watch.seconds


def _load(conn, settings) -> tuple[float, object]:
    """The loader over the whole landing zone, from an empty raw; (seconds, its report). Each run is the zone's
    first load (no journal read yet), which walks the zone."""
    conn.execute("truncate raw.submission_rows, raw.submissions, raw.landing_loads, raw.landing_journal_files")
    with Stopwatch() as loader:
        report = load_landing_zone(conn, LandingZone(settings=settings))
    return loader.seconds, report


def run(scale: Scale, bench_home: Path) -> StageResult:
    with scratch(bench_home, "ingest") as settings:
        insts = data.institutions(scale.ingest_institutions)
        last = date.today() - timedelta(days=1)
        first = last - timedelta(days=scale.ingest_days - 1)
        subs = list(data.submissions(insts, first, last))
        with Stopwatch() as landing:
            documents, rows = data.land(settings, subs, {})
        copy_runs, load_runs = [], []
        with warehouse.connect(settings, autocommit=True) as conn:
            # Alternated and repeated, each side's median: a neighbour's burst on a shared machine touches one
            # run of each, not the figure.
            for _ in range(REPETITIONS):
                copy_runs.append(_copy_baseline(conn, subs))
                seconds, report = _load(conn, settings)
                load_runs.append(seconds)
            loaded_rows = conn.execute("select count(*) from raw.submission_rows").fetchone()[0]
    if report.loaded != documents or loaded_rows != rows:
        raise RuntimeError(f"the loader stored {report.loaded} of {documents} documents and {loaded_rows} of "
                           f"{rows} rows ({report})")
    loader_seconds, copy_seconds = statistics.median(load_runs), statistics.median(copy_runs)
    measures = [Measure("landing → raw, department rows/s", rows / loader_seconds, "rows/s",
                        "COPY of the same rows", rows / copy_seconds, "rows/s", TARGET)]
    details = {"documents": documents, "rows": rows, "loader_seconds_runs": load_runs,
               "copy_seconds_runs": copy_runs, "landing_seconds_untimed_setup": landing.seconds,
               "institutions": len(insts), "days": scale.ingest_days}
    return StageResult("ingest", "done", measures, details)
