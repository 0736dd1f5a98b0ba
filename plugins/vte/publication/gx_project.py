"""The committed GX project in ``expectations/gx/``: written from the suites by :func:`build_project` alone.

``vte gate build-suites`` rewrites it; every id is derived from names and content, so a rebuild changes no
file unless the domain did (a test compares the committed tree with a rebuild). A gate run copies the
project, points its assets at the schema being gated and runs the stage's checkpoint (vte.publication.gate).
Validation results and the Data Docs live under ``$VTE_HOME``, shared by every run (vte.publication.data_docs).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from vte.config import EXPECTATIONS_DIR, get_settings
from vte.publication.suites import DEFAULT_SCHEMAS, GATED_TABLES, suite_expectations

# Validation results kept (and listed in the Data Docs): two stages a day for about two months.
KEEP_VALIDATION_RESULTS = 500

VALIDATIONS_DIR = "${VTE_HOME}/gx/validations/"
DATA_DOCS_DIR = "${VTE_HOME}/gx-docs/"
DATA_DOCS_SITE = "vte_site"

DATASOURCE = "vte_warehouse"
BATCH_DEFINITION = "whole_table"
CONNECTION_ENV = "VTE_GX_WAREHOUSE_URL"


def _configure_stores(context) -> None:
    from great_expectations.data_context.types.base import ProgressBarsConfig

    # Results and docs belong to the installation's home, not to the repository nor to a run's copy of the
    # project: every gate run adds its results to the same store, and the site lists them all.
    stores = context.variables.stores  # a copy: it must be set back to be saved
    stores["validation_results_store"]["store_backend"]["base_directory"] = VALIDATIONS_DIR
    context.variables.stores = stores
    context.variables.data_docs_sites = {
        DATA_DOCS_SITE: {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": DATA_DOCS_DIR},
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
    _configure_stores(gx.get_context(mode="file", project_root_dir=project_root))
    context = gx.get_context(mode="file", project_root_dir=project_root)  # its stores as just configured
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
                # The gate builds the Data Docs itself, one run at a time (vte.publication.data_docs).
                actions=[],
                result_format={"result_format": "SUMMARY", "partial_unexpected_count": 5},
            )))
    return context


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
