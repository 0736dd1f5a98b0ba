"""Extract revisions across a correction: a new publication makes the next revision beside the untouched
earlier one, restating what changed and naming the submission that changed it; the earlier revision is
reproduced byte for byte from its publication; ``vte diff`` lists the same changes.

The correction goes through the real intake and pipeline once (about two minutes): a new version of one
institution-date in the extracted month, and every institution's first day of a new month (small
denominators for the ranking). They are recorded in the shared fixture's ``accepted`` submissions, so
end-to-end checks computed from it stay true. Other tests may have published before this module: every
expectation is taken from what this module's own first extracts recorded.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import io
import json
import os
import subprocess
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import openpyxl
import psycopg
import pytest

from vte import client, generator, pipeline, warehouse
from vte.access import roles
from vte.extracts import inputs as stored_inputs, query, revisions
from vte.extracts.create import Extract, create_extract
from vte.extracts.manifest import MANIFEST_NAME, RUN_KEY, content_checksum, file_sha256
from vte.extracts.periods import parse_period
from vte.extracts.query import Snapshot
from vte.extracts.tables import NOT_ON_ROSTER, extract_tables, legend
from vte.extracts.workbook import HEADER_ROW
from vte.intake.responses import ResultCode
from vte.publication import history
from vte.review import locks

from extract_support import MONTH, check_ranks, sheet_records

pytestmark = pytest.mark.slow

QUIET_MONTH = "2026-05"  # a month the correction does not touch
NEW_MONTH_DAY = date(2026, 11, 1)
AFTER_NEW_MONTH = date(2026, 12, 1)
RESTATEMENT_SHEET = "修订说明 Restatement"
CAUSES = "原因提交(机构 上报日期 版本 接收时间) Causing submissions (institution, report date, version, received)"


@dataclass
class Correction:
    institution_code: str
    report_date: str
    department: str
    submission_id: str
    version: int

    @property
    def text(self) -> str:
        """How the restatement and vte diff name it: institution, report date, version."""
        return f"{self.institution_code} {self.report_date} v{self.version}"


@dataclass
class Written:
    """An extract revision and its files' bytes as they were when it was returned."""

    extract: Extract
    files: dict[str, bytes]

    @property
    def publication(self) -> int:
        return self.extract.manifest["publication"]["publication_id"]

    @property
    def workbook(self) -> io.BytesIO:
        return io.BytesIO(self.files[self.extract.files[0].name])

    def sheet(self, name: str) -> list[dict]:
        return sheet_records(self.workbook, name)

    def overview(self) -> dict[str, dict]:
        return {r["指标编号 Indicator ID"]: r for r in self.sheet("概览 Overview")}


@dataclass
class Runs:
    first: Written  # the month, final, before the correction
    snapshot: Snapshot  # what the marts held for it then, read separately
    again: Extract  # the same month run again against the same publication
    quiet_first: Written  # the untouched month before the correction
    correction: Correction
    after: Written  # the month after the correction's publication
    quiet_after: Written  # the untouched month after it


def _written(extract: Extract) -> Written:
    return Written(extract, {p.name: p.read_bytes() for p in extract.paths})


def _submit(pp, code: str, payload: dict) -> dict:
    creds = pp.credentials[code]
    answer = client.submit(pp.intake_url, creds.access_key, creds.access_secret, payload)
    assert answer["code"] == 0, answer
    pp.accepted[(code, payload["date"])] = payload["data"]
    return answer["data"]


def _correct_one_institution_date(pp, conn: psycopg.Connection) -> Correction:
    """Submit a new version of a published institution-date in the month: one more discharge in one row."""
    code, day, hospital, department, version = conn.execute(
        "select institution_code, report_date, hospital, department, version from marts.fct_department_days"
        " where report_date between %s and %s and rule_status = 'valid'"
        " order by institution_code, report_date, hospital, department limit 1",
        (parse_period(MONTH).start, parse_period(MONTH).end)).fetchone()
    rows = [dict(r) for r in pp.accepted[(code, day.isoformat())]]
    row = next(r for r in rows if (r["hospital"], r["dept"]) == (hospital, department))
    # dischargeHospital is only ever the greater side of a rule: one more keeps every rule.
    row["dischargeHospital"] += 1
    # The month's final extract locked it: the correction needs the commission's exception first.
    creds = pp.credentials[code]
    refused = client.submit(pp.intake_url, creds.access_key, creds.access_secret,
                            {"date": day.isoformat(), "data": rows})
    assert refused["code"] == ResultCode.MONTH_LOCKED and refused["data"]["reason"] == "final_extract", refused
    with warehouse.connect(pp.settings, role=roles.ADMIN, autocommit=True) as admin:
        locks.open_exception(admin, code, day, datetime.now(locks.LOCAL_TZ) + timedelta(hours=2),
                             reason="更正一个科室的出院人数", actor="test")
    answer = _submit(pp, code, {"date": day.isoformat(), "data": rows})
    assert answer["version"] == version + 1 and not answer["duplicate"]
    return Correction(code, day.isoformat(), department, answer["submissionId"], answer["version"])


@pytest.fixture(scope="module")
def runs(published_pipeline) -> Runs:
    pp, month, quiet = published_pipeline, parse_period(MONTH), parse_period(QUIET_MONTH)
    first = _written(create_extract(month, actor="test", settings=pp.settings))
    with warehouse.connect(pp.settings, autocommit=True) as conn:
        snapshot = query.read_snapshot(conn, month, None)
    quiet_first = _written(create_extract(quiet, actor="test", settings=pp.settings))
    again = create_extract(month, actor="test", settings=pp.settings)
    # A module before may have left a newer version of the last day that no publication took (a feed-wide
    # break the gate stopped): the accepted rows sent again supersede it, and are a duplicate otherwise.
    last_day = pp.end.isoformat()
    for code in pp.credentials:
        if (code, last_day) in pp.accepted:
            _submit(pp, code, {"date": last_day, "data": pp.accepted[(code, last_day)]})
    with warehouse.connect(pp.settings, autocommit=True) as conn:
        correction = _correct_one_institution_date(pp, conn)
    for institution in pp.institutions:
        for submission in generator.institution_submissions(institution, NEW_MONTH_DAY, NEW_MONTH_DAY, seed=7):
            _submit(pp, institution.code, {"date": submission.date, "data": submission.data})
    assert pipeline.run_once(pp.settings), "the pipeline run publishing the correction failed"
    after = _written(create_extract(month, actor="test", settings=pp.settings))
    quiet_after = _written(create_extract(quiet, actor="test", settings=pp.settings))
    return Runs(first, snapshot, again, quiet_first, correction, after, quiet_after)


def _on_disk(written: Written) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in written.extract.paths}


def _without_run(manifest: dict) -> dict:
    return {k: v for k, v in manifest.items() if k != RUN_KEY}


# --- Revisions ------------------------------------------------------------------------------------------------

def test_a_second_run_from_the_same_publication_returns_the_same_revision(runs, marts):
    first, again = runs.first.extract, runs.again
    assert again.directory == first.directory and not again.created
    assert again.manifest == first.manifest, "the revision was not rewritten, not even its run record"
    assert first.directory.name == revisions.revision_name(first.revision)
    assert first.directory.parts[-4:-1] == (MONTH, "330000", "final")
    kind_directory = first.directory.parent
    # Nothing piled up: the revisions, the pointer and the lock, no staging left behind.
    names = {p.name for p in kind_directory.iterdir()}
    assert names == {revisions.LATEST_NAME, revisions.LOCK_NAME, *(r.name for r in revisions.list_revisions(
        kind_directory))}
    audited = [d for (d,) in marts.execute(
        "select details from ops.admin_audit where action = 'extract.create' and subject = %s",
        (str(first.directory),))]
    assert {d["new_revision"] for d in audited} >= {False}
    assert all(d["revision"] == first.revision for d in audited)


def test_a_new_publication_makes_the_next_revision_beside_the_untouched_earlier_one(runs, marts):
    first, after = runs.first, runs.after
    newest = marts.execute("select max(publication_id) from ops.publications where success").fetchone()[0]
    assert after.publication == newest > first.publication
    assert after.extract.created
    assert after.extract.directory.parent == first.extract.directory.parent
    assert after.extract.revision == first.extract.revision + 1
    assert after.extract.directory.name == revisions.revision_name(first.extract.revision + 1)
    assert after.extract.manifest["previous"] == {"revision": first.extract.revision,
                                                  "publication_id": first.publication}
    assert _on_disk(first) == first.files, "the earlier revision's files changed"
    assert first.extract.manifest["revision"] == first.extract.revision
    assert ("previous" in first.extract.manifest) == (first.extract.revision > 1)
    assert after.extract.manifest["content_sha256"] != first.extract.manifest["content_sha256"]
    assert after.extract.files[0].name.endswith(f"-final-{after.extract.directory.name}.xlsx")

    kind_directory = after.extract.directory.parent
    pointer = json.loads((kind_directory / revisions.LATEST_NAME).read_text(encoding="utf-8"))
    assert pointer["directory"] == after.extract.directory.name
    assert pointer["publication_id"] == after.publication
    assert revisions.latest(kind_directory).manifest == after.extract.manifest


def test_a_correction_moves_the_indicators_it_feeds(runs, marts):
    before, after = runs.first.extract.manifest, runs.after.extract.manifest
    assert datetime.fromisoformat(after["submissions"]["newest_received_at"]) > \
        datetime.fromisoformat(before["submissions"]["newest_received_at"])
    version, = marts.execute(
        "select version from marts.fct_department_days where institution_code = %s and report_date = %s"
        " and department = %s", (runs.correction.institution_code, runs.correction.report_date,
                                 runs.correction.department)).fetchone()
    assert version == runs.correction.version

    old, new = runs.first.overview(), runs.after.overview()
    # dischargeHospital is the denominator of B.3.1-B.3.4: exactly those moved, by the one discharge
    moved = {i for i in old if old[i]["分母 Denominator"] != new[i]["分母 Denominator"]}
    assert moved == {"B.3.1", "B.3.2", "B.3.3", "B.3.4"}
    assert all(new[i]["分母 Denominator"] == old[i]["分母 Denominator"] + 1 for i in moved)


# --- Restatement ----------------------------------------------------------------------------------------------

def test_the_restatement_lists_every_changed_value_and_names_the_correction(runs, marts):
    first, after, correction = runs.first, runs.after, runs.correction
    if first.extract.revision == 1:
        assert RESTATEMENT_SHEET not in openpyxl.load_workbook(first.workbook, read_only=True).sheetnames
        assert "restatement" not in first.extract.manifest and "restatement.csv" not in first.files
    rows = after.sheet(RESTATEMENT_SHEET)
    expected = history.changes(marts, period_type="month", start=parse_period(MONTH).start,
                               end=parse_period(MONTH).end, region="330000",
                               from_publication=first.publication, to_publication=after.publication)
    assert len(rows) == len(expected) > 0
    assert after.extract.manifest["restatement"] == {
        "against_revision": first.extract.revision, "from_publication": first.publication,
        "to_publication": after.publication, "changed_values": len(rows)}

    assert {r["指标编号 Indicator ID"] for r in rows} == {"B.3.1", "B.3.2", "B.3.3", "B.3.4"}
    for row in rows:
        assert row["新分母 New denominator"] == row["原分母 Previous denominator"] + 1
        assert row["新分子 New numerator"] == row["原分子 Previous numerator"]
        assert correction.text in row[CAUSES], row
    by_level = {}
    for row in rows:
        by_level.setdefault(row["层级 Level"], []).append(row)
    assert {r["编码 Code"] for r in by_level["机构 institution"]} == {correction.institution_code}
    assert {r["科室 Department"] for r in by_level["科室 department"]} == {correction.department}
    assert {r["编码 Code"] for r in by_level["省 province"]} == {"330000"}
    assert list(by_level)[0] == "省 province", "largest level first"
    # The institution's value was moved by its own new version only.
    assert all(r[CAUSES].startswith(correction.text) and ";" not in r[CAUSES] for r in by_level["机构 institution"])

    restatement_csv = list(csv.reader(io.StringIO(after.files["restatement.csv"].decode("utf-8-sig"))))
    assert restatement_csv[0] == list(rows[0]) and len(restatement_csv) - 1 == len(rows)
    about = dict(openpyxl.load_workbook(after.workbook, read_only=True)["说明 About"].iter_rows(values_only=True))
    assert about["修订 Revision"].startswith(after.extract.directory.name)
    assert f"{len(rows)} indicator values changed" in about["修订说明 Restatement"]


def test_a_month_the_correction_did_not_touch_gets_a_revision_that_says_nothing_changed(runs):
    before, after = runs.quiet_first, runs.quiet_after
    assert after.extract.revision == before.extract.revision + 1
    assert after.extract.manifest["restatement"]["changed_values"] == 0
    sheet = list(openpyxl.load_workbook(after.workbook, read_only=True)[RESTATEMENT_SHEET].iter_rows(values_only=True))
    note = sheet[HEADER_ROW + 1][0]  # under the title, units, source and header rows
    assert len(sheet) == HEADER_ROW + 2 and "No indicator value changed" in note and \
        f"publication {before.publication}" in note
    assert after.files["restatement.csv"].decode("utf-8-sig").count("\r\n") == 1, "a header and no rows"
    tables = {name for name in before.files if name.endswith(".csv")}
    assert {n: after.files[n] for n in tables} == {n: before.files[n] for n in tables}


# --- Reproduction ---------------------------------------------------------------------------------------------

def test_the_stored_inputs_are_the_snapshot_and_encode_back_to_the_same_bytes(runs):
    stored = runs.first.files[stored_inputs.INPUTS_NAME]
    inputs = stored_inputs.loads(stored)
    assert inputs.snapshot == runs.snapshot
    assert stored_inputs.dumps(inputs) == stored
    assert (inputs.kind, inputs.revision) == ("final", runs.first.extract.revision)
    assert stored[4:8] == b"\0\0\0\0", "no time in the gzip header"


def test_inputs_written_before_the_department_sheet_render_without_it(runs):
    """A revision stored in format 3 had no department sheet: read back, its tables and legend are what they were."""
    document = json.loads(gzip.decompress(runs.first.files[stored_inputs.INPUTS_NAME]))
    assert document["format"] == stored_inputs.INPUTS_FORMAT == 4
    del document["snapshot"]["department_completeness"]
    document["format"] = 3
    older = stored_inputs.loads(gzip.compress(json.dumps(document).encode("utf-8")))
    assert older.snapshot.department_completeness is None
    current = stored_inputs.loads(runs.first.files[stored_inputs.INPUTS_NAME])
    assert [t.key for t in extract_tables(current.snapshot) if t.key not in
            [t.key for t in extract_tables(older.snapshot)]] == ["department_completeness"]
    marks = {row[1] for row in legend(older.snapshot).rows}
    assert NOT_ON_ROSTER not in marks and NOT_ON_ROSTER in {row[1] for row in legend(current.snapshot).rows}


def _vte(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["vte", *args], capture_output=True, text=True, timeout=300)


def test_the_earlier_revision_is_reproduced_byte_for_byte_from_its_publication(runs, in_published_home, tmp_path):
    first = runs.first
    out = tmp_path / "again"
    proc = _vte("extract", "--period", MONTH, "--final", "--publication", str(first.publication), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    *printed, confirmation = proc.stdout.splitlines()
    paths = [Path(p) for p in printed]
    assert [p.name for p in paths] == [p.name for p in first.extract.files] + [MANIFEST_NAME]
    assert all(p.parent == out for p in paths)
    data_files = [p.name for p in first.extract.files]
    assert {n: (out / n).read_bytes() for n in data_files} == {n: first.files[n] for n in data_files}
    reproduced = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))
    original = json.loads(first.files[MANIFEST_NAME])
    assert _without_run(reproduced) == _without_run(original)
    assert reproduced["content_sha256"] == content_checksum(reproduced) == original["content_sha256"]
    assert reproduced[RUN_KEY]["reproduces"] == str(first.extract.directory)
    assert confirmation.startswith(f"identical to {first.extract.directory.name} of {MONTH} 330000 final "
                                   f"(publication {first.publication}): the sha256 of all {len(data_files)} files")

    # Default place, no kind named: the final made from that publication.
    proc = _vte("extract", "--period", MONTH, "--publication", str(first.publication))
    assert proc.returncode == 0, proc.stderr
    default = in_published_home.settings.exports_dir / "reproduced" / MONTH / "330000" / "final" / \
        f"p{first.publication}"
    assert Path(proc.stdout.splitlines()[0]).parent == default
    assert {n: (default / n).read_bytes() for n in data_files} == {n: first.files[n] for n in data_files}


def test_a_changed_input_is_not_reported_identical(runs, tmp_path):
    """The check can fail: a revision whose stored inputs no longer give its files is not reported identical."""
    first = runs.first
    copy = tmp_path / "exports" / MONTH / "330000" / "final" / first.extract.directory.name
    copy.mkdir(parents=True)
    stored = stored_inputs.loads(first.files[stored_inputs.INPUTS_NAME])
    counted = stored.snapshot.submissions["counted_submissions"] + 1
    snapshot = dataclasses.replace(stored.snapshot, submissions={**stored.snapshot.submissions,
                                                                 "counted_submissions": counted})
    stored_inputs.write(copy / stored_inputs.INPUTS_NAME, dataclasses.replace(stored, snapshot=snapshot))
    manifest = json.loads(first.files[MANIFEST_NAME])
    manifest["inputs"]["sha256"] = file_sha256(copy / stored_inputs.INPUTS_NAME)
    (copy / MANIFEST_NAME).write_text(json.dumps(manifest), encoding="utf-8")
    proc = subprocess.run(["vte", "extract", "--period", MONTH, "--region", "330000", "--publication",
                           str(first.publication), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "VTE_HOME": str(tmp_path)})
    assert proc.returncode == 1, proc.stdout
    # The count shows in the workbook's About sheet and the manifest, in no CSV.
    assert proc.stderr.startswith(f"error: not identical to {first.extract.directory.name} of {MONTH} 330000 final")
    assert f": {first.extract.files[0].name}, content_sha256 differ from" in proc.stderr


# --- vte diff -------------------------------------------------------------------------------------------------

def test_vte_diff_lists_the_changed_values_and_names_the_correcting_submission(runs, in_published_home):
    first, after, correction = runs.first.publication, runs.after.publication, runs.correction
    restated = runs.after.sheet(RESTATEMENT_SHEET)
    proc = _vte("diff", "--period", MONTH, "--from", str(first), "--to", str(after))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(f"{len(restated)} indicator values of {MONTH} in 330000 ")
    assert lines[0].endswith(f"changed from publication {first} to publication {after}:")
    values = [line for line in lines[2:] if not line.startswith("    ")]
    causes = [line for line in lines[2:] if line.startswith("    ")]
    assert len(values) == len(restated) == len(causes)
    assert all(any(f" {i} " in line for i in ("B.3.1", "B.3.2", "B.3.3", "B.3.4")) for line in values)
    assert values[0].startswith("province") and "330000" in values[0]
    assert all(line.strip().startswith(f"← {correction.text} ") for line in causes)
    assert all(f"(submission {correction.submission_id})" in line for line in causes)

    proc = _vte("diff", "--period", MONTH, "--from", str(first), "--to", str(after), "--json")
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert (document["from_publication"], document["to_publication"]) == (first, after)
    assert document["region"]["code"] == "330000" and document["period"]["label"] == MONTH
    changes = document["changes"]
    assert len(changes) == len(restated)
    for change, row in zip(changes, restated):
        assert change["indicator_id"] == row["指标编号 Indicator ID"]
        assert change["new"]["denominator"] == change["old"]["denominator"] + 1 == row["新分母 New denominator"]
        assert {(s["institution_code"], s["report_date"], s["version"], s["submission_id"])
                for s in change["submissions"]} == {(correction.institution_code, correction.report_date,
                                                     correction.version, correction.submission_id)}

    proc = _vte("diff", "--period", QUIET_MONTH, "--from", str(first), "--to", str(after))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"no indicator value of {QUIET_MONTH} in 330000 ")


def test_vte_diff_of_a_city_shows_the_city_and_below(runs, in_published_home, marts):
    city, = marts.execute("select city_code from marts.dim_institutions where institution_code = %s",
                          (runs.correction.institution_code,)).fetchone()
    proc = _vte("diff", "--period", MONTH, "--region", city, "--from", str(runs.first.publication),
                "--to", str(runs.after.publication), "--json")
    assert proc.returncode == 0, proc.stderr
    changes = json.loads(proc.stdout)["changes"]
    assert {(c["level"], c["entity_code"]) for c in changes if c["level"] in ("province", "city")} == \
        {("city", city)}, "the province the city sums into is not the city's"
    assert {c["entity_code"] for c in changes if c["level"] == "institution"} == {runs.correction.institution_code}


# --- Preliminary ----------------------------------------------------------------------------------------------

def test_small_denominators_are_flagged_and_ranked_by_their_funnel_position(runs, published_pipeline, marts):
    extract = create_extract(parse_period(f"{NEW_MONTH_DAY:%Y-%m}"), actor="test", today=AFTER_NEW_MONTH,
                             settings=published_pipeline.settings)
    assert extract.manifest["kind"] == "preliminary"
    assert extract.directory.parts[-2] == "preliminary"
    assert extract.directory.name == revisions.revision_name(extract.revision)
    ranking = sheet_records(extract.files[0], "排名 Ranking")
    targets = dict(marts.execute(
        "select indicator_id, higher_is_better from marts.dim_indicators where target_rate is not null").fetchall())
    for indicator, higher_is_better in targets.items():
        check_ranks([r for r in ranking if r["指标编号 Indicator ID"] == indicator], higher_is_better)
    # The funnel's limits widen for a small denominator, so it is ranked like any other and only flagged;
    # only an institution without a rate (denominator 0) is left unranked (check_ranks).
    small = [r for r in ranking if r["说明 Note"] and "分母过小" in r["说明 Note"]]
    assert small, "one day of data should give small denominators"
    assert all(r["排名 Rank"] is not None for r in small)
    assert any(r["排名 Rank"] == 1 for r in ranking)
