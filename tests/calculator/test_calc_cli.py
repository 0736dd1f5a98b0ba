"""`vte calculate`: a file the real intake accepts, one line per problem, nothing about patients in any output."""

from __future__ import annotations

import ast
import csv
import json
import logging
import uuid
from datetime import date
from pathlib import Path

import pytest
import typer
from calc_support import csv_text, patient
from typer.testing import CliRunner

from vte import client, registry, stack, submission
from vte.calculator import EXAMPLE_CSV
from vte.cli.calculate import MAX_SHOWN, calculate

INTAKE_ENV = {"VTE_INTAKE_ACCOUNTS_REFRESH": "1", "VTE_INTAKE_ACCOUNTS_MISS_REFRESH": "0"}


def run(*args: str | Path):
    app = typer.Typer()
    app.command()(calculate)  # as `vte calculate` once registered
    return CliRunner().invoke(app, [str(a) for a in args])


def example_patient_ids() -> set[str]:
    with open(EXAMPLE_CSV, newline="", encoding="utf-8") as f:
        return {row["patient_id"] for row in csv.DictReader(f)}


def test_it_writes_the_submission_and_says_what_it_counted(tmp_path):
    out = tmp_path / "day.json"
    result = run(EXAMPLE_CSV, "--out", out)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr.strip() == (f"{out}: 2025-03-03, 4 department row(s) from 14 discharged episode(s), "
                                     "6 outside quality control")
    payload = json.loads(out.read_text(encoding="utf-8"))
    assert submission.validate_payload(payload) == [] and submission.rule_warnings(payload["data"]) == []
    assert payload["date"] == "2025-03-03" and len(payload["data"]) == 4


def test_without_out_the_submission_goes_to_stdout():
    result = run(EXAMPLE_CSV, "--date", "2025-03-03")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["data"][0]["hospital"] == "东院区"


def test_nothing_about_a_patient_is_written_printed_or_logged(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    out = tmp_path / "day.json"
    result = run(EXAMPLE_CSV, "--out", out)
    written = out.read_text(encoding="utf-8") + result.stdout + result.stderr
    assert not any(pid in written for pid in example_patient_ids())
    assert caplog.records == []
    assert [p.name for p in tmp_path.iterdir()] == ["day.json"]
    # the output holds counts and the row keys, nothing else
    for row in json.loads(out.read_text(encoding="utf-8"))["data"]:
        assert all(type(v) is int for k, v in row.items() if k not in ("hospital", "dept"))
    # and the calculator has no means to log or send: no logging, network or print in its code
    sources = [*Path(EXAMPLE_CSV).parents[1].glob("*.py"), Path(__file__).parents[2] / "plugins/vte/cli/calculate.py"]
    for path in sources:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)
                    for alias in node.names} | {node.module.split(".")[0] for node in ast.walk(tree)
                                                 if isinstance(node, ast.ImportFrom) and node.module}
        assert not imported & {"logging", "httpx", "requests", "urllib", "socket", "psycopg"}, path
        assert not [n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == "print"], path


def test_a_file_with_errors_gives_one_line_per_problem_and_no_output(tmp_path):
    patients = tmp_path / "patients.csv"
    patients.write_text(csv_text([patient(), patient(age="x"), patient(died="dead")]), encoding="utf-8")
    out = tmp_path / "day.json"
    result = run(patients, "--out", out)
    assert result.exit_code == 2 and not out.exists() and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("error: ") for line in lines)
    assert "row 3, column age: value 'x' is not a whole number of years; expected" in lines[0]
    assert "row 4, column died: value 'dead' is not Y or N" in lines[1]
    assert lines[2] == f"error: {patients}: nothing computed; correct the cells above (columns in " \
                       "docs/calculator.md) and run again"


def test_many_problems_are_capped(tmp_path):
    patients = tmp_path / "patients.csv"
    patients.write_text(csv_text([patient(age="x") for _ in range(MAX_SHOWN + 5)]), encoding="utf-8")
    lines = run(patients).stderr.strip().splitlines()
    assert len(lines) == MAX_SHOWN + 2
    assert lines[MAX_SHOWN] == "error: … and 5 more problem(s) not shown; fix these and run again"


@pytest.mark.parametrize("args, message", [
    (["missing.csv"], "error: no such file: missing.csv; give the path of the patient CSV"),
    ([EXAMPLE_CSV, "--date", "3/3/2025"],
     "error: --date '3/3/2025' is not a date: write it yyyy-mm-dd, e.g. 2025-03-03"),
    ([EXAMPLE_CSV, "--out", "no/such/dir/day.json"], "error: cannot write no/such/dir/day.json: the directory "
                                                     "no/such/dir does not exist; create it or choose another --out"),
])
def test_usage_errors_are_one_line(args, message):
    result = run(*args)
    assert result.exit_code == 2 and result.stderr.strip() == message


def test_the_date_option_must_match_the_discharges():
    result = run(EXAMPLE_CSV, "--date", "2025-03-04")
    assert result.exit_code == 2
    assert "is not on the report date 2025-03-04" in result.stderr.splitlines()[0]


# --- the real intake ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def intake_account(warehouse_url, settings):
    """An account of a fresh institution and the real intake service (`vte serve`) of the test warehouse."""
    import psycopg

    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        creds = registry.register(conn, code="H" + uuid.uuid4().hex[:10], name="计算器测试医院", level="二级",
                                  county_code="330328", joined_on=date(2024, 1, 1))
    process, url = stack.start_intake(settings, extra_env=INTAKE_ENV)
    try:
        yield url, creds
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_real_intake_accepts_the_written_file(tmp_path, intake_account):
    url, creds = intake_account
    out = tmp_path / "day.json"
    assert run(EXAMPLE_CSV, "--out", out).exit_code == 0
    payload = json.loads(out.read_text(encoding="utf-8"))
    answer = client.submit(url, creds.access_key, creds.access_secret, payload)
    assert answer["code"] == 0, answer
    assert answer["data"]["warnings"] == [] and answer["data"]["version"] == 1
