"""Server-side sessions: the cookie holds a random token, console.sessions its SHA-256 and its state.

Because the server decides on every request, signing out, disabling the user or resetting the password
ends a session at once, in every worker. A session ends after an hour without a request, and after ten
hours in any case (a working day). Each session's CSRF token is derived from its token, so it needs no
storage and cannot be computed from the table.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

import psycopg

from vte.console import users
from vte.console.users import User

COOKIE = "vte_console_session"
IDLE = timedelta(hours=1)
LIFETIME = timedelta(hours=10)


@dataclass(frozen=True)
class SignedIn:
    user: User
    csrf: str


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_for(token: str) -> str:
    return hmac.new(token.encode(), b"vte-console-csrf", hashlib.sha256).hexdigest()


def open_session(conn: psycopg.Connection, username: str, *, client_address: str | None,
                 user_agent: str | None) -> str:
    """A new session for the user; returns the token for its cookie."""
    token = secrets.token_urlsafe(32)
    conn.execute("insert into console.sessions (token_sha256, username, expires_at, client_address, user_agent)"
                 " values (%s, %s, now() + %s, %s, %s)",
                 (token_sha256(token), username, LIFETIME, client_address, (user_agent or "")[:300]))
    return token


CURRENT = """
with touched as (
    update console.sessions set last_seen_at = now()
    where token_sha256 = %(token)s and ended_at is null and expires_at > now() and last_seen_at > now() - %(idle)s
    returning username
)
""" + users.USER + """
inner join touched on users.username = touched.username
where users.disabled_at is null
"""


def current(conn: psycopg.Connection, token: str | None) -> SignedIn | None:
    """The signed-in user of a cookie's token, or None when it is absent, unknown, ended or expired."""
    if not token or len(token) > 100:
        return None
    row = conn.execute(CURRENT, {"token": token_sha256(token), "idle": IDLE}).fetchone()
    return SignedIn(User(*row), csrf_for(token)) if row else None


def end_session(conn: psycopg.Connection, token: str) -> str | None:
    """End the session (sign-out); returns its user, or None when it had ended already."""
    row = conn.execute("update console.sessions set ended_at = now(), ended_why = 'sign_out'"
                       " where token_sha256 = %s and ended_at is null returning username",
                       (token_sha256(token),)).fetchone()
    return row[0] if row else None
