"""Regional analysts: PostgreSQL logins that read the published marts of one region only.

An analyst is a login role, a member of ``vte_analyst``, with a row in ``access.analyst_regions`` naming
its region; the marts' row-level security policies (dbt's ``row_access_policies``) read that row. The
password is generated here, shown once, and reaches the server only as its SCRAM verifier.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql

from vte.access import roles
from vte.registry import audit

LOGIN_NAME = re.compile(r"[a-z][a-z0-9_]{2,40}")
RESERVED_PREFIXES = ("vte_", "pg_")


class AnalystError(ValueError):
    """A refused request; the message says what was wrong and what to do."""


@dataclass(frozen=True)
class AnalystLogin:
    login: str
    password: str
    region_code: str
    region_name: str


@dataclass(frozen=True)
class Analyst:
    login: str
    display_name: str
    region_code: str
    region_name: str
    region_level: str
    province_totals: bool
    created_at: datetime


def create(conn: psycopg.Connection, *, login: str, region_code: str, display_name: str | None = None,
           province_totals: bool = False) -> AnalystLogin:
    """Create the login and its regional grant in one transaction; returns the password (shown once)."""
    if not LOGIN_NAME.fullmatch(login) or login.startswith(RESERVED_PREFIXES):
        raise AnalystError(f"login {login!r} must be 3-41 lowercase letters, digits or _, starting with a letter,"
                           " and not begin with vte_ or pg_ (登录名不合规)")
    with conn.transaction():
        region = conn.execute("select region_name from registry.regions where region_code = %s",
                              (region_code,)).fetchone()
        if region is None:
            raise AnalystError(f"region {region_code!r} is not a known GB/T 2260 code: see `vte warehouse"
                               " load-regions` (未知的行政区划代码)")
        if conn.execute("select 1 from pg_roles where rolname = %s", (login,)).fetchone():
            raise AnalystError(f"a database login named {login!r} already exists: choose another name (登录名已存在)")
        password = secrets.token_urlsafe(18)
        verifier = conn.pgconn.encrypt_password(password.encode(), login.encode(), b"scram-sha-256").decode()
        conn.execute(sql.SQL("create role {} login password {} in role {}").format(
            sql.Identifier(login), sql.Literal(verifier), sql.Identifier(roles.ANALYST)))
        conn.execute("insert into access.analyst_regions (role_name, region_code, province_totals, display_name)"
                     " values (%s, %s, %s, %s)", (login, region_code, province_totals, display_name or login))
        audit(conn, "analyst.create", login, region_code=region_code, province_totals=province_totals)
    return AnalystLogin(login, password, region_code, region[0])


def list_analysts(conn: psycopg.Connection) -> list[Analyst]:
    return [Analyst(*row) for row in conn.execute(
        "select analyst_regions.role_name, analyst_regions.display_name, analyst_regions.region_code,"
        " regions.region_name, regions.region_level, analyst_regions.province_totals, analyst_regions.created_at"
        " from access.analyst_regions"
        " inner join registry.regions on analyst_regions.region_code = regions.region_code"
        " order by analyst_regions.role_name")]


def revoke(conn: psycopg.Connection, login: str) -> None:
    """Remove the grant (its sessions see no row from the next query on) and drop the login."""
    with conn.transaction():
        removed = conn.execute("delete from access.analyst_regions where role_name = %s returning region_code",
                               (login,)).fetchone()
        if removed is None:
            raise AnalystError(f"{login!r} is not an analyst login: `vte analysts list` shows them (无此分析员)")
        conn.execute(sql.SQL("drop role {}").format(sql.Identifier(login)))
        audit(conn, "analyst.revoke", login, region_code=removed[0])
