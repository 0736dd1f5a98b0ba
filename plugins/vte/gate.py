"""The data-quality gate: Great Expectations suites built from the domain, and the runner the pipeline calls.

The GX project in ``expectations/gx/`` is committed and reviewed; :func:`build_project` is the one place
that writes it, from ``vte.domain`` (``vte gate build-suites``). A run never touches the committed tree: it
copies it under ``$VTE_HOME/gx/runs/``, points its assets at the schema being gated (the same build, another
schema), runs the stage's checkpoint, keeps the validation results under ``$VTE_HOME/gx/validations/`` and
rebuilds the Data Docs under ``$VTE_HOME/gx-docs/``.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import psycopg

import yaml

from vte import domain, warehouse
from vte.publication.scope import MERGED_VIEW, create_merged_view, is_complete
from vte.config import DBT_PROJECT_DIR, EXPECTATIONS_DIR, get_settings

Stage = Literal["staged", "marts"]

# The tables each stage's suites validate: GX asset name -> table. Adjust here when the dbt project moves one.
GATED_TABLES: dict[str, dict[str, str]] = {
    "staged": {"department_days": "int_department_days_touched"},
    "marts": {
        "indicator_values": "fct_indicator_values",
        "institutions": "dim_institutions",
        "reporting_completeness": "fct_reporting_completeness",
    },
}
# The schemas the committed project points at; a run retargets them.
DEFAULT_SCHEMAS: dict[str, str] = {"staged": "int", "marts": "marts_candidate"}
# One row of fct_indicator_values per entity (campus and department below an institution), period and indicator.
INDICATOR_VALUES_KEY = ("level", "entity_code", "campus", "department", "period_type", "period_start", "indicator_id")
INDICATOR_VALUES_REQUIRED = ("level", "entity_code", "period_type", "period_start", "indicator_id", "numerator",
                             "denominator")
COMPLETENESS_KEY = ("level", "entity_code", "period_type", "period_start")
# The levels every publication has; 'community' too wherever an institution belongs to a county medical
# community (many provinces register none).
LEVELS = ("department", "campus", "institution", "county", "city", "province")
PERIOD_TYPES = ("month", "quarter", "year")

# A department's count for one day above this is a broken feed, not a busy ward: dbt holds the row out.
PLAUSIBLE_MAX_COUNT = int(yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]["plausible_max_count"])
# One institution's problem holds its data out; the same problem at many institutions at once is the feed's
# and stops the publication: at least FEED_MIN_INSTITUTIONS and FEED_INSTITUTION_SHARE of the institutions
# the run touched, covering more than the severity's share of the touched rows.
FEED_MIN_INSTITUTIONS = 3
FEED_INSTITUTION_SHARE = 0.25
FEED_ROW_SHARE = {"quarantine": 0.05, "warning": 0.10}
# A publication may shrink by at most this share of the previous one's rows, and grow by at most this factor.
ROW_COUNT_SHRINK = 0.10
ROW_COUNT_GROWTH = 2.0

# Validation results kept (and listed in the Data Docs): two stages a day for about two months.
KEEP_VALIDATION_RESULTS = 500

DATASOURCE = "vte_warehouse"
BATCH_DEFINITION = "whole_table"
CONNECTION_ENV = "VTE_GX_WAREHOUSE_URL"

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


# ---------------------------------------------------------------------------------------------------------
# The suites, from the domain definitions


def feed_wide_breaks_query() -> str:
    """The rules (and plausibility bounds, ``P.<field>``) broken at so many institutions at once that the feed,
    not a hospital, is at fault; one row per such rule. A smaller break only holds the rows out."""
    return f"""
with touched as (
    select * from {{batch}} as touched_rows
),
totals as (
    select count(*) as row_count, count(distinct institution_code) as institution_count from touched
),
breaks as (
    select touched.institution_code, broken.rule_id, broken.severity
    from touched
    cross join lateral (
        select unnest(touched.quarantine_rule_ids) as rule_id, 'quarantine' as severity
        union all
        select unnest(touched.warning_rule_ids), 'warning'
        union all
        select 'P.' || unnest(touched.implausible_fields), 'quarantine'
    ) as broken
)
select
    breaks.rule_id,
    count(*) as broken_rows,
    count(distinct breaks.institution_code) as institutions,
    max(totals.institution_count) as touched_institutions
from breaks
cross join totals
group by breaks.rule_id, breaks.severity
having
    count(distinct breaks.institution_code) >= greatest({FEED_MIN_INSTITUTIONS},
                                                        ceil({FEED_INSTITUTION_SHARE} * max(totals.institution_count)))
    and count(*) > case breaks.severity when 'quarantine' then {FEED_ROW_SHARE['quarantine']}
                                        else {FEED_ROW_SHARE['warning']} end * max(totals.row_count)
""".strip()


def _staged_rows_expectations() -> list:
    import great_expectations.expectations as gxe

    count_columns = [f.column for f in domain.count_fields()]
    keys = ["institution_code", "report_date", "hospital", "department", "submission_id"]
    expectations = [
        gxe.ExpectTableColumnsToMatchSet(
            column_set=[*keys, "quarantine_rule_ids", "warning_rule_ids", "implausible_fields", *count_columns],
            exact_match=False, meta={"scope": "build"}),
    ]
    for column in keys:
        expectations.append(gxe.ExpectColumnValuesToNotBeNull(column=column, meta={"scope": "build"}))
    for column in count_columns:
        expectations += [
            gxe.ExpectColumnValuesToBeOfType(column=column, type_="INTEGER", meta={"scope": "build"}),
            gxe.ExpectColumnValuesToNotBeNull(column=column, meta={"scope": "build"}),
            gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0, meta={"scope": "build"}),
        ]
    expectations.append(gxe.UnexpectedRowsExpectation(
        unexpected_rows_query=feed_wide_breaks_query(),
        description=(f"no rule or plausibility bound broken at {FEED_MIN_INSTITUTIONS}+ institutions and "
                     f"{FEED_INSTITUTION_SHARE:.0%} of those touched at once (one institution's breaks are held out)"),
        meta={"scope": "feed"}))
    return expectations


def _indicator_values_expectations(schema: str) -> list:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectTableRowCountToBeBetween(
            min_value={"$PARAMETER": "indicator_values_min_rows"},
            max_value={"$PARAMETER": "indicator_values_max_rows"},
            description="row count within the tolerance of the previous publication",
        ),
        *(gxe.ExpectColumnValuesToNotBeNull(column=c) for c in INDICATOR_VALUES_REQUIRED),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=list(INDICATOR_VALUES_KEY)),
        gxe.UnexpectedRowsExpectation(
            unexpected_rows_query=_missing_levels_query(schema),
            description="every level of the region hierarchy is present (community where one is registered)"),
        gxe.ExpectColumnValuesToBeInSet(column="period_type", value_set=list(PERIOD_TYPES)),
        gxe.UnexpectedRowsExpectation(
            unexpected_rows_query=_missing_indicators_query(),
            description="all 18 + 5 indicators are present for every period"),
        gxe.ExpectColumnValuesToBeBetween(column="rate", min_value=0, max_value=100,
                                          description="a rate is a percentage (NULL when the denominator is 0)"),
        gxe.ExpectColumnValuesToBeBetween(column="numerator", min_value=0),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="denominator", column_B="numerator", or_equal=True),
        gxe.UnexpectedRowsExpectation(
            unexpected_rows_query="select * from {batch} where (rate is null) <> (denominator = 0)",
            description="rate is NULL exactly when the denominator is 0",
        ),
    ]


# GX substitutes {batch} as an aliased subquery unless the query has a JOIN, where it leaves the aliasing to
# the query: the queries below alias it exactly when they join.
def _missing_levels_query(schema: str) -> str:
    institutions = f"{_quote_ident(schema)}.{GATED_TABLES['marts']['institutions']}"
    levels = ", ".join(f"('{level}')" for level in LEVELS)
    return f"""
with required_levels as (
    select level from (values {levels}) as fixed (level)
    union all
    select 'community' where exists (select 1 from {institutions} where community_name is not null)
)
select required_levels.level as missing_level
from required_levels
where exists (select 1 from {{batch}})
    and not exists (select 1 from {{batch}} where level = required_levels.level)
""".strip()


def _missing_indicators_query() -> str:
    indicators = ", ".join(f"('{i.indicator_id}')" for i in domain.indicators())
    return f"""
with periods as (
    select distinct period_type, period_start from {{batch}} as batch_rows
)
select periods.period_type, periods.period_start, indicators.indicator_id as missing_indicator
from periods
cross join (values {indicators}) as indicators (indicator_id)
where not exists (
    select 1 from {{batch}} as facts
    where facts.period_type = periods.period_type and facts.period_start = periods.period_start
        and facts.indicator_id = indicators.indicator_id and facts.level = 'province'
)
""".strip()


def vanished_institutions_query(schema: str) -> str:
    """Active institutions missing from a complete month since they first reported (their rows were lost or all
    held out). Each is an institution's problem: alerted and shown in its feedback, not a reason to stop."""
    facts = f"{_quote_ident(schema)}.{MERGED_VIEW}"  # the published values as they will be after publishing
    institutions = f"{_quote_ident(schema)}.{GATED_TABLES['marts']['institutions']}"
    return f"""
with institution_months as (
    select distinct entity_code, period_start
    from {facts}
    where level = 'institution' and period_type = 'month'
),
complete_months as (
    -- every month from the first to the one before the latest, including a month nobody appears in
    select generate_series(min(period_start), max(period_start) - interval '1 month', interval '1 month')::date
        as period_start
    from institution_months
),
first_seen as (
    select entity_code, min(period_start) as first_month
    from institution_months
    group by entity_code
)
select institutions.institution_code, complete_months.period_start as missing_month
from {institutions} as institutions
inner join first_seen on first_seen.entity_code = institutions.institution_code
inner join complete_months on complete_months.period_start >= first_seen.first_month
where institutions.institution_status = 'active'
    and not exists (
        select 1 from institution_months
        where institution_months.entity_code = institutions.institution_code
            and institution_months.period_start = complete_months.period_start
    )
""".strip()


def _mass_vanishing_query(schema: str) -> str:
    # Vanishing is the feed's problem only when many institutions vanish at once.
    return f"""
with vanished as (
    {vanished_institutions_query(schema)}
)
select count(distinct vanished.institution_code) as vanished_institutions
from vanished
having count(distinct vanished.institution_code) >= greatest(
    {FEED_MIN_INSTITUTIONS},
    ceil({FEED_INSTITUTION_SHARE} * (select count(*) from {{batch}} as active where active.institution_status = 'active')))
""".strip()


def _institutions_expectations(schema: str) -> list:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        gxe.ExpectColumnValuesToNotBeNull(column="institution_code"),
        gxe.ExpectColumnValuesToBeUnique(column="institution_code"),
        gxe.ExpectColumnValuesToBeInSet(column="institution_status", value_set=["active", "suspended", "closed"]),
        gxe.UnexpectedRowsExpectation(
            unexpected_rows_query=_mass_vanishing_query(schema),
            description=(f"no mass vanishing: fewer than {FEED_MIN_INSTITUTIONS} institutions and "
                         f"{FEED_INSTITUTION_SHARE:.0%} of the active ones missing from a complete month"),
        ),
    ]


def _reporting_completeness_expectations(schema: str) -> list:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=list(COMPLETENESS_KEY)),
        gxe.ExpectColumnValuesToBeBetween(column="completeness_rate", min_value=0, max_value=100),
        gxe.ExpectColumnValuesToBeBetween(column="timeliness_rate", min_value=0, max_value=100),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="days_expected", column_B="days_received", or_equal=True),
    ]


def suite_expectations(schemas: Mapping[str, str] = DEFAULT_SCHEMAS) -> dict[str, list]:
    """Suite name -> its expectations; the suite of asset ``a`` of stage ``s`` is named ``s_a``."""
    marts = schemas["marts"]
    return {
        "staged_department_days": _staged_rows_expectations(),
        "marts_indicator_values": _indicator_values_expectations(marts),
        "marts_institutions": _institutions_expectations(marts),
        "marts_reporting_completeness": _reporting_completeness_expectations(marts),
    }


# ---------------------------------------------------------------------------------------------------------
# The GX project


def _quote_ident(name: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise GateError(f"schema name {name!r} is not a plain lowercase identifier")
    return name


def _configure_stores(context) -> None:
    from great_expectations.data_context.types.base import ProgressBarsConfig

    # Results and docs belong to the running copy's home, not to the repository.
    stores = context.variables.stores
    stores["validation_results_store"]["store_backend"]["base_directory"] = "${VTE_HOME}/gx/validations/"
    context.variables.data_docs_sites = {
        "vte_site": {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": "${VTE_HOME}/gx-docs/"},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
    }
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.variables.save()


def _stable_id(*parts: str) -> str:
    # GX stamps new objects with random ids; ids derived from names and content keep a rebuild byte-stable.
    return str(uuid.uuid5(_ID_NAMESPACE, "/".join(parts)))


_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "vte-warehouse/expectations")


def _save(store, key, make) -> None:
    """Write ``make()`` under ``key``, keeping its stable id (a first write through GX assigns a random one)."""
    if not store.has_key(key):
        store.add(key=key, value=make())
    store.update(key=key, value=make())


def _define_datasource(context, schemas: Mapping[str, str]) -> None:
    from great_expectations.core.batch_definition import BatchDefinition
    from great_expectations.datasource.fluent import PostgresDatasource
    from great_expectations.datasource.fluent.sql_datasource import TableAsset

    assets = [
        TableAsset(id=_stable_id(DATASOURCE, asset), name=asset, table_name=table, schema_name=schemas[stage],
                   batch_definitions=[BatchDefinition(id=_stable_id(DATASOURCE, asset, BATCH_DEFINITION),
                                                      name=BATCH_DEFINITION)])
        for stage, tables in GATED_TABLES.items() for asset, table in tables.items()
    ]
    if DATASOURCE in context.data_sources.all():
        context.data_sources.delete(DATASOURCE)
    # GX's public add_* calls test the connection and every table; the committed project must be buildable
    # without a warehouse (a run checks its tables itself before validating), so it is stored untested.
    context._add_fluent_datasource(PostgresDatasource(
        id=_stable_id(DATASOURCE), name=DATASOURCE, connection_string="${" + CONNECTION_ENV + "}", assets=assets))


def _checkpoints() -> dict[str, list[str]]:
    """Checkpoint name -> its validation definitions (one per suite), one checkpoint per stage."""
    return {f"{stage}_gate": [f"{stage}_{asset}" for asset in tables] for stage, tables in GATED_TABLES.items()}


def build_project(project_root: Path = EXPECTATIONS_DIR, schemas: Mapping[str, str] = DEFAULT_SCHEMAS,
                  variables: Mapping[str, str] | None = None):
    """(Re)write the GX project under ``<project_root>/gx`` from the domain definitions; returns its context.

    Every id is derived from names and content, so rebuilding the committed project changes no file.
    ``variables`` go to the git-ignored ``uncommitted/config_variables.yml`` (the environment wins).
    """
    import great_expectations as gx

    uncommitted = Path(project_root) / "gx" / "uncommitted"
    uncommitted.mkdir(parents=True, exist_ok=True)
    # JSON is YAML; VTE_HOME is needed to load the project, whose results and docs live there.
    (uncommitted / "config_variables.yml").write_text(
        json.dumps({"VTE_HOME": str(get_settings().home), **(variables or {})}))
    context = gx.get_context(mode="file", project_root_dir=project_root)
    _configure_stores(context)
    _define_datasource(context, schemas)
    datasource = context.data_sources.get(DATASOURCE)

    for suite_name in suite_expectations(schemas):
        def make_suite(name=suite_name):
            suite = gx.ExpectationSuite(name=name, id=_stable_id(name), expectations=suite_expectations(schemas)[name])
            for expectation in suite.expectations:
                expectation.id = _stable_id(name, expectation.expectation_type, json.dumps(
                    expectation.configuration.kwargs, sort_keys=True, default=str))
            return suite

        _save(context.expectations_store, context.expectations_store.get_key(name=suite_name, id=None), make_suite)
        stage, asset = suite_name.split("_", 1)
        batch_definition = datasource.get_asset(asset).get_batch_definition(BATCH_DEFINITION)
        suite = context.suites.get(suite_name)
        store = context.validation_definition_store
        _save(store, store.get_key(name=suite_name, id=None), lambda name=suite_name: gx.ValidationDefinition(
            id=_stable_id("validation", name), name=name, data=batch_definition, suite=suite))

    for checkpoint_name, definitions in _checkpoints().items():
        store = context.checkpoint_store
        _save(store, store.get_key(name=checkpoint_name, id=None), lambda name=checkpoint_name, vds=definitions: (
            gx.Checkpoint(
                id=_stable_id("checkpoint", name),
                name=name,
                validation_definitions=[context.validation_definitions.get(vd) for vd in vds],
                actions=[gx.checkpoint.UpdateDataDocsAction(name="update_data_docs", site_names=["vte_site"])],
                result_format={"result_format": "SUMMARY", "partial_unexpected_count": 5},
            )))
    return context


# ---------------------------------------------------------------------------------------------------------
# Running the gate


def gx_connection_string(url: str) -> str:
    """The warehouse URL in a form GX's ``add_postgres`` accepts.

    GX refuses a URL without a host, which is how a Unix-socket URL looks; a placeholder host is harmless
    because libpq's ``host`` query parameter (the socket directory) wins over it.
    """
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    port = parts.port or query.pop("port", None) or 5432
    netloc = f"{quote(parts.username or 'postgres', safe='')}:{quote(parts.password or 'unused', safe='')}"
    netloc += f"@{parts.hostname or 'localhost'}:{port}"
    return urlunsplit(("postgresql+psycopg2", netloc, parts.path, urlencode(query, safe="/", quote_via=quote), ""))


def _schema_exists(conn: psycopg.Connection, schema: str) -> bool:
    return conn.execute("select 1 from pg_namespace where nspname = %s", (schema,)).fetchone() is not None


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
            f"select count(*) from {_quote_ident(published_schema)}.{table} as published_values"
            " where (published_values.period_type, published_values.period_start) in"
            f" (select distinct period_type, period_start from {_quote_ident(candidate)}.{table})").fetchone()[0]
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


def _prune_validation_results(directory: Path, keep: int = KEEP_VALIDATION_RESULTS) -> None:
    # The Data Docs index reads every stored result on each build; the oldest go so it stays quick.
    results = sorted(directory.rglob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in results[keep:]:
        old.unlink(missing_ok=True)


def _safe_name(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)[:80]


def run_gate(stage: Stage, schema: str, run_id: str, *, published_schema: str = "marts") -> GateResult:
    """Validate ``schema`` with the stage's checkpoint; build the Data Docs. Never raises on bad data."""
    if stage not in GATED_TABLES:
        raise GateError(f"unknown gate stage {stage!r}; expected one of {', '.join(GATED_TABLES)}")
    _quote_ident(schema)
    settings = get_settings()
    url = warehouse.url(settings)
    with psycopg.connect(url, autocommit=True) as conn:
        _check_tables(conn, stage, schema)
        parameters = {}
        if stage == "marts":
            sliced = _schema_exists(conn, published_schema) and not is_complete(conn, schema, published_schema)
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
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    _prune_validation_results(settings.home / "gx" / "validations")

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
    result = GateResult(stage, schema, run_id, bool(checkpoint_result.success), statistics, failed,
                        settings.home / "gx-docs" / "index.html")
    log.info("%s", result.message() if failed else f"{stage} gate on {schema}: {evaluated} expectations met")
    return result
