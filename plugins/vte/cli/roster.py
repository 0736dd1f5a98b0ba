"""``vte institutions roster``: an institution's expected campuses and departments (vte.quality.roster), audited."""

import typer

from vte import registry
from vte.quality import roster
from vte import warehouse as wh
from vte.access import roles
from vte.cli.errors import parse_from, refuse

app = typer.Typer(help="Expected departments: a department absent from a day's newest version is missing, not zero.",
                  no_args_is_help=True)

CODE = typer.Argument(..., help="The institution's code.")
CAMPUS = typer.Option(..., "--campus", help="The campus, as the interface's `hospital`.")
DEPARTMENT = typer.Option(..., "--department", help="The department id, as the interface's `dept`.")
FROM = typer.Option(..., "--from", help="The first report date it applies to (yyyy-mm-dd).")
REASON = typer.Option(..., "--reason", help="Why (kept with the roster and in the audit).")


def _line(entry: roster.ExpectedDepartment) -> str:
    until = f" until {entry.effective_to.isoformat()} (exclusive)" if entry.effective_to else " on"
    name = f" {entry.department_name}" if entry.department_name != entry.department_code else ""
    closed = f"; closed: {entry.close_reason}" if entry.close_reason else ""
    return (f"  {entry.campus}/{entry.department_code}{name}: from {entry.effective_from.isoformat()}{until}"
            f" ({entry.source}, {entry.confirmed_by} {entry.confirmed_at:%Y-%m-%d}: {entry.reason}{closed})")


@app.command()
def show(institution_code: str = CODE) -> None:
    """Every stretch of the roster; without one, nothing is expected below the institution."""
    try:
        with wh.connect(role=roles.ADMIN) as conn:
            if not conn.execute("select 1 from registry.institutions where institution_code = %s",
                                (institution_code,)).fetchone():
                raise registry.RegistryError(f"institution {institution_code} is not registered (机构未注册)")
            entries = roster.entries(conn, institution_code)
    except (registry.RegistryError, wh.WarehouseNotRunning) as exc:
        refuse(exc)
    if not entries:
        typer.echo(f"{institution_code}: no roster: only whole days are expected (`roster learn` proposes one)")
        return
    typer.echo(f"{institution_code}: {sum(1 for e in entries if e.effective_to is None)} departments expected")
    for entry in entries:
        typer.echo(_line(entry))


@app.command()
def learn(institution_code: str = CODE,
          month: str = typer.Option(None, "--month", help="yyyy-mm; default: the last complete month published."),
          confirm: bool = typer.Option(False, "--confirm", help="Store the proposal as the roster (audited).")) -> None:
    """Propose the departments of the newest versions of a complete month; --confirm stores them from its first day."""
    try:
        chosen = roster.parse_month(month) if month else None
        # the proposal reads the published marts (as the extracts do); the roster is written as the operator
        with wh.connect(role=roles.EXTRACTS) as marts:
            proposal = roster.propose(marts, institution_code, chosen)
        typer.echo(f"{institution_code}: departments reported in {proposal.month:%Y-%m}"
                   f" ({proposal.departments[0].days_received} days received):")
        for d in proposal.departments:
            typer.echo(f"  {d.campus}/{d.department_code}: present {d.days_present} days")
        if not confirm:
            typer.echo(f"not stored: run again with --confirm to expect them from {proposal.month.isoformat()}")
            return
        with wh.connect(role=roles.ADMIN, autocommit=True) as conn:
            roster.confirm(conn, proposal)
    except (registry.RegistryError, wh.WarehouseNotRunning) as exc:
        refuse(exc)
    typer.echo(f"{institution_code}: {len(proposal.departments)} departments expected from {proposal.month.isoformat()}")


@app.command()
def add(institution_code: str = CODE, campus: str = CAMPUS, department: str = DEPARTMENT, from_date: str = FROM,
        reason: str = REASON,
        name: str = typer.Option(None, "--name", help="The department's name (default: its id).")) -> None:
    """Expect a department from --from on (declared for the hospital)."""
    day = parse_from(from_date)
    try:
        with wh.connect(role=roles.ADMIN, autocommit=True) as conn:
            entry = roster.add(conn, institution_code, campus, department, day, reason, name)
    except (registry.RegistryError, wh.WarehouseNotRunning) as exc:
        refuse(exc)
    typer.echo(f"{institution_code}: {entry.campus}/{entry.department_code} expected from {day.isoformat()} on")


@app.command()
def close(institution_code: str = CODE, campus: str = CAMPUS, department: str = DEPARTMENT, from_date: str = FROM,
          reason: str = REASON) -> None:
    """No longer expect a department from --from on (earlier dates still are)."""
    day = parse_from(from_date)
    try:
        with wh.connect(role=roles.ADMIN, autocommit=True) as conn:
            entry = roster.close(conn, institution_code, campus, department, day, reason)
    except (registry.RegistryError, wh.WarehouseNotRunning) as exc:
        refuse(exc)
    typer.echo(f"{institution_code}: {entry.campus}/{entry.department_code} not expected from {day.isoformat()} on")
