"""Excel: parse and validate a 10,000-row workbook (``parse_workbook``), against reading its cells alone.

The baseline is python-calamine reading every cell of the same file, the floor under any parser that uses it:
the ratio is what the product's layout detection, conversion and validation add.
"""

from __future__ import annotations

import io
from datetime import date, timedelta
from pathlib import Path

import python_calamine

from vte.bench import data
from vte.bench.common import Measure, Scale, StageResult, Stopwatch, Target
from vte.excel.parser import parse_workbook
from vte.excel.template import filled_workbook

TARGET = Target("figure", "<=", 3.0, "≤ 3 s")


def workbook_payloads(rows: int) -> list[dict]:
    """Daily payloads of one institution, back from yesterday, holding exactly ``rows`` department rows."""
    inst = data.institutions(1, min_departments=30)[0]
    days = -(-rows // len(inst.departments))
    last = date.today() - timedelta(days=1)
    payloads, remaining = [], rows
    for sub in data.submissions([inst], last - timedelta(days=days - 1), last):
        payloads.append({"date": sub.date, "data": sub.data[:remaining]})
        remaining -= len(payloads[-1]["data"])
        if not remaining:
            break
    return payloads


def _read_cells(content: bytes) -> int:
    book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(content))
    return sum(len(book.get_sheet_by_name(name).to_python()) for name in book.sheet_names)


def run(scale: Scale, bench_home: Path) -> StageResult:
    content = filled_workbook(workbook_payloads(scale.excel_rows))
    with Stopwatch() as baseline:
        _read_cells(content)
    with Stopwatch() as parsing:
        parsed = parse_workbook(content)
    if not parsed.ok or parsed.row_count != scale.excel_rows:
        raise RuntimeError(f"the workbook was refused or miscounted: {parsed.row_count} rows, "
                           f"{[e.message() for e in parsed.errors[:3]]}")
    measures = [Measure(f"parse + validate {scale.excel_rows:,} rows", parsing.seconds, "s",
                        "calamine reads every cell", baseline.seconds, "s", TARGET)]
    return StageResult("excel", "done", measures, {"rows": scale.excel_rows, "workbook_bytes": len(content),
                                                   "dates": len(parsed.submissions)})
