"""``vte calculate``: one day's patient-level discharge records (CSV) → the day's submission (JSON).

The reference calculator of vte.calculator, for hospital vendors: see docs/calculator.md. It reads the
file and writes counts only; a file with errors gives one line per bad cell and no output.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from pathlib import Path

import typer

from vte.calculator import RecordsError, calculate_file

MAX_SHOWN = 20  # problems printed; the rest are counted


def _fail(*lines: str) -> None:
    for line in lines:
        typer.echo(f"error: {line}", err=True)
    raise typer.Exit(2)


def _write(out: Path, text: str) -> None:
    """Replace ``out`` in one step, so a reader never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def calculate(
    patients: Path = typer.Argument(..., metavar="PATIENTS.CSV",
                                    help="The CSV of one day's discharged patient episodes (UTF-8); columns in "
                                         "docs/calculator.md."),
    out: Path | None = typer.Option(None, "--out", help="Where to write the submission JSON; default: stdout."),
    date: str | None = typer.Option(None, "--date", help="The report date yyyy-mm-dd: every row must be discharged "
                                                         "on it. Default: the discharge day of the rows."),
) -> None:
    """Compute the 31 counts of Table A.1 per campus and department from patient records.

    Writes {"date", "data": [{hospital, dept, 31 counts}]}, ready for `vte submit`.

    Nothing about a patient is stored, sent or printed.
    """
    report_date = None
    if date is not None:
        try:
            report_date = dt.date.fromisoformat(date)
        except ValueError:
            _fail(f"--date {date!r} is not a date: write it yyyy-mm-dd, e.g. 2025-03-03")
    if not patients.is_file():
        _fail(f"no such file: {patients}; give the path of the patient CSV")
    if out is not None and not out.parent.is_dir():
        _fail(f"cannot write {out}: the directory {out.parent} does not exist; create it or choose another --out")
    try:
        day = calculate_file(patients, report_date)
    except RecordsError as exc:
        problems = exc.problems
        more = len(problems) - MAX_SHOWN
        _fail(*(str(p) for p in problems[:MAX_SHOWN]),
              *([f"… and {more} more problem(s) not shown; fix these and run again"] if more > 0 else []),
              f"{patients}: nothing computed; correct the cells above (columns in docs/calculator.md) and run again")
    text = json.dumps(day.payload(), ensure_ascii=False, indent=1) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        _write(out, text)
    typer.echo(f"{out or 'stdout'}: {day.date}, {len(day.rows)} department row(s) from {day.episodes} discharged "
               f"episode(s), {day.excluded} outside quality control", err=True)
