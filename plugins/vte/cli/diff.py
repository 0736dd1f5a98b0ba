"""``vte diff``: the indicator values of a period and region that differ between two publications, with whether
each was partial as of each publication, and the submissions that caused each change."""

from __future__ import annotations

import json
import unicodedata
from decimal import Decimal
from typing import Optional

import typer

from vte import warehouse
from vte.access import roles
from vte.cli.extract import publication_id
from vte.config import get_settings
from vte.extracts.periods import PeriodError, parse_period
from vte.extracts.query import ExtractDataError, RegionError, resolve_region
from vte.extracts.restatement import change_pp, sorted_changes, submission_text, within_region
from vte.publication import history

HEADER = ("level", "code", "name", "campus", "department", "indicator", "numerator", "denominator", "rate %",
          "partial")


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _width(text: str) -> int:
    """Columns the text takes in a terminal, where a Chinese character takes two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def _value(value) -> str:
    return "-" if value is None else str(value)


def _moved(change: history.Change, index: int) -> str:
    old, new = change.old or (None,) * 3, change.new or (None,) * 3
    return f"{_value(old[index])} → {_value(new[index])}"


def _mark(mark: bool | None) -> str:
    # None: no value then, or the history recorded it before it kept the mark
    return "-" if mark is None else "yes" if mark else "no"


def _lines(changes: list[history.Change]) -> list[str]:
    rows = [HEADER] + [(c.level, c.entity_code, c.entity_name or "", c.campus or "", c.department or "",
                        c.indicator_id, _moved(c, 0), _moved(c, 1), _moved(c, 2),
                        f"{_mark(c.old_partial)} → {_mark(c.new_partial)}") for c in changes]
    widths = [max(_width(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = ["  ".join(_pad(cell, widths[i]) for i, cell in enumerate(rows[0])).rstrip()]
    for change, row in zip(changes, rows[1:]):
        lines.append("  ".join(_pad(cell, widths[i]) for i, cell in enumerate(row)).rstrip())
        lines += [f"    ← {submission_text(s)} (submission {s.submission_id})" for s in change.submissions]
    return lines


def _number(value):
    return float(value) if isinstance(value, Decimal) else value


def _document(period, region, from_id: int, to_id: int, changes: list[history.Change]) -> dict:
    def values(triple, partial, small_denominator):
        if triple is None:
            return None
        return dict(zip(("numerator", "denominator", "rate"), map(_number, triple)),
                    is_partial_period=partial, is_small_denominator=small_denominator)

    return {
        "period": {"label": period.label, "type": period.period_type, "start": period.start.isoformat(),
                   "end": period.end.isoformat()},
        "region": {"code": region.code, "name": region.name, "level": region.level},
        "from_publication": from_id,
        "to_publication": to_id,
        "changes": [{
            "level": c.level, "entity_code": c.entity_code, "entity_name": c.entity_name, "campus": c.campus,
            "department": c.department, "indicator_id": c.indicator_id,
            "old": values(c.old, c.old_partial, c.old_small_denominator),
            "new": values(c.new, c.new_partial, c.new_small_denominator), "change_pp": _number(change_pp(c)),
            "submissions": [{"institution_code": s.institution_code, "report_date": s.report_date.isoformat(),
                             "version": s.version, "received_at": s.received_at.isoformat(),
                             "submission_id": s.submission_id} for s in c.submissions],
        } for c in changes],
    }


def diff(
    period: str = typer.Option(..., "--period", help="A month (2026-03), a quarter (2026Q1) or a year (2026)."),
    region: Optional[str] = typer.Option(
        None, "--region", help="GB/T 2260 code of a province, city or county (default: the province)."),
    from_publication: str = typer.Option(..., "--from", help="The earlier publication (ops.publications)."),
    to_publication: str = typer.Option(..., "--to", help="The later publication."),
    as_json: bool = typer.Option(False, "--json", help="Print the changes as JSON."),
) -> None:
    """Print every indicator value of the period, at every level within the region, that differs between two
    publications, each with the submissions (loaded in between) that caused it."""
    try:
        parsed = parse_period(period)
    except PeriodError as exc:
        _fail(f"--period: {exc}")
    from_id, to_id = publication_id(from_publication, "--from"), publication_id(to_publication, "--to")
    with warehouse.connect(get_settings(), role=roles.EXTRACTS, autocommit=True) as conn:
        try:
            found = resolve_region(conn, region)
        except RegionError as exc:
            _fail(f"--region: {exc}")
        except ExtractDataError as exc:
            _fail(str(exc))
        for option, publication in (("--from", from_id), ("--to", to_id)):
            try:
                history.loaded_through(conn, publication)
            except history.HistoryError as exc:
                _fail(f"{option}: {exc}")
        changes = sorted_changes(within_region(history.changes(
            conn, period_type=parsed.period_type, start=parsed.start, end=parsed.end, region=found.code,
            from_publication=from_id, to_publication=to_id), found.level))
    if as_json:
        typer.echo(json.dumps(_document(parsed, found, from_id, to_id, changes), ensure_ascii=False, indent=2))
        return
    where = f"{parsed.label} in {found.code} {found.name}"
    if not changes:
        typer.echo(f"no indicator value of {where} changed from publication {from_id} to publication {to_id}")
        return
    typer.echo(f"{len(changes)} indicator values of {where} changed from publication {from_id} "
               f"to publication {to_id}:")
    for line in _lines(changes):
        typer.echo(line)
