"""Warehouse schema migrations: the numbered SQL files beside this module, applied once each, in order."""

from __future__ import annotations

from pathlib import Path

import psycopg

MIGRATIONS_DIR = Path(__file__).resolve().parent
_LOCK_ID = 0x5654_4501  # one migrator at a time across processes


def pending(conn: psycopg.Connection) -> list[Path]:
    applied = {row[0] for row in conn.execute("select name from ops.schema_migrations")}
    return [p for p in sorted(MIGRATIONS_DIR.glob("*.sql")) if p.name not in applied]


def apply(conn: psycopg.Connection) -> list[str]:
    """Apply every pending migration, each in its own transaction. Returns the names applied."""
    conn.execute("select pg_advisory_lock(%s)", (_LOCK_ID,))
    try:
        conn.execute("create schema if not exists ops")
        conn.execute(
            "create table if not exists ops.schema_migrations"
            " (name text primary key, applied_at timestamptz not null default now())"
        )
        done = []
        for path in pending(conn):
            with conn.transaction():
                conn.execute(path.read_text())
                conn.execute("insert into ops.schema_migrations (name) values (%s)", (path.name,))
            done.append(path.name)
        return done
    finally:
        conn.execute("select pg_advisory_unlock(%s)", (_LOCK_ID,))
