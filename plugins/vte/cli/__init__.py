"""The ``vte`` command line: one sub-module per area, assembled here."""

import typer

from vte.cli import accounts, generate, warehouse

app = typer.Typer(
    help="VTE quality-control regional data warehouse.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(warehouse.app, name="warehouse")
app.add_typer(accounts.app, name="accounts")
app.command("generate")(generate.generate)
