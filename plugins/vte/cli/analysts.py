"""``vte analysts``: logins for analysts, each reading the published marts of one region."""

import json

import typer

from vte import warehouse as wh
from vte.access import analysts, roles

app = typer.Typer(help="Create, list and revoke analysts' database logins, each scoped to a region.",
                  no_args_is_help=True)


def _fail(exc: Exception) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(2)


@app.command()
def create(
    name: str = typer.Option(..., help="The login (lowercase letters, digits, _), e.g. hz_analyst."),
    region: str = typer.Option(..., help="GB/T 2260 code of the province, city or county the analyst may read."),
    display_name: str = typer.Option(None, help="Who uses the login (shown by `list`)."),
    province_totals: bool = typer.Option(False, help="Also read the province's own totals (a city or county"
                                                      " analyst otherwise sees only its region)."),
    as_json: bool = typer.Option(False, "--json", help="Print login, password and connection URL as JSON."),
) -> None:
    """Create an analyst's login; prints the password once (the server keeps only its SCRAM verifier)."""
    try:
        with wh.connect(role=roles.ADMIN, autocommit=True) as conn:
            login = analysts.create(conn, login=name, region_code=region, display_name=display_name,
                                    province_totals=province_totals)
    except analysts.AnalystError as exc:
        _fail(exc)
    url = wh.as_role(wh.url(role=roles.ADMIN), login.login, None)
    if as_json:
        typer.echo(json.dumps({"login": login.login, "password": login.password, "region_code": login.region_code,
                               "url": url}))
        return
    typer.echo(f"login:    {login.login}\npassword: {login.password}\n(the password is shown only this once)\n"
               f"region:   {login.region_code} {login.region_name}\nconnect:  psql \"{url}\"")


@app.command("list")
def list_() -> None:
    """Every analyst's login, region and since when."""
    with wh.connect(role=roles.ADMIN) as conn:
        rows = analysts.list_analysts(conn)
    for a in rows:
        totals = " +province totals" if a.province_totals else ""
        typer.echo(f"{a.login}\t{a.region_code} {a.region_name} ({a.region_level}){totals}\t{a.display_name}"
                   f"\t{a.created_at:%Y-%m-%d}")
    if not rows:
        typer.echo("no analysts yet: `vte analysts create --name … --region CODE` adds one")


@app.command()
def revoke(name: str = typer.Argument(..., help="The login to remove.")) -> None:
    """Remove an analyst's login and grant; its open sessions see no rows from their next query."""
    try:
        with wh.connect(role=roles.ADMIN, autocommit=True) as conn:
            analysts.revoke(conn, name)
    except analysts.AnalystError as exc:
        _fail(exc)
    typer.echo(f"revoked {name}")
