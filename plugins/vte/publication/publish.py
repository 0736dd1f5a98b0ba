"""Write-audit-publish: a gated candidate replaces the published marts in one transaction.

dbt builds the marts into a candidate schema and the gate validates it. A complete candidate is then
swapped in with two ``ALTER SCHEMA ... RENAME``; a sliced one (only what the run touched, see
vte.publication.scope) replaces its slices of the published facts and the small tables whole. Either way
it is one transaction: a reader sees the old publication or the new one, never a mix or a missing table.
Staging and the incremental intermediates keep their state. The analysts' publication also brings the
history of every publication up to date in that transaction. A failed gate leaves the published marts
untouched, keeps the candidate for inspection and raises an alert.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from vte.publication.gate import Failure, GateResult
from vte.publication import history, scope

ANALYST_ROLE = "vte_analyst"
# A swap waits this long for readers holding the old tables before giving up (and leaving them in place).
LOCK_TIMEOUT = "60s"


class PublishError(RuntimeError):
    pass


@dataclass(frozen=True)
class Publication:
    publication_id: int
    run_id: str
    published_at: datetime
    candidate_schema: str
    published_schema: str
    success: bool
    row_counts: dict[str, int]
    gate_statistics: dict[str, Any]


def _identifier(name: str) -> sql.Identifier:
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise PublishError(f"schema name {name!r} is not a plain lowercase identifier")
    return sql.Identifier(name)


def _schema_exists(conn: psycopg.Connection, schema: str) -> bool:
    return conn.execute("select 1 from pg_namespace where nspname = %s", (schema,)).fetchone() is not None


def _row_counts(conn: psycopg.Connection, schema: str) -> dict[str, int]:
    tables = [r[0] for r in conn.execute(
        "select relname from pg_class where relnamespace = %s::regnamespace and relkind in ('r', 'p')"
        " order by relname", (schema,))]
    return {t: conn.execute(sql.SQL("select count(*) from {}.{}").format(sql.Identifier(schema), sql.Identifier(t)))
            .fetchone()[0] for t in tables}


def _record_publication(conn, run_id, candidate, published, success, row_counts, statistics) -> Publication:
    # The newest raw load the build read (vte diff compares what two publications include) and the newest
    # processing it covers (the next publication replaces what was processed after it).
    loaded_through = processed_through = None
    if conn.execute("select to_regclass('int.int_department_days_classified')").fetchone()[0]:
        loaded_through, processed_through = conn.execute(
            "select max(submission_loaded_at), max(processed_at) from int.int_department_days_classified").fetchone()
    row = conn.execute(
        "insert into ops.publications (run_id, candidate_schema, published_schema, success, row_counts,"
        " gate_statistics, loaded_through, processed_through) values (%s, %s, %s, %s, %s, %s, %s, %s)"
        " returning publication_id, published_at",
        (run_id, candidate, published, success, Jsonb(row_counts), Jsonb(statistics), loaded_through,
         processed_through if success else None),
    ).fetchone()
    return Publication(row[0], run_id, row[1], candidate, published, success, row_counts, statistics)


def record_alert(conn: psycopg.Connection, run_id: str, stage: str, failures: list[Failure] | list[dict],
                 message: str | None = None) -> int:
    """Raise an alert for a failed stage of a run; returns its id."""
    details = [dataclasses.asdict(f) if isinstance(f, Failure) else f for f in failures]
    message = message or f"{stage} failed in run {run_id}: {len(details)} problem(s)"
    return conn.execute(
        "insert into ops.alerts (run_id, stage, message, failures) values (%s, %s, %s, %s) returning alert_id",
        (run_id, stage, message, Jsonb(details)),
    ).fetchone()[0]


def publish(conn: psycopg.Connection, candidate: str = "marts_candidate", published: str = "marts", *,
            run_id: str, gate_result: GateResult) -> Publication:
    """Publish the gated candidate, or record the refusal and an alert when its gate failed.

    The swap, the grants and the publication record commit together (when the connection is in autocommit
    mode; otherwise with the caller's transaction). The returned Publication says which happened.
    """
    candidate_id, published_id = _identifier(candidate), _identifier(published)
    previous_id = _identifier(f"{published}_previous")
    if candidate == published:
        raise PublishError("the candidate and the published schema must differ")
    if gate_result.stage != "marts" or gate_result.schema != candidate:
        raise PublishError(f"the gate result is for the {gate_result.stage} stage on schema "
                           f"{gate_result.schema!r}, not for the candidate {candidate!r}: it cannot publish it")
    if not _schema_exists(conn, candidate):
        raise PublishError(f"there is no candidate schema {candidate!r} to publish")

    with conn.transaction():
        row_counts = _row_counts(conn, candidate)
        if not gate_result.success:
            publication = _record_publication(conn, run_id, candidate, published, False, row_counts,
                                              gate_result.statistics)
            record_alert(conn, run_id, "marts", gate_result.failed, gate_result.message())
            return publication
        conn.execute(sql.SQL("set local lock_timeout = {}").format(sql.Literal(LOCK_TIMEOUT)))
        scope.drop_merged_view(conn, candidate)
        keeps_history = published == scope.PUBLISHED_SCHEMA  # scratch schemas (tests) keep none
        sliced = not scope.is_complete(conn, candidate, published)  # whole for scratch schemas and first runs
        if sliced:
            scope.capture_touched_periods(conn)
            scope.replace_slices(conn, candidate, published)
        else:
            conn.execute(sql.SQL("drop schema if exists {} cascade").format(previous_id))
            if _schema_exists(conn, published):
                conn.execute(sql.SQL("alter schema {} rename to {}").format(published_id, previous_id))
            conn.execute(sql.SQL("alter schema {} rename to {}").format(candidate_id, published_id))
        # Table grants travel with the tables; these make sure whatever built the candidate granted them.
        conn.execute(sql.SQL("grant usage on schema {} to {}").format(published_id, sql.Identifier(ANALYST_ROLE)))
        conn.execute(sql.SQL("grant select on all tables in schema {} to {}").format(
            published_id, sql.Identifier(ANALYST_ROLE)))
        publication = _record_publication(conn, run_id, candidate, published, True, row_counts,
                                          gate_result.statistics)
        if keeps_history:
            history.record(conn, publication.publication_id, published, full=not sliced)
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(previous_id))
        return publication


def current_publication(conn: psycopg.Connection, published: str = "marts") -> Publication | None:
    """The publication now live in ``published``, or None before the first one."""
    row = conn.execute(
        "select publication_id, run_id, published_at, candidate_schema, published_schema, success, row_counts,"
        " gate_statistics from ops.publications where success and published_schema = %s"
        " order by published_at desc, publication_id desc limit 1",
        (published,),
    ).fetchone()
    return Publication(*row) if row else None
