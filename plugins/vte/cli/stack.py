"""``vte up``: run the whole stack locally until interrupted."""

import signal

import typer

from vte import stack as local_stack
from vte.config import get_settings


def up(
    airflow_port: int = typer.Option(8080, help="Port of the Airflow UI and API."),
    intake_port: int = typer.Option(8000, help="Port of the intake service."),
    console_port: int = typer.Option(8090, help="Port of the data centre console."),
) -> None:
    """Start the embedded warehouse, Airflow (standalone, with its UI), the intake service and the console;
    Ctrl-C stops them."""
    settings = get_settings()
    try:
        stack = local_stack.start(settings, airflow_port=airflow_port, intake_port=intake_port,
                                  console_port=console_port)
    except RuntimeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1)
    typer.echo(f"Airflow UI:      {stack.airflow_url}  (admin password: "
               f"{settings.airflow_home / 'simple_auth_manager_passwords.json.generated'})")
    typer.echo(f"Intake service:  {stack.intake_url}/xt/api/submit   upload page: {stack.intake_url}/upload")
    typer.echo(f"Console:         {stack.console_url}   (users: vte users create --username … --role admin"
               " --region 330000)")
    typer.echo(f"Logs:            {settings.logs_dir}")
    typer.echo("Ctrl-C stops the stack (the warehouse keeps running: `vte warehouse stop`).")
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
