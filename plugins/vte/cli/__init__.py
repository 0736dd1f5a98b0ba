"""The ``vte`` command line: one sub-module per area, assembled here."""

import typer

from vte.cli import accounts, generate, warehouse
from vte.cli import excel as excel_command
from vte.cli import dbt as dbt_command
from vte.cli import demo as demo_command
from vte.cli import pipeline, stack
from vte.cli import intake
from vte.cli import gate as gate_command
from vte.cli import extract as extract_command
from vte.cli import bench as bench_command

app = typer.Typer(
    help="VTE quality-control regional data warehouse.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(warehouse.app, name="warehouse")
app.add_typer(accounts.app, name="accounts")
app.command("generate")(generate.generate)
app.command("dbt", context_settings={"allow_extra_args": True, "ignore_unknown_options": True,
                                     "help_option_names": []})(dbt_command.dbt)
app.add_typer(pipeline.app, name="pipeline")
app.command("airflow", context_settings={"allow_extra_args": True, "ignore_unknown_options": True,
                                         "help_option_names": []})(pipeline.airflow)
app.command("up")(stack.up)
intake.register(app)
app.command("excel-template")(excel_command.excel_template)
app.add_typer(gate_command.app, name="gate")
app.command("extract")(extract_command.extract)
app.command("bench")(bench_command.bench)
app.command("demo")(demo_command.demo)
