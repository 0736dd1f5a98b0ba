"""``vte institutions outliers``: an institution's held-out outliers, and confirming one as real (vte.quality.outliers)."""

from datetime import date, timedelta

import typer

from vte import registry
from vte import warehouse as wh
from vte.access import roles
from vte.cli.errors import parse_from, refuse
from vte.dbt import project_var
from vte.quality import outliers, roster
from vte.review.approval import month_end
from vte.submission import report_today

app = typer.Typer(help="Counts far above a department's own history, held out until confirmed as real.",
                  no_args_is_help=True)

CODE = typer.Argument(..., help="The institution's code.")


def _range(month: str | None) -> tuple[date, date]:
    if month is None:  # the days outliers are judged on in a daily run
        today = report_today()
        return today - timedelta(days=int(project_var("outlier_judged_days"))), today
    first = roster.parse_month(month)
    return first, month_end(first)


def _line(o: outliers.PublishedOutlier) -> str:
    state = "confirmed, counted" if o.confirmed else "held out"
    return (f"  {o.report_date.isoformat()} {o.campus}/{o.department_code} v{o.version} {o.field_name} = {o.value}"
            f" (usual {o.usual_low}-{o.usual_high}, median {o.median:g}): {state}")


@app.command("list")
def list_(institution_code: str = CODE,
          month: str = typer.Option(None, "--month", help="yyyy-mm; default: the days a daily run judges"
                                                          " (dbt var outlier_judged_days, 92).")) -> None:
    """The published outliers held out of the indicators, and those confirmed."""
    try:
        first, last = _range(month)
        with wh.connect(role=roles.EXTRACTS) as marts:
            found = outliers.published(marts, institution_code, first, last)
    except (registry.RegistryError, wh.WarehouseNotRunning) as exc:
        refuse(exc)
    if not found:
        typer.echo(f"{institution_code}: no outlier held out or confirmed from {first.isoformat()} to {last.isoformat()}")
        return
    held = sum(1 for o in found if not o.confirmed)
    typer.echo(f"{institution_code}: {held} held out, {len(found) - held} confirmed"
               f" ({first.isoformat()} to {last.isoformat()})")
    for o in found:
        typer.echo(_line(o))


@app.command()
def confirm(institution_code: str = CODE,
            report_date: str = typer.Option(..., "--date", help="The report date (yyyy-mm-dd)."),
            campus: str = typer.Option(..., "--campus", help="The campus, as the interface's `hospital`."),
            department: str = typer.Option(..., "--department", help="The department id, as the interface's `dept`."),
            field: str = typer.Option(..., "--field", help="The count, by its interface name (e.g. dischargeHospital)."),
            reason: str = typer.Option(..., "--reason", help="Who at the hospital confirmed it and what happened.")) -> None:
    """Confirm a held-out value as real: the row counts from the next publication on (audited)."""
    day = parse_from(report_date, option="--date")
    try:
        with wh.connect(role=roles.EXTRACTS) as marts:
            held_out = outliers.find_held_out(outliers.published(marts, institution_code, day, day), day,
                                              campus.strip(), department.strip(), field.strip())
        with wh.connect(role=roles.ADMIN, autocommit=True) as conn:
            outliers.confirm(conn, held_out, institution_code, reason)
    except (registry.RegistryError, wh.WarehouseNotRunning) as exc:
        refuse(exc)
    typer.echo(f"{institution_code}: {day.isoformat()} {held_out.campus}/{held_out.department_code}"
               f" {held_out.field_name} = {held_out.value} confirmed: counted from the next publication on")
