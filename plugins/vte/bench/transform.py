"""Transform: the daily build-and-publish on empty history and on a year of it, and a full rebuild.

A cycle is what vte_transform does after loading, less the GX gate (a constant): `dbt build` into the
candidate schema — only the slices the run touched, unless the build is complete — then publishing it
(slice replacement or schema swap, and the history). One warehouse: day D0 is loaded and cycled (setup), then day
D1 is loaded and cycled on that one-day history (a); then a year of history after it is copied straight into raw and cycled, and its
last day landed, loaded and cycled (setup, not timed); then the next new day is landed, loaded and cycled (b). The figure is (b), the baseline (a):
their ratio says how the daily run grows with history. Last, everything is rebuilt (``--full-refresh``,
``publish_all``) and published whole. The new days go through the landing zone and the loader as in
production.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from vte import warehouse
from vte.bench import data
from vte.bench.common import Measure, Scale, StageResult, Stopwatch, Target, scratch
from vte.config import Settings
from vte.cosmos_config import CANDIDATE_SCHEMA, PUBLISHED_SCHEMA
from vte.dbt import run_dbt
from vte.publication import publish
from vte.publication.gate import GateResult
from vte.ingest import load_landing_zone
from vte.landing import LandingZone

INCREMENTAL_TARGET = Target("ratio", "<=", 1.5, "ratio ≤ 1.5")
REBUILD_TARGET = Target("figure", "<=", 300, "≤ 5 min")


def _build(settings: Settings, as_of: date, *extra: str, publish_all: bool = False) -> float:
    """One cycle, timed: dbt build into the candidate, then publish it."""
    with Stopwatch() as watch:
        run_dbt(["--quiet", "build", *extra], settings=settings,
                vars={"as_of_date": as_of.isoformat(), "marts_schema": CANDIDATE_SCHEMA,
                      "published_schema": PUBLISHED_SCHEMA, "publish_all": publish_all})
        passed = GateResult("marts", CANDIDATE_SCHEMA, "bench-transform", True, {})
        with warehouse.connect(settings, autocommit=True) as conn:
            publish.publish(conn, CANDIDATE_SCHEMA, PUBLISHED_SCHEMA, run_id="bench-transform", gate_result=passed)
    return watch.seconds


def _land_and_load(settings: Settings, insts: list, day: date, keys: dict[str, str]) -> int:
    _, rows = data.land(settings, data.submissions(insts, day, day), keys)
    with warehouse.connect(settings, autocommit=True) as conn:
        report = load_landing_zone(conn, LandingZone(settings=settings))
    if report.corrupt:
        raise RuntimeError(f"the loader found corrupt documents: {report}")
    return rows


def run(scale: Scale, bench_home: Path) -> StageResult:
    new_day = date.today() - timedelta(days=1)
    history_last = new_day - timedelta(days=1)
    history_first = history_last - timedelta(days=scale.transform_history_days - 1)
    first_day = history_first - timedelta(days=1)
    day_zero = first_day - timedelta(days=1)
    with scratch(bench_home, "transform") as settings:
        insts = data.institutions(scale.transform_institutions)
        # The history's institutions: all of them, or (national scale) the first province's worth.
        history_insts = insts[:scale.transform_history_institutions or len(insts)]
        with warehouse.connect(settings, autocommit=True) as conn:
            keys = {code: c.access_key for code, c in data.register(conn, insts, settings).items()}
        setup_empty = _build(settings, day_zero)  # seeds, views and empty incremental tables
        # The baseline is a day's cycle after one published day, as the figure's is after a year of them:
        # both replace a published slice and bring its history up to date.
        _land_and_load(settings, insts, day_zero, keys)
        day_zero_build = _build(settings, day_zero)
        first_rows = _land_and_load(settings, insts, first_day, keys)
        on_empty = _build(settings, first_day)
        with Stopwatch() as history_copy, warehouse.connect(settings, autocommit=True) as conn:
            history_submissions, history_rows = data.copy_into_raw(
                conn, data.submissions(history_insts, history_first, history_last - timedelta(days=1)), keys)
        history_build = _build(settings, history_last)
        # The history's last day arrives as days do: an incremental run re-reads the newest load (rows loaded
        # in the same instant), which in production is the last few minutes' load, not a year's bulk copy.
        _land_and_load(settings, history_insts, history_last, keys)
        last_day_build = _build(settings, history_last)
        new_rows = _land_and_load(settings, insts, new_day, keys)
        on_history = _build(settings, new_day)
        if scale.transform_full_refresh:
            full_refresh = _build(settings, new_day, "--full-refresh", publish_all=True)
    history = f"{scale.transform_history_days} days of history"
    if len(history_insts) != len(insts):
        history += f" ({len(history_insts):,} institutions)"
    measures = [
        Measure(f"daily build and publish ({len(insts):,} institutions' day), {history}", on_history, "s",
                "daily build and publish, one day of history", on_empty, "s", INCREMENTAL_TARGET),
    ]
    if scale.transform_full_refresh:
        measures.append(Measure(f"full rebuild (--full-refresh), {scale.transform_history_days + 2} days",
                                full_refresh, "s", "daily build on that history", on_history, "s", REBUILD_TARGET))
    details = {
        "institutions": len(insts), "history_institutions": len(history_insts), "first_day_rows": first_rows, "new_day_rows": new_rows,
        "history_submissions": history_submissions, "history_rows": history_rows,
        "untimed_setup_seconds": {"first_build_empty": setup_empty, "day_zero_build": day_zero_build,
                                  "history_copy": history_copy.seconds,
                                  "history_first_build": history_build, "history_last_day_build": last_day_build},
        "dbt_threads": 4,
        "command": "dbt build (seeds, models, tests, unit tests) into the candidate via vte.dbt.run_dbt, then"
                   " vte.publication.publish.publish (slices or swap, and the history)",
    }
    return StageResult("transform", "done", measures, details)
