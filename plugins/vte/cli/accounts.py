"""``vte accounts``: register institutions and manage their API accounts."""

import json
from datetime import date

import typer

from vte import registry
from vte import warehouse as wh
from vte.access import roles

app = typer.Typer(help="Register institutions and manage their API accounts (accessKey / accessSecret).",
                  no_args_is_help=True)


def _fail(exc: Exception) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(2)


def _print_credentials(creds: registry.Credentials, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps({"accessKey": creds.access_key, "accessSecret": creds.access_secret,
                               "institution_code": creds.institution_code}))
    else:
        typer.echo(f"institution:  {creds.institution_code}\naccessKey:    {creds.access_key}\n"
                   f"accessSecret: {creds.access_secret}\n(the secret is shown only this once)")


@app.command()
def create(
    institution_code: str = typer.Option(..., help="The institution's code."),
    name: str = typer.Option(..., help="The institution's name."),
    region_code: str = typer.Option(..., help="GB/T 2260 county-level code of its location, e.g. 330328."),
    level: str = typer.Option(..., help="Hospital level: 二级 or 三级."),
    community: str = typer.Option(None, help="County medical community (医共体) it belongs to."),
    joined_on: str = typer.Option(None, help="First report date accepted (yyyy-mm-dd); earlier dates are refused."
                                             " Default today; set it earlier to let the institution back-fill."),
    as_json: bool = typer.Option(False, "--json", help="Print accessKey, accessSecret, institution_code as JSON."),
) -> None:
    """Register an institution and open its API account; prints the secret once."""
    joined = _date("--joined-on", joined_on) if joined_on else None
    try:
        with wh.connect(role=roles.ADMIN, autocommit=True) as conn:
            creds = registry.register(conn, code=institution_code, name=name, level=level, county_code=region_code,
                                      community=community, joined_on=joined)
    except (registry.RegistryError, wh.WarehouseNotRunning) as exc:
        _fail(exc)
    _print_credentials(creds, as_json)


def _date(option: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        _fail(ValueError(f"{option} {text!r} is not a date (yyyy-mm-dd)"))


@app.command("joined-on")
def joined_on_(
    institution_code: str = typer.Argument(..., help="The institution's code."),
    first_date: str = typer.Argument(..., help="Its first report date (yyyy-mm-dd): earlier dates are refused."),
) -> None:
    """Move an institution's first accepted report date, e.g. to let it back-fill; takes effect at once."""
    day = _date("FIRST_DATE", first_date)
    try:
        with wh.connect(role=roles.ADMIN, autocommit=True) as conn:
            registry.set_joined_on(conn, institution_code, day)
    except (registry.RegistryError, wh.WarehouseNotRunning) as exc:
        _fail(exc)
    typer.echo(f"{institution_code} reports from {day.isoformat()}")


@app.command("list")
def list_() -> None:
    """List institutions and their accounts (never the secrets)."""
    with wh.connect(role=roles.ADMIN) as conn:
        rows = registry.list_accounts(conn)
    for r in rows:
        typer.echo(f"{r['institution_code']}\t{r['institution_name']}\t{r['hospital_level']}\t{r['county_code']}\t"
                   f"{r['community_name'] or '-'}\t{r['access_key'] or '-'}\t{r['account_status'] or '-'}")


@app.command()
def rotate(
    access_key: str = typer.Argument(..., help="The account to give a new secret."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Issue a new secret for an account; the old one stops working at once."""
    try:
        with wh.connect(role=roles.ADMIN, autocommit=True) as conn:
            creds = registry.rotate(conn, access_key)
    except (registry.RegistryError, wh.WarehouseNotRunning) as exc:
        _fail(exc)
    _print_credentials(creds, as_json)


@app.command()
def replace(
    access_key: str = typer.Argument(..., help="The institution's revoked (or still active) account."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Give the institution a new account in place of this one (revoked now if still active); prints the secret
    once. Its reports, versions and feedback stay the institution's and continue under the new account."""
    try:
        with wh.connect(role=roles.ADMIN, autocommit=True) as conn:
            creds = registry.replace_account(conn, access_key)
    except (registry.RegistryError, wh.WarehouseNotRunning) as exc:
        _fail(exc)
    _print_credentials(creds, as_json)


@app.command()
def revoke(access_key: str = typer.Argument(..., help="The account to close.")) -> None:
    """Revoke an account: its requests are refused from now on."""
    try:
        with wh.connect(role=roles.ADMIN, autocommit=True) as conn:
            registry.revoke(conn, access_key)
    except (registry.RegistryError, wh.WarehouseNotRunning) as exc:
        _fail(exc)
    typer.echo(f"revoked {access_key}")
