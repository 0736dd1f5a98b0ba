"""Extract: the monthly provincial extract (workbook, CSV files, manifest) from a published month of the province.

Setup (not timed): a month of the province's submissions copied into raw, `dbt build` into the candidate
schema, the real quality gate, and publication. The figure is ``create_extract`` for that month; the
baseline is reading the whole published indicator table with COPY, the data the extract is shaped from.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from pathlib import Path

from vte import warehouse
from vte.publication import gate, publish
from vte.bench import data
from vte.bench.common import Measure, Scale, StageResult, Stopwatch, Target, scratch
from vte.dbt import run_dbt
from vte.extracts.create import create_extract
from vte.extracts.periods import parse_period

TARGET = Target("figure", "<=", 30, "≤ 30 s")
CANDIDATE, PUBLISHED = "marts_candidate", "marts"


def _publish_month(settings, insts: list, first: date, last: date) -> int:
    with warehouse.connect(settings, autocommit=True) as conn:
        keys = {code: c.access_key for code, c in data.register(conn, insts, settings).items()}
        _, rows = data.copy_into_raw(conn, data.submissions(insts, first, last), keys)
    run_dbt(["--quiet", "build"], vars={"as_of_date": last.isoformat(), "marts_schema": CANDIDATE}, settings=settings)
    run_id = f"bench-{uuid.uuid4()}"
    result = gate.run_gate("marts", CANDIDATE, run_id, published_schema=PUBLISHED)
    result.raise_for_failure()
    with warehouse.connect(settings, autocommit=True) as conn:
        publish.publish(conn, CANDIDATE, PUBLISHED, run_id=run_id, gate_result=result)
    return rows


def _read_indicators(settings) -> int:
    size = 0
    with warehouse.connect(settings) as conn, conn.cursor() as cur:
        with cur.copy(f"copy (select * from {PUBLISHED}.fct_indicator_values) to stdout") as copy:
            for chunk in copy:
                size += len(chunk)
    return size


def run(scale: Scale, bench_home: Path) -> StageResult:
    last = date.today().replace(day=1) - timedelta(days=1)
    first = last.replace(day=1)
    period = parse_period(f"{first:%Y-%m}")
    with scratch(bench_home, "extract") as settings:
        rows = _publish_month(settings, data.institutions(scale.extract_institutions), first, last)
        with Stopwatch() as baseline:
            indicator_bytes = _read_indicators(settings)
        with Stopwatch() as extracting:
            extract = create_extract(period, None, "final", actor="bench", settings=settings)
        files = {p.name: p.stat().st_size for p in extract.paths}
    measures = [Measure(f"provincial extract {first:%Y-%m}", extracting.seconds, "s",
                        "COPY out of the published indicator table", baseline.seconds, "s", TARGET)]
    return StageResult("extract", "done", measures, {"month_rows": rows, "institutions": scale.extract_institutions,
                                                    "indicator_table_bytes": indicator_bytes, "files": files})
