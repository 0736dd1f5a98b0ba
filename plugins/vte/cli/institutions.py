"""``vte institutions``: suspend, resume or close an institution from a report date on (audited)."""

import typer

from vte import lifecycle, registry
from vte import warehouse as wh
from vte.access import roles
from vte.cli.errors import parse_from, refuse
from vte.cli import outliers, roster

app = typer.Typer(help="An institution's lifecycle: suspended, closed or resumed from a report date on.",
                  no_args_is_help=True)
app.add_typer(roster.app, name="roster")
app.add_typer(outliers.app, name="outliers")

CODE = typer.Argument(..., help="The institution's code.")
FROM = typer.Option(..., "--from", help="The first report date it applies to (yyyy-mm-dd), not after today.")
REASON = typer.Option(..., "--reason", help="Why (kept with the change and in the audit).")


def _change(action, institution_code: str, from_date: str, reason: str, done: str) -> None:
    day = parse_from(from_date)
    try:
        with wh.connect(role=roles.ADMIN, autocommit=True) as conn:
            action(conn, institution_code, day, reason)
    except (registry.RegistryError, wh.WarehouseNotRunning) as exc:
        refuse(exc)
    typer.echo(f"{institution_code} {done} {day.isoformat()} on")


@app.command()
def suspend(institution_code: str = CODE, from_date: str = FROM, reason: str = REASON) -> None:
    """No report is expected (completeness, alerts) or accepted (40302) for dates from --from until it resumes."""
    _change(lifecycle.suspend, institution_code, from_date, reason, "is suspended for report dates from")


@app.command()
def resume(institution_code: str = CODE, from_date: str = FROM, reason: str = REASON) -> None:
    """Reports are expected and accepted again for dates from --from on."""
    _change(lifecycle.resume, institution_code, from_date, reason, "reports again for dates from")


@app.command()
def close(institution_code: str = CODE, from_date: str = FROM, reason: str = REASON) -> None:
    """No report is expected or accepted (40303) for dates from --from on; earlier dates still are."""
    _change(lifecycle.close, institution_code, from_date, reason, "is closed for report dates from")


@app.command()
def show(institution_code: str = CODE) -> None:
    """The institution's status today, its suspended or closed dates, and every change with its reason."""
    with wh.connect(role=roles.ADMIN) as conn:
        if not conn.execute("select 1 from registry.institutions where institution_code = %s",
                            (institution_code,)).fetchone():
            refuse(registry.RegistryError(f"institution {institution_code} is not registered (机构未注册)"))
        status, first = lifecycle.since(conn, institution_code)
        periods = lifecycle.periods(conn, institution_code)
        changes = lifecycle.history(conn, institution_code)
    typer.echo(f"{institution_code}: {status}" + (f" from {first.isoformat()}" if first else ""))
    for period in periods:
        until = f" until {period.resumed_on.isoformat()} (exclusive)" if period.resumed_on else " on"
        typer.echo(f"  not expected: {period.status} from {period.from_date.isoformat()}{until}")
    for change in changes:
        typer.echo(f"  #{change.change_id} {change.set_at:%Y-%m-%d %H:%M} {change.set_by}: {change.status} from"
                   f" {change.effective_from.isoformat()}: {change.reason}")
