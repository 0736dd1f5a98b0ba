"""``vte alerts``: list, acknowledge and resolve alerts; manage who receives them; run detection and delivery."""

from __future__ import annotations

import getpass

import typer

from vte import warehouse as wh
from vte.access import roles
from vte.alerts import model, recipients, steps
from vte.alerts.model import AlertError

app = typer.Typer(help="Alerts: missing and late reports, stopped gates, failed runs, indicators below target.",
                  no_args_is_help=True)
recipients_app = typer.Typer(help="Who receives alerts: e-mail addresses and chat-robot webhooks, by region.",
                             no_args_is_help=True)
app.add_typer(recipients_app, name="recipients")


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _fail(exc: Exception) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(2)


@app.command("list")
def list_(
    state: str = typer.Option(None, "--state", help="open, acknowledged or resolved (default: all)."),
    region: str = typer.Option(None, "--region", help="GB/T 2260 code: this region's alerts and those inside it."),
    kind: str = typer.Option(None, "--kind", help=f"One kind: {', '.join(model.KINDS)}."),
    limit: int = typer.Option(200, "--limit", min=1, help="At most this many, newest first."),
) -> None:
    """Alerts, newest first: number, state, level, region, first seen, message."""
    try:
        with wh.connect(role=roles.ADMIN) as conn:
            found = model.list_alerts(conn, state=state, region=region, kind=kind, limit=limit)
    except AlertError as exc:
        _fail(exc)
    for alert in found:
        typer.echo(alert.line())
    if not found:
        typer.echo("no alerts" + (f" {state}" if state else "") + (f" in {region}" if region else ""))


@app.command()
def ack(alert_id: int = typer.Argument(..., help="The alert's number (`vte alerts list`).")) -> None:
    """Acknowledge an open alert: someone is on it, it is not sent again unless it escalates."""
    try:
        with wh.connect(role=roles.ADMIN, autocommit=True) as conn:
            alert = model.acknowledge(conn, alert_id, _actor())
    except AlertError as exc:
        _fail(exc)
    typer.echo(alert.line())


@app.command()
def resolve(
    alert_id: int = typer.Argument(..., help="The alert's number (`vte alerts list`)."),
    note: str = typer.Option(None, "--note", help="What was done (kept with the alert)."),
) -> None:
    """Resolve an alert by hand; if its problem is detected again, a new alert opens."""
    try:
        with wh.connect(role=roles.ADMIN, autocommit=True) as conn:
            alert = model.resolve(conn, alert_id, _actor(), note)
    except AlertError as exc:
        _fail(exc)
    typer.echo(alert.line())


@app.command()
def run() -> None:
    """Detect and deliver once (what the vte_alerts DAG does every hour)."""
    detected, delivered = steps.run_once()
    typer.echo(f"detection: {detected}")
    typer.echo(f"delivery: {delivered}")


@recipients_app.command("add")
def add_recipient(
    name: str = typer.Option(..., "--name", help="Who this is, e.g. '温州市卫健委 质控科'."),
    email: str = typer.Option(None, "--email", help="An e-mail address."),
    webhook: str = typer.Option(None, "--webhook",
                                help="A chat robot's webhook URL (WeCom, DingTalk); kept encrypted."),
    region: str = typer.Option(..., "--region", help="GB/T 2260 code it covers, with every region inside it."),
    min_level: str = typer.Option("warning", "--min-level", help="info, warning or critical."),
) -> None:
    """Add a recipient for a region's alerts at or above a level."""
    try:
        with wh.connect(role=roles.ADMIN, autocommit=True) as conn:
            added = recipients.add(conn, name=name, email=email, webhook=webhook, region_code=region,
                                   min_level=min_level)
    except AlertError as exc:
        _fail(exc)
    typer.echo(added.line())


@recipients_app.command("list")
def list_recipients(show_removed: bool = typer.Option(False, "--all", help="Include removed recipients.")) -> None:
    """Recipients: number, name, channel, address (webhook secrets hidden), region, minimum level."""
    with wh.connect(role=roles.ADMIN) as conn:
        found = recipients.list_recipients(conn, include_removed=show_removed)
    for recipient in found:
        typer.echo(recipient.line())
    if not found:
        typer.echo("no recipients yet: `vte alerts recipients add --name N --email A --region CODE` adds one")


@recipients_app.command("remove")
def remove_recipient(recipient_id: int = typer.Argument(..., help="The recipient's number.")) -> None:
    """Stop sending to a recipient (its past deliveries stay on record)."""
    try:
        with wh.connect(role=roles.ADMIN, autocommit=True) as conn:
            removed = recipients.remove(conn, recipient_id)
    except AlertError as exc:
        _fail(exc)
    typer.echo(f"removed {removed.recipient_id} {removed.name}")
