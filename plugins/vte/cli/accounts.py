"""``vte accounts``: register institutions and manage their API accounts, production and sandbox (test)."""

import json
from datetime import date

import typer

from vte import registry, sandbox
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
    override_sandbox: bool = typer.Option(False, "--override-sandbox",
                                          help="Issue production credentials without a passed sandbox submission"
                                               " (needs --reason; recorded in ops.admin_audit)."),
    reason: str = typer.Option(None, help="Why the sandbox is overridden."),
) -> None:
    """Register an institution and open its production API account; prints the secret once.

    Only after one of its sandbox submissions passed (create-test, then sandbox-status), unless overridden."""
    joined = _date("--joined-on", joined_on) if joined_on else None
    if override_sandbox and not (reason or "").strip():
        _fail(ValueError("--override-sandbox needs --reason: why production credentials are issued untested"))
    if reason and not override_sandbox:
        _fail(ValueError("--reason goes with --override-sandbox"))
    try:
        with wh.connect(role=roles.ADMIN, autocommit=True) as conn:
            creds = sandbox.issue_production(
                conn, institution={"code": institution_code, "name": name, "level": level, "county_code": region_code,
                                   "community": community, "joined_on": joined},
                override_reason=reason if override_sandbox else None)
    except (registry.RegistryError, wh.WarehouseNotRunning) as exc:
        _fail(exc)
    _print_credentials(creds, as_json)


@app.command("create-test")
def create_test(
    institution_code: str = typer.Option(..., help="The institution's code (registered or not yet)."),
    name: str = typer.Option(None, help="The institution's name, when it is not registered yet."),
    as_json: bool = typer.Option(False, "--json", help="Print accessKey, accessSecret, institution_code as JSON."),
) -> None:
    """Open sandbox (test) credentials: the same endpoints, the same answers, nothing reaches the warehouse."""
    try:
        with wh.connect(role=roles.ADMIN, autocommit=True) as conn:
            creds = registry.create_test_account(conn, institution_code, name)
    except (registry.RegistryError, wh.WarehouseNotRunning) as exc:
        _fail(exc)
    _print_credentials(creds, as_json)


@app.command("sandbox-status")
def sandbox_status(as_json: bool = typer.Option(False, "--json", help="One JSON object per institution.")) -> None:
    """Which institutions given test credentials passed the sandbox (why not yet: held out, refused), which hold
    production credentials, and any administrator's override; the console's onboarding page shows the same."""
    try:
        with wh.connect(role=roles.ADMIN) as conn:
            rows = sandbox.status(conn)
    except wh.WarehouseNotRunning as exc:
        _fail(exc)
    for r in rows:
        if as_json:
            typer.echo(json.dumps(r, ensure_ascii=False, default=lambda value: value.isoformat()))
            continue
        passed = f"passed {r['passed_at']:%Y-%m-%d %H:%M}" if r["passed"] else "not passed"
        production = "production" if r["has_production_account"] else "no production account"
        if r["override_at"]:
            production += f" (override by {r['override_by']}: {r['override_reason']})"
        typer.echo(f"{r['institution_code']}\t{r['institution_name'] or '-'}\t{passed}\t"
                   f"{r['sandbox_submissions']} submission(s), {r['held_out_submissions']} held out\t"
                   f"{r['refused_requests']} refused\t{production}\t{r['test_access_key'] or '-'}")


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
    """List institutions and their accounts, then the test accounts (never the secrets)."""
    with wh.connect(role=roles.ADMIN) as conn:
        rows = registry.list_accounts(conn)
        tests = registry.list_test_accounts(conn)
    for r in rows:
        typer.echo(f"{r['institution_code']}\t{r['institution_name']}\t{r['hospital_level']}\t{r['county_code']}\t"
                   f"{r['community_name'] or '-'}\t{r['access_key'] or '-'}\t{r['account_status'] or '-'}")
    for r in tests:
        typer.echo(f"{r['institution_code']}\t{r['institution_name'] or '-'}\ttest\t-\t-\t{r['access_key']}\t"
                   f"{r['account_status']}")


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
