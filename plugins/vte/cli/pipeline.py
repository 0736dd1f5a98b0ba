"""``vte pipeline`` and ``vte airflow``: run the pipeline once, or any Airflow command, in the product's environment."""

import json
import os
import subprocess

import typer

from vte import pipeline as pipeline_runner
from vte.airflow_env import airflow_env
from vte.config import executable, get_settings

app = typer.Typer(help="Run the pipeline (ingest → transform → gate → publish → feedback) through Airflow.",
                  no_args_is_help=True)


@app.command()
def run(
    conf: str = typer.Option("{}", help='DAG run configuration as JSON, e.g. \'{"from_date": "2026-03-01"}\'.'),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show Airflow's task logs here, not only in the log file."),
) -> None:
    """Run ingest then transform once, through real Airflow (dag.test); exit non-zero on failure."""
    try:
        parsed = json.loads(conf)
    except json.JSONDecodeError as exc:
        typer.echo(f"error: --conf is not JSON: {exc}", err=True)
        raise typer.Exit(2)
    if not pipeline_runner.run_once(conf=parsed, verbose=verbose):
        raise typer.Exit(1)


def airflow(ctx: typer.Context) -> None:
    """Run any `airflow` command with the product's Airflow environment (e.g. `vte airflow dags list`)."""
    pipeline_runner.ensure_airflow_database(get_settings())
    raise typer.Exit(subprocess.call([executable("airflow"), *ctx.args], env=os.environ | airflow_env()))
