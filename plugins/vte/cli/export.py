"""``vte export``: a period's published indicator values in a standard exchange format, FHIR R4 MeasureReports or
IHE ADX, for a national platform to import (docs/exchange.md).

Until ``vte.cli`` registers it, ``python -m vte.cli.export …`` runs the same command.
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import Optional

import typer

from vte.cli.extract import publication_id


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def export(
    period: str = typer.Option(..., "--period", help="A month (2026-03), a quarter (2026Q1) or a year (2026)."),
    format_: str = typer.Option(
        ..., "--format", help="fhir: a FHIR R4 Bundle of MeasureReports (JSON); adx: an IHE ADX message (XML)."),
    region: Optional[str] = typer.Option(
        None, "--region", help="GB/T 2260 code of a province, city or county (default: the province)."),
    publication: Optional[str] = typer.Option(
        None, "--publication",
        help="Export the values as publication N held them (ops.publications; default: the current one)."),
    out: Optional[Path] = typer.Option(
        None, "--out", help="Directory to write to (default: $VTE_HOME/exports/exchange/<period>/<region>)."),
    base_url: Optional[str] = typer.Option(
        None, "--base-url",
        help="With fhir: the base of the canonical URLs and identifier systems "
             "(default: $VTE_FHIR_BASE_URL, else a placeholder under example.org)."),
) -> None:
    """Write the period's indicator values in the region, at every level from the region down to departments,
    from one publication, as a validated FHIR R4 Bundle or ADX message; print the file's path."""
    from vte.exchange.export import FormatError, check_format, export as run_export
    from vte.exchange.fhir import BASE_URL_VARIABLE, check_base_url, library_version
    from vte.exchange.read import ExchangeError, PublicationError, RegionError
    from vte.extracts.periods import PeriodError, parse_period

    try:
        parsed = parse_period(period)
    except PeriodError as exc:
        _fail(f"--period: {exc}")
    try:
        fmt = check_format(format_)
    except FormatError as exc:
        _fail(f"--format: {exc}")
    if base_url is not None and fmt != "fhir":
        _fail("--base-url: only with --format fhir (ADX names no URLs)")
    base = base_url or os.environ.get(BASE_URL_VARIABLE) or None
    if fmt == "fhir" and base is not None:
        try:
            base = check_base_url(base)
        except ExchangeError as exc:
            _fail(f"--base-url: {exc}")
    number = publication_id(publication, "--publication") if publication is not None else None
    try:
        result = run_export(parsed, region, fmt, number, actor=f"cli:{getpass.getuser()}", out=out, base_url=base)
    except RegionError as exc:
        _fail(f"--region: {exc}")
    except PublicationError as exc:
        _fail(f"--publication: {exc}")
    except ExchangeError as exc:
        _fail(str(exc))
    typer.echo(str(result.path))
    what = (f"{result.written} MeasureReports, validated with {library_version()}" if fmt == "fhir"
            else f"{result.written} ADX groups, valid against adx.xsd")
    typer.echo(f"{parsed.label} in {result.region.code} {result.region.name} from publication "
               f"{result.publication.publication_id}: {what}", err=True)


def main() -> None:
    """``python -m vte.cli.export``: the command alone, failing in one line as ``vte`` does."""
    from vte.cli import errors

    app = typer.Typer(add_completion=False, context_settings={"help_option_names": ["-h", "--help"]})
    app.command()(export)
    try:
        app(prog_name="vte export", standalone_mode=True)
    except Exception as exc:  # noqa: BLE001 - every failure reaches the user as one line
        raise SystemExit(errors.report(exc, sys.argv)) from None


if __name__ == "__main__":
    main()
