"""What a failed `vte` command prints: one line naming what is wrong and what to do, never a traceback.

`vte --verbose …` (or VTE_VERBOSE=1) prints the traceback as well.
"""

from __future__ import annotations

import os
import sys
import traceback
from datetime import date
from typing import NoReturn
from urllib.parse import urlsplit

import httpx
import psycopg
import typer

from vte.dbt import DbtFailed
from vte.warehouse import WarehouseNotRunning


def verbose_requested(argv: list[str]) -> bool:
    return "--verbose" in argv or os.environ.get("VTE_VERBOSE", "") not in ("", "0")


def _where(exc: BaseException) -> str:
    """The server an OperationalError was about, without any password."""
    from vte.config import get_settings

    url = get_settings().warehouse_url
    if url:
        parts = urlsplit(url)
        return f" at {parts.hostname or 'the socket'}:{parts.port or 5432}"
    return " (the embedded server)"


def one_line(exc: BaseException) -> str:
    """The message for an exception that ended a command."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if isinstance(exc, WarehouseNotRunning):
        return first
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return (f"the warehouse refused: {first}; this command's role lacks the privilege — check that"
                " `vte warehouse start` applied every migration")
    if isinstance(exc, psycopg.errors.UndefinedTable):
        return f"the warehouse has no such table yet ({first}): run `vte warehouse start`, then the pipeline"
    if isinstance(exc, psycopg.OperationalError):
        return (f"cannot reach the warehouse{_where(exc)}: {first}; start it with `vte warehouse start` or"
                " check VTE_WAREHOUSE_URL and the VTE_DB_PASSWORD_* settings")
    if isinstance(exc, psycopg.Error):
        return f"the warehouse refused the request: {first}"
    if isinstance(exc, httpx.ConnectError | httpx.TimeoutException):
        return f"cannot reach the server: {first}; is it running (`vte up` or `vte serve`) and is the URL right?"
    if isinstance(exc, FileNotFoundError | IsADirectoryError | NotADirectoryError):
        return f"no such file: {exc.filename or first}; check the path"
    if isinstance(exc, PermissionError):
        return f"not allowed to use {exc.filename or 'a file'}: {exc.strerror or first}; check its permissions"
    if isinstance(exc, DbtFailed):
        return f"{first}; run `vte dbt build` to see dbt's log"
    return f"{type(exc).__name__}: {first} (run with --verbose for the details)"


def report(exc: BaseException, argv: list[str]) -> int:
    """Print the failure; returns the exit status."""
    if verbose_requested(argv):
        traceback.print_exception(exc, file=sys.stderr)
    print(f"error: {one_line(exc)}", file=sys.stderr)
    return 1


def refuse(exc: Exception) -> NoReturn:
    """End a command that the input or the warehouse refused: its one line, exit status 2."""
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(2)


def parse_from(text: str, option: str = "--from") -> date:
    """A date option's report date (--from unless named), or the command refused with what to type."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        refuse(ValueError(f"{option} {text!r} is not a date (yyyy-mm-dd)"))
