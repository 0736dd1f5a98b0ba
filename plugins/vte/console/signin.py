"""Signing in: the password checked against its argon2id hash, five failures lock the account for 15 minutes.

The user's row is locked while its password is checked, so concurrent guesses are counted one by one. An
unknown username costs the same hash computation as a known one and gets the same answer as a wrong
password, so the page does not tell which usernames exist. Every attempt is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from vte.console import audit, users

MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
_UNKNOWN_USER_HASH = users.hash_password("an unknown user's password is compared with this")


@dataclass(frozen=True)
class Outcome:
    signed_in: bool
    refusal: str | None = None  # 'credentials', 'locked' or 'disabled'
    locked_until: datetime | None = None


def sign_in(conn: psycopg.Connection, username: str, password: str, *, client_address: str | None) -> Outcome:
    with conn.transaction():
        row = conn.execute("select password_hash, failed_attempts, locked_until, disabled_at, now()"
                           " from console.users where username = %s for update", (username,)).fetchone()
        if row is None:
            users.password_matches(_UNKNOWN_USER_HASH, password)
            audit.record(conn, username[:60], "sign_in.failure", username[:60], client_address=client_address,
                         reason="unknown user")
            return Outcome(False, "credentials")
        password_hash, failures, locked_until, disabled_at, now = row
        if locked_until is not None and locked_until > now:
            audit.record(conn, username, "sign_in.refused", username, client_address=client_address,
                         reason="locked", locked_until=locked_until.isoformat())
            return Outcome(False, "locked", locked_until)
        if not users.password_matches(password_hash, password):
            return _failed(conn, username, failures + 1, now, client_address)
        if disabled_at is not None:
            audit.record(conn, username, "sign_in.refused", username, client_address=client_address,
                         reason="disabled")
            return Outcome(False, "disabled")
        conn.execute("update console.users set failed_attempts = 0, locked_until = null where username = %s",
                     (username,))
        audit.record(conn, username, "sign_in.success", username, client_address=client_address)
    return Outcome(True)


def _failed(conn: psycopg.Connection, username: str, failures: int, now: datetime,
            client_address: str | None) -> Outcome:
    if failures < MAX_FAILURES:
        conn.execute("update console.users set failed_attempts = %s where username = %s", (failures, username))
        audit.record(conn, username, "sign_in.failure", username, client_address=client_address,
                     reason="wrong password", failed_attempts=failures)
        return Outcome(False, "credentials")
    until = now + LOCKOUT
    conn.execute("update console.users set failed_attempts = 0, locked_until = %s where username = %s",
                 (until, username))
    audit.record(conn, username, "sign_in.lockout", username, client_address=client_address,
                 failed_attempts=failures, locked_until=until.isoformat())
    return Outcome(False, "locked", until)
