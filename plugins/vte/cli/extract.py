"""``vte extract``: the health commission's indicator extract of one period, on demand; or the revision made
from an earlier publication, reproduced."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Optional

import typer

from vte import warehouse
from vte.access import roles
from vte.config import get_settings
from vte.extracts.create import create_extract
from vte.extracts.inputs import InputsError
from vte.extracts.periods import Period, PeriodError, parse_period
from vte.extracts.query import ExtractDataError, RegionError, check_region_code, resolve_region
from vte.extracts.reproduce import ReproductionError, reproduce
from vte.extracts.schedule import ScheduleError
from vte.publication.history import HistoryError


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def publication_id(text: str, option: str) -> int:
    """A publication id given on the command line, or a one-line error naming the option."""
    if not text.strip().isdigit() or int(text) < 1:
        _fail(f"{option}: {text!r} is not a publication id (a positive whole number, see ops.publications)")
    return int(text)


def _reproduce(period: Period, region: str | None, kind: str | None, publication: int, out: Path | None) -> None:
    settings = get_settings()
    if region:
        check_region_code(region)
    else:
        with warehouse.connect(settings, role=roles.EXTRACTS, autocommit=True) as conn:
            region = resolve_region(conn, None).code
    result = reproduce(period, region, kind, publication, actor=f"cli:{getpass.getuser()}", out=out,
                       settings=settings)
    for path in result.paths:
        typer.echo(str(path))
    source = f"{result.source.name} of {period.label} {region} {result.manifest['kind']} (publication {publication})"
    if result.mismatches:
        typer.echo(f"error: not identical to {source}: {', '.join(result.mismatches)} differ from "
                   f"{result.source.directory / 'manifest.json'}", err=True)
        raise typer.Exit(1)
    typer.echo(f"identical to {source}: the sha256 of all {len(result.files)} files and the content_sha256 match "
               f"{result.source.directory / 'manifest.json'}")


def extract(
    period: str = typer.Option(..., "--period", help="A month (2026-03), a quarter (2026Q1) or a year (2026)."),
    region: Optional[str] = typer.Option(
        None, "--region", help="GB/T 2260 code of a province, city or county (default: the province)."),
    final: Optional[bool] = typer.Option(
        None, "--final/--preliminary",
        help="Kind of extract (default: final from the 10th after the period, preliminary before; with "
             "--publication, the final revision if one was made from it, else the preliminary)."),
    publication: Optional[str] = typer.Option(
        None, "--publication",
        help="Reproduce the revision made from this publication (ops.publications) instead of making one."),
    out: Optional[Path] = typer.Option(
        None, "--out", help="With --publication: where to write the reproduction "
                            "(default: $VTE_HOME/exports/reproduced/<period>/<region>/<kind>/p<N>)."),
) -> None:
    """Write the period's extract as a new revision under $VTE_HOME/exports and print its files' paths (the
    latest revision's when it was made from the same publication); with --publication, reproduce the revision
    made from that publication and check it is identical."""
    kind = None if final is None else ("final" if final else "preliminary")
    if out is not None and publication is None:
        _fail("--out: only with --publication (a new revision always goes under $VTE_HOME/exports)")
    try:
        parsed = parse_period(period)
        if publication is not None:
            _reproduce(parsed, region, kind, publication_id(publication, "--publication"), out)
            return
        result = create_extract(parsed, region, kind, actor=f"cli:{getpass.getuser()}")
    except (PeriodError, ScheduleError) as exc:
        _fail(f"--period: {exc}")
    except RegionError as exc:
        _fail(f"--region: {exc}")
    except ReproductionError as exc:
        _fail(f"--publication: {exc}")
    except (ExtractDataError, HistoryError, InputsError) as exc:
        _fail(str(exc))
    for path in result.paths:
        typer.echo(str(path))
    state = "new" if result.created else "unchanged: already made from this publication"
    typer.echo(f"revision r{result.revision:03d} from publication {result.manifest['publication']['publication_id']}"
               f" ({state})", err=True)
