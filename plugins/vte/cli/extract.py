"""``vte extract``: the health commission's indicator extract of one period, on demand."""

from __future__ import annotations

import getpass
from typing import Optional

import typer

from vte.extracts.create import create_extract
from vte.extracts.periods import PeriodError, parse_period
from vte.extracts.query import ExtractDataError, RegionError
from vte.extracts.schedule import ScheduleError


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def extract(
    period: str = typer.Option(..., "--period", help="A month (2026-03), a quarter (2026Q1) or a year (2026)."),
    region: Optional[str] = typer.Option(
        None, "--region", help="GB/T 2260 code of a province, city or county (default: the province)."),
    final: Optional[bool] = typer.Option(
        None, "--final/--preliminary",
        help="Kind of extract (default: final from the 10th after the period, preliminary before)."),
) -> None:
    """Write the period's workbook, CSV files and manifest under $VTE_HOME/exports and print their paths."""
    kind = None if final is None else ("final" if final else "preliminary")
    try:
        result = create_extract(parse_period(period), region, kind, actor=f"cli:{getpass.getuser()}")
    except (PeriodError, ScheduleError) as exc:
        _fail(f"--period: {exc}")
    except RegionError as exc:
        _fail(f"--region: {exc}")
    except ExtractDataError as exc:
        _fail(str(exc))
    for path in result.paths:
        typer.echo(str(path))
