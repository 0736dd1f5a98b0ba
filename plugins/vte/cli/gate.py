"""``vte gate``: (re)build the committed GX project from the domain; run a gate stage by hand."""

import typer

from vte.config import EXPECTATIONS_DIR
from vte.publication import gate, gx_project, suites

app = typer.Typer(help="The Great Expectations quality gate.", no_args_is_help=True)


@app.command("build-suites")
def build_suites() -> None:
    """Rewrite expectations/gx (suites, validation definitions, checkpoints) from the domain definitions."""
    gx_project.build_project()
    typer.echo(f"GX project written to {EXPECTATIONS_DIR / 'gx'}")


@app.command()
def run(
    stage: str = typer.Argument(..., help="staged or marts"),
    schema: str = typer.Option(None, help="Schema to validate (default: int for staged, marts_candidate for marts)."),
    run_id: str = typer.Option("manual", help="Run id recorded with the results."),
) -> None:
    """Validate a schema with the stage's checkpoint and print the verdict; exit 1 when it fails."""
    try:
        result = gate.run_gate(stage, schema or suites.DEFAULT_SCHEMAS.get(stage, ""), run_id)
    except gate.GateError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)
    typer.echo(result.message() if not result.success else
               f"{stage} gate passed: {result.statistics['evaluated_expectations']} expectations met")
    typer.echo(f"Data Docs: {result.docs_path}")
    raise typer.Exit(0 if result.success else 1)
