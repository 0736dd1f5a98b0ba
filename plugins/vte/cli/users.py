"""``vte users``: the data centre console's users, each with a role and a region."""

from __future__ import annotations

import getpass
import sys
from datetime import datetime, timezone

import typer

from vte import warehouse as wh
from vte.access import roles
from vte.console import users
from vte.console.users import UserError

app = typer.Typer(help="Create, list and disable the console's users; reset a password.", no_args_is_help=True)

PASSWORD_STDIN = typer.Option(False, "--password-stdin", help="Read the password from stdin instead of generating"
                                                              " one (at least 12 characters).")


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _fail(exc: Exception) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(2)


def _stdin_password(wanted: bool) -> str | None:
    if not wanted:
        return None
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        _fail(UserError("--password-stdin read nothing: pipe the password in, e.g. `vte users create … --password-stdin"
                        " < file`"))
    return password


@app.command()
def create(
    username: str = typer.Option(..., help="Sign-in name: lowercase letters, digits, '.', '-', '_'."),
    role: str = typer.Option(..., help="admin (a province), city_reviewer (a city), county_reviewer (a county) or"
                                       " viewer (any region, read only)."),
    region: str = typer.Option(..., help="GB/T 2260 code of the region the user works for."),
    display_name: str = typer.Option(None, help="Who the user is, e.g. '文成县卫健局 张三' (shown in the console)."),
    password_stdin: bool = PASSWORD_STDIN,
) -> None:
    """Create a console user; prints a generated password once (only its argon2id hash is kept)."""
    password = _stdin_password(password_stdin)
    try:
        with wh.connect(role=roles.ADMIN, autocommit=True) as conn:
            user, password = users.create(conn, username=username, role=role, region_code=region,
                                          display_name=display_name, password=password, actor=_actor())
    except UserError as exc:
        _fail(exc)
    typer.echo(f"user:     {user.username} ({user.display_name})\nrole:     {user.role}\n"
               f"region:   {user.region_code} {user.region_name}")
    if not password_stdin:
        typer.echo(f"password: {password}\n(the password is shown only this once)")


@app.command("list")
def list_() -> None:
    """Every console user: role, region, state."""
    with wh.connect(role=roles.ADMIN) as conn:
        found = users.list_users(conn)
    for u in found:
        state = (f"disabled {u.disabled_at:%Y-%m-%d}" if u.disabled_at else
                 f"locked until {u.locked_until:%Y-%m-%d %H:%M}" if u.locked_until and u.locked_until > datetime.now(timezone.utc) else
                 "active")
        typer.echo(f"{u.username}\t{u.role}\t{u.region_code} {u.region_name}\t{state}\t{u.display_name}")
    if not found:
        typer.echo("no console users yet: `vte users create --username … --role admin --region CODE` adds one")


@app.command()
def disable(username: str = typer.Argument(..., help="The user to disable.")) -> None:
    """Disable a user: it cannot sign in, and its open sessions end at once."""
    try:
        with wh.connect(role=roles.ADMIN, autocommit=True) as conn:
            ended = users.disable(conn, username, actor=_actor())
    except UserError as exc:
        _fail(exc)
    typer.echo(f"disabled {username} ({ended} open session(s) ended)")


@app.command("reset-password")
def reset_password(username: str = typer.Argument(..., help="The user whose password to replace."),
                   password_stdin: bool = PASSWORD_STDIN) -> None:
    """A new password (shown once), the lockout lifted; the user's open sessions end."""
    password = _stdin_password(password_stdin)
    try:
        with wh.connect(role=roles.ADMIN, autocommit=True) as conn:
            password = users.reset_password(conn, username, actor=_actor(), password=password)
    except UserError as exc:
        _fail(exc)
    typer.echo(f"reset the password of {username}")
    if not password_stdin:
        typer.echo(f"password: {password}\n(the password is shown only this once)")


if __name__ == "__main__":  # `python -m vte.cli.users`, until `vte users` is registered
    app()
