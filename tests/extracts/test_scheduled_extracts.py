"""The extracts due on a day, as the vte_extract DAG makes them, and the DAG itself run through Airflow."""

from __future__ import annotations

from datetime import date

import pytest

from vte import pipeline
from vte.extracts import revisions
from vte.extracts.create import create_due_extracts

pytestmark = pytest.mark.slow  # the shared published pipeline takes minutes to build


def test_the_tenth_of_april_makes_the_march_and_first_quarter_finals_for_province_and_cities(published_pipeline,
                                                                                           marts):
    # Cities with published values for March (an institution that joined later has none).
    cities = sorted({r[0] for r in marts.execute(
        "select i.city_code from marts.dim_institutions as i join marts.fct_indicator_values as v"
        " on v.level = 'institution' and v.entity_code = i.institution_code"
        " where v.period_type = 'month' and v.period_start = '2026-03-01'")})
    extracts = create_due_extracts(date(2026, 4, 10), actor="test", settings=published_pipeline.settings)
    made = [tuple(e.directory.parts[-4:-1]) for e in extracts]
    assert made == [(period, region, "final") for period in ("2026-03", "2026Q1") for region in ("330000", *cities)]
    assert all(e.directory.name == f"r{e.revision:03d}" for e in extracts)
    again = create_due_extracts(date(2026, 4, 10), actor="test", settings=published_pipeline.settings)
    assert [e.directory for e in again] == [e.directory for e in extracts], "a retried day adds no revision"
    assert create_due_extracts(date(2026, 4, 11), actor="test", settings=published_pipeline.settings) == []


def test_the_dag_makes_an_extract_on_demand_and_audits_it(published_pipeline, marts):
    ok = pipeline.run_once(published_pipeline.settings, conf={"period": "2026Q3", "kind": "final"},
                           dag_ids=("vte_extract",))
    assert ok, "vte_extract failed: see the output above"
    latest = revisions.latest(published_pipeline.settings.exports_dir / "2026Q3" / "330000" / "final")
    directory, manifest = latest.directory, latest.manifest
    assert manifest["run"]["actor"] == "airflow:vte_extract"
    audited = marts.execute("select actor from ops.admin_audit where action = 'extract.create' and subject = %s",
                            (str(directory),)).fetchall()
    assert ("airflow:vte_extract",) in audited
