"""``vte warehouse``: start, stop and locate the warehouse; load reference data."""

from pathlib import Path

import typer

from vte import regions
from vte import warehouse as wh
from vte.access import roles

app = typer.Typer(help="Start, stop and locate the warehouse (embedded PostgreSQL unless VTE_WAREHOUSE_URL is set).",
                  no_args_is_help=True)


SHOW_PASSWORD = typer.Option(False, "--show-password", help="Print the password in the URL (hidden otherwise).")


def _shown(url: str, show_password: bool) -> str:
    return url if show_password else wh.without_password(url)


@app.command()
def start(show_password: bool = SHOW_PASSWORD) -> None:
    """Start the warehouse (if embedded), create its databases, apply the schema, set the components' passwords
    (VTE_DB_PASSWORD_*) and load the regions."""
    url = wh.start()
    typer.echo(f"warehouse running: {_shown(url, show_password)}")


@app.command()
def stop() -> None:
    """Stop the embedded warehouse."""
    typer.echo("stopped" if wh.stop() else "not running (or external: never stopped from here)")


@app.command()
def status(show_password: bool = SHOW_PASSWORD) -> None:
    """Say whether the warehouse is running and where."""
    s = wh.status()
    kind = "embedded" if s.embedded else "external"
    typer.echo(f"{kind}: {'running' if s.running else 'stopped'}" + (f" (pid {s.pid})" if s.pid else ""))
    if s.url:
        typer.echo(_shown(s.url, show_password))
    raise typer.Exit(0 if s.running else 1)


@app.command()
def url(
    database: str = typer.Option("vte", help="Database on the same server (vte or airflow)."),
    role: str = typer.Option(roles.MIGRATOR, help="Whose login: migrator (VTE_WAREHOUSE_URL's own) or a"
                                                   f" component's role ({', '.join(roles.COMPONENTS)})."),
    show_password: bool = SHOW_PASSWORD,
) -> None:
    """Print a connection URL that psql, psycopg and SQLAlchemy accept."""
    if role != roles.MIGRATOR and role not in roles.COMPONENTS:
        typer.echo(f"error: no component role {role!r}: one of migrator, {', '.join(roles.COMPONENTS)}", err=True)
        raise typer.Exit(2)
    typer.echo(_shown(wh.url(database=database, role=role), show_password))


@app.command("load-regions")
def load_regions(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="<province>_<edition>.csv"),
    edition: str = typer.Option(None, help="Edition label; default: from the file name."),
) -> None:
    """Load another province's GB/T 2260 divisions (region_code, region_name, region_level, parent_code)."""
    try:
        with wh.connect(role=roles.ADMIN, autocommit=True) as conn:
            n = regions.load_region_file(conn, file, edition)
    except regions.RegionFileError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)
    typer.echo(f"loaded {n} regions from {file.name}")
