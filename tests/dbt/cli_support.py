"""`vte institutions …` run in-process, as an operator types it, for the dbt tests that change the registry."""

from __future__ import annotations

from typer.testing import CliRunner

from vte.cli.institutions import app


def invoke(*args: str, ok: bool = True):
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert (result.exit_code == 0) == ok, result.output
    return result


def one_line_error(*args: str, says: str) -> None:
    result = invoke(*args, ok=False)
    assert result.exit_code == 2 and result.stderr.strip().count("\n") == 0, result.stderr
    assert result.stderr.startswith("error: ") and says in result.stderr, result.stderr
