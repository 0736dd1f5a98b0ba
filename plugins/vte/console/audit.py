"""The console's audit: one row in console.audit_events per sign-in, sign-out and action (append-only)."""

from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb


def record(conn: psycopg.Connection, username: str, action: str, subject: str | None = None, *,
           client_address: str | None = None, **details) -> None:
    conn.execute("insert into console.audit_events (username, action, subject, details, client_address)"
                 " values (%s, %s, %s, %s, %s)", (username, action, subject, Jsonb(details), client_address))
