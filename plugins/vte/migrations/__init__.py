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
        _hand_to_owner(conn)
        return done
    finally:
        conn.execute("select pg_advisory_unlock(%s)", (_LOCK_ID,))


# The schemas whose objects the migrations create; vte_owner (which no component logs in as) owns them all.
OWNED_SCHEMAS = ["registry", "raw", "ops", "history", "access", "review", "alerts", "console"]


def _hand_to_owner(conn: psycopg.Connection) -> None:
    """Give vte_owner whatever a migration created as the migrator (tables, views, sequences, functions)."""
    if not conn.execute("select 1 from pg_roles where rolname = 'vte_owner'").fetchone():
        return  # before 008_component_roles.sql
    statements = conn.execute(
        """
        select format('alter %%s %%s owner to vte_owner',
                      case relkind when 'S' then 'sequence' when 'v' then 'view' else 'table' end, oid::regclass)
        from pg_class
        where relnamespace in (select oid from pg_namespace where nspname = any(%s))
          and relkind in ('r', 'p', 'v', 'S') and relowner <> 'vte_owner'::regrole
          -- a table's own sequences follow it
          and not (relkind = 'S' and exists (select from pg_depend where objid = pg_class.oid and deptype in ('a', 'i')))
        union all
        select format('alter function %%s owner to vte_owner', oid::regprocedure)
        from pg_proc
        where pronamespace in (select oid from pg_namespace where nspname = any(%s))
          and proowner <> 'vte_owner'::regrole
        """, (OWNED_SCHEMAS, OWNED_SCHEMAS)).fetchall()
    with conn.transaction():
        for statement, in statements:
            conn.execute(statement)
