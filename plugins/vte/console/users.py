"""The console's users: who may sign in, with which role, for which region (``vte users``, as vte_admin).

A password is generated and shown once, or read from stdin; only its argon2id hash is stored. The role
fixes the level of the region (an admin the province, a city reviewer a city, a county reviewer a county;
a viewer any): migration 011_console.sql enforces it, this module passes its message on. Disabling a user
or resetting a password ends the user's open sessions at once. Every change is in console.audit_events.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from vte.console import audit

ROLES = ("admin", "city_reviewer", "county_reviewer", "viewer")
ROLE_NAMES = {"admin": "省级管理员 Administrator", "city_reviewer": "市级审核员 City reviewer",
              "county_reviewer": "区县审核员 County reviewer", "viewer": "只读用户 Viewer"}
USERNAME = re.compile(r"[a-z][a-z0-9_.-]{2,40}")
MIN_PASSWORD_LENGTH = 12

# argon2-cffi's defaults are argon2id with RFC 9106's low-memory profile (64 MiB, 3 passes).
hasher = PasswordHasher()


class UserError(ValueError):
    """A refused request about a console user; the message says what is wrong and what to do."""


@dataclass(frozen=True)
class User:
    username: str
    display_name: str
    role: str
    region_code: str
    region_name: str
    region_level: str
    created_at: datetime
    locked_until: datetime | None
    disabled_at: datetime | None


USER = """
select users.username, users.display_name, users.role, users.region_code, regions.region_name,
       regions.region_level, users.created_at, users.locked_until, users.disabled_at
from console.users
inner join registry.regions on users.region_code = regions.region_code
"""


def hash_password(password: str) -> str:
    return hasher.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_password() -> str:
    return secrets.token_urlsafe(15)


def _checked_password(password: str | None) -> str:
    if password is None:
        return new_password()
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password has {len(password)} characters: give at least {MIN_PASSWORD_LENGTH}"
                        f" (密码至少 {MIN_PASSWORD_LENGTH} 位)")
    return password


def get(conn: psycopg.Connection, username: str) -> User | None:
    row = conn.execute(USER + " where users.username = %s", (username,)).fetchone()
    return User(*row) if row else None


def create(conn: psycopg.Connection, *, username: str, role: str, region_code: str, actor: str,
           display_name: str | None = None, password: str | None = None) -> tuple[User, str]:
    """Create a user; returns it and its password (generated unless given), to be shown once."""
    if not USERNAME.fullmatch(username):
        raise UserError(f"username {username!r} must be 3-41 lowercase letters, digits, '.', '-' or '_', starting"
                        " with a letter (用户名不合规)")
    if role not in ROLES:
        raise UserError(f"role {role!r} is not one of {', '.join(ROLES)} (角色不存在)")
    password = _checked_password(password)
    with conn.transaction():
        if conn.execute("select 1 from registry.regions where region_code = %s", (region_code,)).fetchone() is None:
            raise UserError(f"region {region_code!r} is not a known GB/T 2260 code: see `vte warehouse load-regions`"
                            " (未知的行政区划代码)")
        if get(conn, username) is not None:
            raise UserError(f"a console user named {username!r} exists already: choose another name (用户名已存在)")
        try:
            with conn.transaction():
                conn.execute("insert into console.users (username, display_name, role, region_code, password_hash)"
                             " values (%s, %s, %s, %s, %s)",
                             (username, (display_name or username).strip() or username, role, region_code,
                              hash_password(password)))
        except psycopg.errors.CheckViolation as exc:
            raise UserError(exc.diag.message_primary or str(exc)) from None
        audit.record(conn, actor, "user.create", username, role=role, region_code=region_code)
    return get(conn, username), password


def list_users(conn: psycopg.Connection) -> list[User]:
    return [User(*row) for row in conn.execute(USER + " order by users.region_code, users.username")]


def _existing(conn: psycopg.Connection, username: str) -> User:
    user = get(conn, username)
    if user is None:
        raise UserError(f"no console user named {username!r}: `vte users list` shows them (无此用户)")
    return user


def _end_sessions(conn: psycopg.Connection, username: str, why: str) -> int:
    return conn.execute("update console.sessions set ended_at = now(), ended_why = %s"
                        " where username = %s and ended_at is null", (why, username)).rowcount


def disable(conn: psycopg.Connection, username: str, *, actor: str) -> int:
    """Disable the user and end its sessions; returns how many sessions were ended."""
    with conn.transaction():
        user = _existing(conn, username)
        if user.disabled_at is not None:
            raise UserError(f"{username!r} was disabled on {user.disabled_at:%Y-%m-%d %H:%M} already (已停用)")
        conn.execute("update console.users set disabled_at = now() where username = %s", (username,))
        ended = _end_sessions(conn, username, "disabled")
        audit.record(conn, actor, "user.disable", username, sessions_ended=ended)
    return ended


def reset_password(conn: psycopg.Connection, username: str, *, actor: str, password: str | None = None) -> str:
    """A new password (generated unless given), the lockout lifted, every session ended; returns the password."""
    password = _checked_password(password)
    with conn.transaction():
        user = _existing(conn, username)
        if user.disabled_at is not None:
            raise UserError(f"{username!r} is disabled: create a new user instead (已停用)")
        conn.execute("update console.users set password_hash = %s, password_changed_at = now(),"
                     " failed_attempts = 0, locked_until = null where username = %s",
                     (hash_password(password), username))
        ended = _end_sessions(conn, username, "password_reset")
        audit.record(conn, actor, "user.reset_password", username, sessions_ended=ended)
    return password
