"""The data-quality gate the pipeline calls: run a stage's checkpoint on a schema and say what failed.

A run never touches the committed GX project (vte.publication.gx_project): it copies it under
``$VTE_HOME/gx/runs/``, points its assets at the schema being gated (the same build, another schema), runs
the stage's checkpoint, adds the validation results to the store under ``$VTE_HOME/gx/validations/`` that
every run shares and updates the Data Docs under ``$VTE_HOME/gx-docs/`` (vte.publication.data_docs). It never
raises on bad data: the result says what failed.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from vte import warehouse
from vte.access import roles
from vte.config import EXPECTATIONS_DIR, get_settings
from vte.publication import data_docs
from vte.publication.gx_project import CONNECTION_ENV, build_project, gx_connection_string
from vte.publication.scope import create_merged_view, is_complete
from vte.publication.suites import (DEFAULT_SCHEMAS, GATED_TABLES, ROW_COUNT_GROWTH, ROW_COUNT_SHRINK, Stage,
                                    quote_ident)

log = logging.getLogger(__name__)


class GateError(RuntimeError):
    """The gate could not run (missing table, unknown stage): not a verdict on the data."""


class GateFailed(RuntimeError):
    """The data broke expectations; the message lists each failed one."""


@dataclass(frozen=True)
class Failure:
    expectation_type: str
    kwargs: dict[str, Any]
    observed: Any
    details: str

    def describe(self) -> str:
        target = self.kwargs.get("column") or self.kwargs.get("column_list") or ", ".join(
            f"{k}={v}" for k, v in self.kwargs.items() if k in ("column_A", "column_B")
        )
        return f"{self.expectation_type}({target or ''}): observed {self.observed!r} — {self.details}"


@dataclass(frozen=True)
class GateResult:
    stage: str
    schema: str
    run_id: str
    success: bool
    statistics: dict[str, Any]
    failed: list[Failure] = field(default_factory=list)
    docs_path: Path | None = None

    def message(self) -> str:
        head = (f"{self.stage} gate on schema {self.schema} (run {self.run_id}): "
                f"{len(self.failed)} of {self.statistics.get('evaluated_expectations')} expectations failed")
        return "\n".join([head, *(f"  - {f.describe()}" for f in self.failed)])

    def raise_for_failure(self) -> None:
        if not self.success:
            raise GateFailed(self.message())


def _check_tables(conn: psycopg.Connection, stage: str, schema: str) -> None:
    missing = [table for table in GATED_TABLES[stage].values()
               if conn.execute("select to_regclass(%s)", (f"{schema}.{table}",)).fetchone()[0] is None]
    if missing:
        raise GateError(f"the {stage} gate cannot run: schema {schema!r} has no {', '.join(missing)}")


def row_count_bounds(conn: psycopg.Connection, published_schema: str, candidate: str | None = None,
                     sliced: bool = False) -> dict[str, int | None]:
    """Bounds for the candidate's indicator rows: against the same periods as published when the candidate is
    sliced, else against the last successful publication into that schema."""
    table = GATED_TABLES["marts"]["indicator_values"]
    if sliced:
        previous = conn.execute(
            f"select count(*) from {quote_ident(published_schema)}.{table} as published_values"
            " where (published_values.period_type, published_values.period_start) in"
            f" (select distinct period_type, period_start from {quote_ident(candidate)}.{table})").fetchone()[0]
        if previous == 0:  # periods never published before (a new month): nothing to compare with
            return {"indicator_values_min_rows": 0, "indicator_values_max_rows": None}
        return {"indicator_values_min_rows": int(previous * (1 - ROW_COUNT_SHRINK)),
                "indicator_values_max_rows": int(previous * ROW_COUNT_GROWTH) + 1}
    row = conn.execute(
        "select (row_counts ->> %s)::bigint from ops.publications"
        " where success and published_schema = %s order by published_at desc, publication_id desc limit 1",
        (table, published_schema),
    ).fetchone()
    if row is None or row[0] is None:
        return {"indicator_values_min_rows": 1, "indicator_values_max_rows": None}
    previous = row[0]
    return {"indicator_values_min_rows": max(1, int(previous * (1 - ROW_COUNT_SHRINK))),
            "indicator_values_max_rows": int(previous * ROW_COUNT_GROWTH) + 1}


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _sample_unexpected_rows(conn: psycopg.Connection, query: str, table: str) -> list:
    # GX returns the rows only in its COMPLETE format, which would also pull every unexpected value of every
    # column check; a failed query check is cheap to sample here instead.
    sample = conn.execute(f"select * from ({query.replace('{batch}', table)}) as unexpected limit 5").fetchall()
    return [list(row) for row in sample]


def _failure(result, conn: psycopg.Connection, table: str) -> Failure:
    config = result.expectation_config
    kwargs = {k: v for k, v in config.kwargs.items() if k not in ("batch_id", "result_format")}
    details = dict(result.result or {})
    exception = result.exception_info or {}
    if not exception.get("raised_exception"):  # GX 1.x keys the exceptions by the metric that raised them
        exception = next((e for e in exception.values() if isinstance(e, dict) and e.get("raised_exception")), {})
    if exception.get("raised_exception"):
        observed, text = None, f"could not be evaluated: {exception.get('exception_message')}"
    elif "unexpected_count" in details:
        observed = details.get("unexpected_percent")
        text = (f"{details['unexpected_count']} of {details.get('element_count')} rows unexpected, "
                f"e.g. {details.get('partial_unexpected_list', [])[:5]}")
    else:
        observed = details.get("observed_value")
        query = config.kwargs.get("unexpected_rows_query")
        text = f"e.g. {_sample_unexpected_rows(conn, query, table)}" if query else "outside the expected values"
    if config.description:
        text = f"{config.description}; {text}"
    return Failure(config.type, _json_safe(kwargs), _json_safe(observed), text)


def _safe_name(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)[:80]


def run_gate(stage: Stage, schema: str, run_id: str, *, published_schema: str = "marts") -> GateResult:
    """Validate ``schema`` with the stage's checkpoint; build the Data Docs. Never raises on bad data."""
    if stage not in GATED_TABLES:
        raise GateError(f"unknown gate stage {stage!r}; expected one of {', '.join(GATED_TABLES)}")
    try:
        quote_ident(schema)
    except ValueError as exc:
        raise GateError(str(exc)) from None
    settings = get_settings()
    url = warehouse.url(settings, role=roles.PUBLISHER)
    with psycopg.connect(url, autocommit=True) as conn:
        _check_tables(conn, stage, schema)
        parameters = {}
        if stage == "marts":
            sliced = not is_complete(conn, schema, published_schema)
            parameters = row_count_bounds(conn, published_schema, schema, sliced)
            create_merged_view(conn, schema, published_schema)

    from great_expectations.core.run_identifier import RunIdentifier

    workdir = settings.home / "gx" / "runs" / f"{stage}-{_safe_name(run_id)}-{uuid.uuid4().hex[:8]}"
    shutil.copytree(EXPECTATIONS_DIR / "gx", workdir / "gx", ignore=shutil.ignore_patterns("uncommitted"))
    try:
        context = build_project(workdir, {**DEFAULT_SCHEMAS, stage: schema},
                                variables={CONNECTION_ENV: gx_connection_string(url)})
        checkpoint_result = context.checkpoints.get(f"{stage}_gate").run(
            expectation_parameters=parameters, run_id=RunIdentifier(run_name=run_id))
        try:
            docs_path = data_docs.update_site(context, checkpoint_result.run_results, settings.home)
        except Exception:  # the verdict stands without its pages: a full disk must not stop a publication
            log.exception("the %s gate's results are stored, but the Data Docs could not be updated", stage)
            docs_path = None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    failed, per_suite = [], {}
    with psycopg.connect(url, autocommit=True) as conn:
        for validation in checkpoint_result.run_results.values():
            per_suite[validation.suite_name] = _json_safe(validation.statistics)
            table = f"{schema}.{GATED_TABLES[stage][validation.suite_name.removeprefix(stage + '_')]}"
            failed += [_failure(r, conn, table) for r in validation.results if not r.success]
    evaluated = sum(s["evaluated_expectations"] for s in per_suite.values())
    statistics = {
        "evaluated_expectations": evaluated,
        "successful_expectations": evaluated - len(failed),
        "unsuccessful_expectations": len(failed),
        "parameters": parameters,
        "suites": per_suite,
    }
    result = GateResult(stage, schema, run_id, bool(checkpoint_result.success), statistics, failed, docs_path)
    log.info("%s", result.message() if failed else f"{stage} gate on {schema}: {evaluated} expectations met")
    return result
