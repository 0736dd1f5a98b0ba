"""The GX project is generated from the domain, and the staged-rows gate tells hospital errors from a broken feed."""

from __future__ import annotations

import filecmp
import json
import shutil

import pytest

from vte import domain
from vte.publication import gate, gx_project, suites
from vte.config import EXPECTATIONS_DIR

from gate_standins import create_staged_rows, valid_department_row

STAGED = "gate_test_stg"


def test_committed_project_is_what_the_domain_generates(tmp_path, vte_home):
    committed = EXPECTATIONS_DIR / "gx"
    shutil.copytree(committed, tmp_path / "gx", ignore=shutil.ignore_patterns("uncommitted"))
    gx_project.build_project(tmp_path)

    def tracked(root):
        return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file() and "uncommitted" not in p.parts)

    assert tracked(tmp_path / "gx") == tracked(committed)
    differing = [str(p) for p in tracked(committed) if not filecmp.cmp(committed / p, tmp_path / "gx" / p,
                                                                          shallow=False)]
    assert differing == [], f"rebuild with `vte gate build-suites`: {differing}"


def test_the_staged_suite_stops_only_for_the_feed_or_the_build():
    suite = json.loads((EXPECTATIONS_DIR / "gx" / "expectations" / "staged_department_days.json").read_text())
    scopes = {e["meta"]["scope"] for e in suite["expectations"]}
    assert scopes == {"feed", "build"}
    [feed_wide] = [e for e in suite["expectations"] if e["type"] == "unexpected_rows_expectation"]
    assert feed_wide["kwargs"]["unexpected_rows_query"] == suites.feed_wide_breaks_query()


def test_connection_string_for_a_socket_url_keeps_the_socket_directory():
    converted = gx_project.gx_connection_string("postgresql://postgres:@/vte?host=/tmp/pg%20sock&port=5433")
    assert converted == "postgresql+psycopg2://postgres:unused@localhost:5433/vte?host=/tmp/pg%20sock"


@pytest.fixture(scope="module")
def staged_rows(rng):
    return [valid_department_row(rng) for _ in range(200)]


def _break_rule(row: dict[str, int], rule: domain.Rule) -> dict[str, int]:
    return {**row, rule.lesser: row[rule.greater] + 3}


def test_clean_staged_rows_pass_and_docs_are_built(db, staged_rows, vte_home):
    create_staged_rows(db, STAGED, staged_rows)
    result = gate.run_gate("staged", STAGED, "staged-clean")
    assert result.success, result.message()
    assert result.statistics["evaluated_expectations"] == result.statistics["successful_expectations"] > 90
    assert result.docs_path == vte_home / "gx-docs" / "index.html"
    assert result.docs_path.is_file()
    assert "staged_department_days" in result.docs_path.read_text()
    result.raise_for_failure()


def test_one_institutions_breaks_are_held_out_but_the_same_break_at_many_institutions_stops(db, staged_rows):
    rule = next(r for r in domain.rules() if r.rule_id == "Q.B.1.1")
    one = [_break_rule(row, rule) if i % 10 == 0 else row for i, row in enumerate(staged_rows)]  # 1 of 10, 10 %
    create_staged_rows(db, STAGED, one, institutions=10)
    assert gate.run_gate("staged", STAGED, "staged-one").success

    # Every row of a single institution is still its problem, even when it is the only one the run touched.
    create_staged_rows(db, STAGED, [_break_rule(row, rule) for row in staged_rows[:20]], institutions=1)
    assert gate.run_gate("staged", STAGED, "staged-alone").success

    many = [_break_rule(row, rule) if i % 10 < 4 else row for i, row in enumerate(staged_rows)]  # 4 of 10, 40 %
    create_staged_rows(db, STAGED, many, institutions=10)
    result = gate.run_gate("staged", STAGED, "staged-many")
    assert not result.success
    [failure] = result.failed
    assert failure.expectation_type == "unexpected_rows_expectation" and "Q.B.1.1" in failure.details
    with pytest.raises(gate.GateFailed, match=r"no rule, plausibility bound or outlier broken"):
        result.raise_for_failure()


def test_outliers_at_one_institution_are_held_out_but_at_many_at_once_the_feed_stops(db, staged_rows):
    """The outlier_rules seed is one more definition the gate reads: a vendor's unit change that multiplies every
    hospital's discharges is the feed's fault, not each hospital's."""
    rows = staged_rows[:100]
    create_staged_rows(db, STAGED, rows, institutions=10, outliers=frozenset(range(0, 100, 10)))  # one institution
    assert gate.run_gate("staged", STAGED, "staged-outliers-one").success
    create_staged_rows(db, STAGED, rows, institutions=10, outliers=frozenset(i for i in range(100) if i % 10 < 4))
    result = gate.run_gate("staged", STAGED, "staged-outliers-many")
    [failure] = result.failed
    assert failure.expectation_type == "unexpected_rows_expectation" and "O.dischargeHospital" in failure.details


def test_implausible_counts_are_held_out_and_negative_counts_stop(db, staged_rows):
    rows = [dict(r) for r in staged_rows]
    rows[0]["surgery"] = suites.PLAUSIBLE_MAX_COUNT + 1
    create_staged_rows(db, STAGED, rows)
    assert gate.run_gate("staged", STAGED, "staged-implausible").success
    rows[1]["surgery"] = -1
    create_staged_rows(db, STAGED, rows)
    result = gate.run_gate("staged", STAGED, "staged-negative")
    assert [(f.expectation_type, f.kwargs.get("column")) for f in result.failed] == [
        ("expect_column_values_to_be_between", "surgery")]


def test_a_missing_table_is_an_error_not_a_verdict(db):
    with pytest.raises(gate.GateError, match="schema 'gate_test_nowhere' has no fct_indicator_values"):
        gate.run_gate("marts", "gate_test_nowhere", "no-schema")
    with pytest.raises(gate.GateError, match="unknown gate stage 'raw'"):
        gate.run_gate("raw", STAGED, "bad-stage")
