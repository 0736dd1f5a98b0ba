"""The ``vte`` command line: one sub-module per area, assembled here."""

import typer

from vte.cli import accounts, analysts, calculate, generate, institutions, intake, pipeline, review, stack, warehouse
from vte.cli import alerts as alerts_command
from vte.cli import bench as bench_command
from vte.cli import console as console_command
from vte.cli import dbt as dbt_command
from vte.cli import diff as diff_command
from vte.cli import demo as demo_command
from vte.cli import excel as excel_command
from vte.cli import export as export_command
from vte.cli import extract as extract_command
from vte.cli import gate as gate_command
from vte.cli import users as users_command

PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}

app = typer.Typer(
    help="VTE quality-control regional data warehouse.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
# Platform
app.add_typer(warehouse.app, name="warehouse")
app.add_typer(accounts.app, name="accounts")
app.add_typer(institutions.app, name="institutions")
app.add_typer(analysts.app, name="analysts")
app.command("generate")(generate.generate)
# Hospitals' channels
intake.register(app)
app.command("excel-template")(excel_command.excel_template)
app.command("calculate")(calculate.calculate)
# Pipeline
app.add_typer(pipeline.app, name="pipeline")
app.command("up")(stack.up)
app.command("airflow", context_settings=PASS_THROUGH)(pipeline.airflow)
app.command("dbt", context_settings=PASS_THROUGH)(dbt_command.dbt)
app.add_typer(gate_command.app, name="gate")
# The data centre: its console and users, review and lock, alerts
app.command("console")(console_command.console)
app.add_typer(users_command.app, name="users")
app.add_typer(review.review_app, name="review")
app.add_typer(review.lock_app, name="lock")
app.add_typer(alerts_command.app, name="alerts")
# Outputs and measurements
app.command("extract")(extract_command.extract)
app.command("diff")(diff_command.diff)
app.command("export")(export_command.export)
app.command("bench")(bench_command.bench)
app.command("demo")(demo_command.demo)


@app.callback()
def _options(verbose: bool = typer.Option(False, "--verbose", help="On failure, show the traceback too.")) -> None:
    """VTE quality-control regional data warehouse."""


def main() -> None:
    """The `vte` entry point: a failure is one line saying what is wrong and what to do, not a traceback."""
    import sys

    from vte.cli import errors

    try:
        app(prog_name="vte", standalone_mode=True)
    except Exception as exc:  # noqa: BLE001 - every failure reaches the user as one line
        raise SystemExit(errors.report(exc, sys.argv)) from None
