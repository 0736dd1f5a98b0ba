"""``vte review`` and ``vte lock``: the console's review and lock actions, for operators and scripts."""

import getpass
from datetime import datetime

import typer

from vte import warehouse as wh
from vte.access import roles
from vte.review import approval, locks

review_app = typer.Typer(help="Accept a month's data county → city → province (the province's acceptance locks it).",
                         no_args_is_help=True)
lock_app = typer.Typer(help="Locked months, and time-boxed exceptions for one institution.", no_args_is_help=True)

REGION = typer.Option(..., "--region", help="GB/T 2260 code of the county, city or province.")
MONTH = typer.Option(..., "--month", help="The month, YYYY-MM.")


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _fail(exc: Exception) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(2)


def _show(unit: approval.Unit, depth: int = 0) -> str:
    state = f"accepted by {unit.actor} {unit.acted_at:%Y-%m-%d %H:%M}" if unit.accepted else "waiting"
    return f"{'  ' * depth}{unit.region_code} {unit.region_name} ({unit.region_level}, {unit.institutions} institutions): {state}"


@review_app.command()
def status(region: str = REGION, month: str = MONTH) -> None:
    """Each unit under the region and whether it accepted the month."""
    try:
        start = approval.month_start(month)
    except approval.ReviewError as exc:
        _fail(exc)
    with wh.connect(role=roles.ADMIN) as conn:
        all_units = approval.units(conn, start)
        lock = locks.month_lock(conn, start)
    shown = approval.inside(all_units, region)
    if not shown:
        _fail(approval.ReviewError(f"no institution reports in {region} for {month}: nothing to review"))
    depth = {region: 0}
    for unit in shown:
        depth.setdefault(unit.region_code, depth.get(unit.parent_code, -1) + 1)
        typer.echo(_show(unit, depth[unit.region_code]))
    typer.echo(f"{month}: locked ({lock.describe_en()})" if lock else f"{month}: open")


def _act(action, region: str, month: str, comment: str | None) -> None:
    try:
        start = approval.month_start(month)
        with wh.connect(role=roles.ADMIN, autocommit=True) as conn:
            unit = action(conn, region, start, actor=_actor(), comment=comment)
            lock = locks.month_lock(conn, start)
    except (approval.ReviewError, locks.LockError) as exc:
        _fail(exc)
    typer.echo(_show(unit))
    if lock:
        typer.echo(f"{start:%Y-%m}: locked ({lock.describe_en()})")


@review_app.command()
def accept(region: str = REGION, month: str = MONTH,
           comment: str = typer.Option(None, help="Kept with the decision.")) -> None:
    """Accept the month for the region, once every region under it has."""
    _act(approval.accept, region, month, comment)


@review_app.command()
def unaccept(region: str = REGION, month: str = MONTH,
             comment: str = typer.Option(None, help="Why (kept with the decision).")) -> None:
    """Withdraw the region's acceptance (until the level above accepts)."""
    _act(approval.unaccept, region, month, comment)


@lock_app.command("status")
def lock_status(month: str = typer.Option(None, "--month", help="One month, YYYY-MM; default: every lock.")) -> None:
    """Locked months and their exceptions."""
    try:
        start = approval.month_start(month) if month else None
    except approval.ReviewError as exc:
        _fail(exc)
    with wh.connect(role=roles.ADMIN) as conn:
        found = [locks.month_lock(conn, start)] if start else [
            locks.month_lock(conn, row[0]) for row in conn.execute("select month from review.month_locks order by 1")]
        open_exceptions = locks.exceptions(conn, start)
    for lock in filter(None, found):
        typer.echo(f"{lock.month:%Y-%m}: locked ({lock.describe_en()}, by {lock.actor})")
    if start and not any(found):
        typer.echo(f"{start:%Y-%m}: open")
    for e in open_exceptions:
        typer.echo(f"  exception {e.exception_id}: {e.institution_code} may correct {e.month:%Y-%m} until"
                   f" {e.valid_until.astimezone(locks.LOCAL_TZ):%Y-%m-%d %H:%M} ({e.reason}; {e.actor})")


@lock_app.command()
def exception(
    institution: str = typer.Option(..., help="The institution's code."),
    month: str = MONTH,
    until: str = typer.Option(..., help="Until when, Asia/Shanghai: 'YYYY-MM-DD HH:MM' (at most 31 days ahead)."),
    reason: str = typer.Option(..., help="Why: kept in the audit."),
) -> None:
    """Let one institution correct one locked month until a given time."""
    try:
        valid_until = datetime.strptime(until, "%Y-%m-%d %H:%M").replace(tzinfo=locks.LOCAL_TZ)
    except ValueError:
        _fail(locks.LockError(f"--until {until!r} is not 'YYYY-MM-DD HH:MM', e.g. '2026-04-20 18:00'"))
    try:
        with wh.connect(role=roles.ADMIN, autocommit=True) as conn:
            opened = locks.open_exception(conn, institution, approval.month_start(month), valid_until,
                                          reason=reason, actor=_actor())
    except (approval.ReviewError, locks.LockError) as exc:
        _fail(exc)
    typer.echo(f"exception {opened.exception_id}: {opened.institution_code} may correct {opened.month:%Y-%m} until"
               f" {opened.valid_until.astimezone(locks.LOCAL_TZ):%Y-%m-%d %H:%M}")
