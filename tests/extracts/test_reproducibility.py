"""An extract is reproducible from its publication, and a new publication shows in the next extract.

The correction here goes through the real intake and pipeline once (about two minutes): a new version of one
institution-date in the extracted month, and every institution's first day of a new month (small
denominators for the ranking). They are recorded in the shared fixture's ``accepted`` submissions, so
end-to-end checks computed from it stay true.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import date, datetime

import psycopg
import pytest

from vte import client, generator, pipeline, warehouse
from vte.extracts.create import Extract, create_extract
from vte.extracts.manifest import MANIFEST_NAME, content_checksum
from vte.extracts.periods import parse_period

from extract_support import MONTH, check_ranks, sheet_records

pytestmark = pytest.mark.slow

NEW_MONTH_DAY = date(2026, 11, 1)
AFTER_NEW_MONTH = date(2026, 12, 1)


@dataclass
class Correction:
    institution_code: str
    report_date: str
    department: str


@dataclass
class Runs:
    """Each extract's files as they were written (the later runs rewrite the same paths)."""

    first: dict[str, bytes]
    second: dict[str, bytes]
    correction: Correction
    after: dict[str, bytes]
    workbook_name: str

    def manifest(self, run: dict[str, bytes]) -> dict:
        return json.loads(run[MANIFEST_NAME])

    def overview(self, run: dict[str, bytes]) -> dict[str, dict]:
        return {r["指标编号 Indicator ID"]: r
                for r in sheet_records(io.BytesIO(run[self.workbook_name]), "概览 Overview")}


def _submit(pp, code: str, payload: dict) -> None:
    creds = pp.credentials[code]
    answer = client.submit(pp.intake_url, creds.access_key, creds.access_secret, payload)
    assert answer["code"] == 0, answer
    pp.accepted[(code, payload["date"])] = payload["data"]


def _correct_one_institution_date(pp, conn: psycopg.Connection) -> Correction:
    """Submit a new version of a published institution-date in the month: one more discharge in one row."""
    code, day, hospital, department = conn.execute(
        "select institution_code, report_date, hospital, department from marts.fct_department_days"
        " where report_date between %s and %s and rule_status = 'valid'"
        " order by institution_code, report_date, hospital, department limit 1",
        (parse_period(MONTH).start, parse_period(MONTH).end)).fetchone()
    rows = [dict(r) for r in pp.accepted[(code, day.isoformat())]]
    row = next(r for r in rows if (r["hospital"], r["dept"]) == (hospital, department))
    # dischargeHospital is only ever the greater side of a rule: one more keeps every rule.
    row["dischargeHospital"] += 1
    _submit(pp, code, {"date": day.isoformat(), "data": rows})
    return Correction(code, day.isoformat(), department)


def _written(extract: Extract) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in extract.paths}


@pytest.fixture(scope="module")
def runs(published_pipeline) -> Runs:
    pp, period = published_pipeline, parse_period(MONTH)
    first = _written(create_extract(period, actor="test", settings=pp.settings))
    second = _written(create_extract(period, actor="test", settings=pp.settings))
    with warehouse.connect(pp.settings, autocommit=True) as conn:
        correction = _correct_one_institution_date(pp, conn)
    for institution in pp.institutions:
        for submission in generator.institution_submissions(institution, NEW_MONTH_DAY, NEW_MONTH_DAY, seed=7):
            _submit(pp, institution.code, {"date": submission.date, "data": submission.data})
    assert pipeline.run_once(pp.settings), "the pipeline run publishing the correction failed"
    after = create_extract(period, actor="test", settings=pp.settings)
    return Runs(first, second, correction, _written(after), after.files[0].name)


def test_the_same_publication_gives_byte_identical_files(runs):
    data_files = set(runs.first) - {MANIFEST_NAME}
    assert {runs.workbook_name, "overview.csv", "ranking.csv"} <= data_files
    assert {n: runs.second[n] for n in data_files} == {n: runs.first[n] for n in data_files}
    first, second = runs.manifest(runs.first), runs.manifest(runs.second)
    assert second["content_sha256"] == first["content_sha256"] == content_checksum(second)
    assert second["run"]["generated_at"] != first["run"]["generated_at"]
    assert {k: v for k, v in second.items() if k != "run"} == {k: v for k, v in first.items() if k != "run"}


def test_a_correction_gives_a_manifest_naming_the_newer_publication(runs, marts):
    before, after = runs.manifest(runs.first), runs.manifest(runs.after)
    newest = marts.execute("select max(publication_id) from ops.publications where success").fetchone()[0]
    assert after["publication"]["publication_id"] == newest > before["publication"]["publication_id"]
    assert after["content_sha256"] != before["content_sha256"]
    assert datetime.fromisoformat(after["submissions"]["newest_received_at"]) > \
        datetime.fromisoformat(before["submissions"]["newest_received_at"])
    version, = marts.execute(
        "select version from marts.fct_department_days where institution_code = %s and report_date = %s"
        " and department = %s", (runs.correction.institution_code, runs.correction.report_date,
                                 runs.correction.department)).fetchone()
    assert version == 2

    old, new = runs.overview(runs.first), runs.overview(runs.after)
    # dischargeHospital is the denominator of B.3.1-B.3.4: exactly those moved, by the one discharge
    moved = {i for i in old if old[i]["分母 Denominator"] != new[i]["分母 Denominator"]}
    assert moved == {"B.3.1", "B.3.2", "B.3.3", "B.3.4"}
    assert all(new[i]["分母 Denominator"] == old[i]["分母 Denominator"] + 1 for i in moved)


def test_small_denominators_are_flagged_and_not_ranked(runs, published_pipeline, marts):
    extract = create_extract(parse_period(f"{NEW_MONTH_DAY:%Y-%m}"), actor="test", today=AFTER_NEW_MONTH,
                             settings=published_pipeline.settings)
    assert extract.manifest["kind"] == "preliminary"
    assert extract.directory.parts[-1] == "preliminary"
    ranking = sheet_records(extract.files[0], "排名 Ranking")
    targets = dict(marts.execute(
        "select indicator_id, higher_is_better from marts.dim_indicators where target_rate is not null").fetchall())
    for indicator, higher_is_better in targets.items():
        check_ranks([r for r in ranking if r["指标编号 Indicator ID"] == indicator], higher_is_better)
    assert any(r["排名 Rank"] is None for r in ranking), "one day of data should give small denominators"
    assert any(r["排名 Rank"] == 1 for r in ranking)
