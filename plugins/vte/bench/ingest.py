"""Ingest: department rows/s from the landing zone into raw (``load_landing_zone``), against a bare COPY.

The baseline COPYs the very same submission and department rows, already in memory, into look-alike scratch
tables in one transaction per batch, as the loader does: the ratio is what reading, checking and recording
the landed documents costs on top of PostgreSQL's own bulk path. It is timed before and after the loader
and averaged, so a change in the machine's load during the stage touches both sides.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from vte import warehouse
from vte.bench import data
from vte.bench.common import Measure, Scale, StageResult, Stopwatch, Target, scratch
from vte.ingest import load_landing_zone
from vte.landing import LandingZone

TARGET = Target("ratio", ">=", 0.8, "ratio ≥ 0.8")


def _copy_baseline(conn, subs: list) -> float:
    conn.execute("drop table if exists public.bench_copy_rows, public.bench_copy_submissions")
    conn.execute("create table public.bench_copy_submissions (like raw.submissions including all)")
    conn.execute("create table public.bench_copy_rows (like raw.submission_rows including all)")
    with Stopwatch() as watch:
        data.copy_into_raw(conn, subs, {}, submissions_table="public.bench_copy_submissions",
                           rows_table="public.bench_copy_rows", batch=500)
    return watch.seconds


def run(scale: Scale, bench_home: Path) -> StageResult:
    with scratch(bench_home, "ingest") as settings:
        insts = data.institutions(scale.ingest_institutions)
        last = date.today() - timedelta(days=1)
        first = last - timedelta(days=scale.ingest_days - 1)
        subs = list(data.submissions(insts, first, last))
        with Stopwatch() as landing:
            documents, rows = data.land(settings, subs, {})
        with warehouse.connect(settings, autocommit=True) as conn:
            before = _copy_baseline(conn, subs)
            with Stopwatch() as loader:
                report = load_landing_zone(conn, LandingZone(settings=settings))
            after = _copy_baseline(conn, subs)
            loaded_rows = conn.execute("select count(*) from raw.submission_rows").fetchone()[0]
    if report.loaded != documents or loaded_rows != rows:
        raise RuntimeError(f"the loader stored {report.loaded} of {documents} documents and {loaded_rows} of "
                           f"{rows} rows ({report})")
    copy_seconds = (before + after) / 2
    measures = [Measure("landing → raw, department rows/s", rows / loader.seconds, "rows/s",
                        "COPY of the same rows", rows / copy_seconds, "rows/s", TARGET)]
    details = {"documents": documents, "rows": rows, "loader_seconds": loader.seconds,
               "copy_seconds_before_after": [before, after], "landing_seconds_untimed_setup": landing.seconds,
               "institutions": len(insts), "days": scale.ingest_days}
    return StageResult("ingest", "done", measures, details)
