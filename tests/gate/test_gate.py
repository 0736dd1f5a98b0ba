"""The GX project is generated from the domain, and the staged-rows gate tells hospital errors from a broken feed."""

from __future__ import annotations

import csv
import filecmp
import json
import shutil

import pytest

from vte import domain, gate
from vte.config import EXPECTATIONS_DIR, SEEDS_DIR

from gate_standins import create_staged_rows, valid_department_row

STAGED = "gate_test_stg"


def test_committed_project_is_what_the_domain_generates(tmp_path, vte_home):
    committed = EXPECTATIONS_DIR / "gx"
    shutil.copytree(committed, tmp_path / "gx", ignore=shutil.ignore_patterns("uncommitted"))
    gate.build_project(tmp_path)

    def tracked(root):
        return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file() and "uncommitted" not in p.parts)

    assert tracked(tmp_path / "gx") == tracked(committed)
    differing = [str(p) for p in tracked(committed) if not filecmp.cmp(committed / p, tmp_path / "gx" / p,
                                                                          shallow=False)]
    assert differing == [], f"rebuild with `vte gate build-suites`: {differing}"


def test_staged_suite_measures_every_rule_with_its_severity_threshold():
    with open(SEEDS_DIR / "consistency_rules.csv", newline="", encoding="utf-8") as f:
        seeded = {r["rule_id"]: r["severity"] for r in csv.DictReader(f)}
    suite = json.loads((EXPECTATIONS_DIR / "gx" / "expectations" / "staged_submission_rows.json").read_text())
    measured = {e["meta"]["rule_id"]: e for e in suite["expectations"]
                if e["type"] == "expect_column_pair_values_a_to_be_greater_than_b"}
    assert set(measured) == set(seeded)
    for rule_id, expectation in measured.items():
        assert expectation["kwargs"]["mostly"] == gate.RULE_MOSTLY[seeded[rule_id]]
        assert expectation["kwargs"]["or_equal"] is True


def test_connection_string_for_a_socket_url_keeps_the_socket_directory():
    converted = gate.gx_connection_string("postgresql://postgres:@/vte?host=/tmp/pg%20sock&port=5433")
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
    assert result.statistics["evaluated_expectations"] == result.statistics["successful_expectations"] > 100
    assert result.docs_path == vte_home / "gx-docs" / "index.html"
    assert result.docs_path.is_file()
    assert "staged_submission_rows" in result.docs_path.read_text()
    result.raise_for_failure()


def test_a_few_quarantinable_breaks_pass_but_a_mass_break_fails(db, staged_rows):
    rule = next(r for r in domain.rules() if r.rule_id == "Q.B.1.1")
    few = [_break_rule(row, rule) if i < 4 else row for i, row in enumerate(staged_rows)]  # 2 %
    create_staged_rows(db, STAGED, few)
    assert gate.run_gate("staged", STAGED, "staged-few").success

    mass = [_break_rule(row, rule) if i % 3 == 0 else row for i, row in enumerate(staged_rows)]  # 33 %
    create_staged_rows(db, STAGED, mass)
    result = gate.run_gate("staged", STAGED, "staged-mass")
    assert not result.success
    assert [(f.expectation_type, f.kwargs["column_A"], f.kwargs["column_B"]) for f in result.failed] == [
        ("expect_column_pair_values_a_to_be_greater_than_b", "discharge_hospital_nodaily", "risk_assessment")]
    with pytest.raises(gate.GateFailed, match=r"rule Q\.B\.1\.1.*67 of 200 rows unexpected"):
        result.raise_for_failure()


def test_negative_and_implausible_counts_fail(db, staged_rows):
    rows = [dict(r) for r in staged_rows]
    rows[0]["surgery"] = gate.PLAUSIBLE_MAX_COUNT + 1
    create_staged_rows(db, STAGED, rows)
    result = gate.run_gate("staged", STAGED, "staged-implausible")
    assert [(f.expectation_type, f.kwargs.get("column")) for f in result.failed] == [
        ("expect_column_values_to_be_between", "surgery")]


def test_a_missing_table_is_an_error_not_a_verdict(db):
    with pytest.raises(gate.GateError, match="schema 'gate_test_nowhere' has no fct_indicator_values"):
        gate.run_gate("marts", "gate_test_nowhere", "no-schema")
    with pytest.raises(gate.GateError, match="unknown gate stage 'raw'"):
        gate.run_gate("raw", STAGED, "bad-stage")
