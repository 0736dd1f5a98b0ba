"""The upload interface against the real service: signed like the JSON interface, all or nothing."""

from __future__ import annotations

import hashlib
import io
import json

import httpx
import openpyxl
import pytest
from excel_workbooks import cell_of, edited, filled_template, generated_payloads, interleaved_rows

from vte import client
from vte.excel.template import DATA_SHEET
from vte.landing import LandingZone, read_document

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(scope="module")
def payloads() -> list[dict]:
    return generated_payloads(days=3, seed=11)


@pytest.fixture(scope="module")
def good(payloads) -> tuple[bytes, list[str]]:
    return filled_template(interleaved_rows(payloads))


def upload(url: str, creds, content: bytes, *, name: str = "上报.xlsx", timestamp: int | None = None,
           secret: str | None = None) -> httpx.Response:
    timestamp = client.fresh_timestamp(creds.access_key) if timestamp is None else timestamp
    fields = {"accessKey": creds.access_key, "timestamp": str(timestamp),
              "sign": client.sign(creds.access_key, secret or creds.access_secret, timestamp)}
    return httpx.post(f"{url}/xt/api/upload", data=fields, files={"file": (name, content, XLSX)}, timeout=60)


def landed(settings, institution_code: str) -> list[dict]:
    zone = LandingZone(settings=settings)
    return [read_document(p) for p in zone.iter_documents() if p.parts[-3] == institution_code]


def test_an_accepted_workbook_lands_one_submission_per_date_as_the_interface_would(
        server_url, account, settings, payloads, good, db):
    content, _ = good
    response = upload(server_url, account, content)
    result = response.json()
    assert response.status_code == 200 and result["code"] == 0, result
    assert [(s["date"], s["version"]) for s in result["data"]["submissions"]] == [(p["date"], 1) for p in payloads]

    documents = landed(settings, account.institution_code)
    assert [d["payload"] for d in documents] == payloads
    digest = hashlib.sha256(content).hexdigest()
    for document, answered in zip(documents, result["data"]["submissions"]):
        assert document["submission_id"] == answered["submissionId"]
        assert document["channel"] == "excel" and document["access_key"] == account.access_key
        assert document["source_file"]["name"] == "上报.xlsx" and document["source_file"]["sha256"] == digest
        kept = settings.landing_dir / document["source_file"]["path"]
        assert kept.read_bytes() == content

    audit = [json.loads(line) for path in settings.audit_dir.glob("intake-*.jsonl") for line in path.open()]
    mine = [e for e in audit if e["endpoint"] == "/xt/api/upload" and e["access_key"] == account.access_key]
    assert [(e["outcome"], e["institution_code"], e["row_count"]) for e in mine] == [
        ("accepted", account.institution_code, sum(len(p["data"]) for p in payloads))]

    # The same rows through the JSON interface are recognised as the very same submission: same raw form.
    for payload, document in zip(payloads, documents):
        answer = client.submit(server_url, account.access_key, account.access_secret, payload)
        assert answer["code"] == 0, answer
        assert answer["data"]["duplicate"] and answer["data"]["submissionId"] == document["submission_id"]


def document_path(settings, institution_code, report_date):
    return LandingZone(settings=settings).versions(institution_code, report_date)[-1]


def test_a_corrected_workbook_becomes_the_next_version_of_each_date(server_url, account, settings, payloads, good):
    content, header = good
    assert upload(server_url, account, content).json()["code"] == 0
    corrected = edited(content, lambda s: s.__setitem__(cell_of(header, "surgery", 3), 999))
    result = upload(server_url, account, corrected, name="更正.xlsx").json()
    assert result["code"] == 0, result
    changed_date = openpyxl.load_workbook(io.BytesIO(corrected))[DATA_SHEET]["A3"].value.date().isoformat()
    versions = {s["date"]: (s["version"], s["duplicate"]) for s in result["data"]["submissions"]}
    assert versions == {p["date"]: ((2, False) if p["date"] == changed_date else (1, True)) for p in payloads}
    newest = read_document(document_path(settings, account.institution_code, changed_date))
    assert newest["source_file"]["name"] == "更正.xlsx" and newest["payload"]["data"][0]["surgery"] == 999


def test_one_bad_cell_refuses_the_whole_file_and_stores_nothing(server_url, account, settings, payloads, good):
    content, header = good
    bad_cell = cell_of(header, "precaution", 8)
    response = upload(server_url, account, edited(content, lambda s: s.__setitem__(bad_cell, 2.5)))
    result = response.json()
    assert response.status_code == 422 and result["code"] == 42201
    assert [(e["sheet"], e["cell"], e["field"], e["code"]) for e in result["data"]["errors"]] == [
        (DATA_SHEET, bad_cell, "precaution", "not_integer")]
    assert bad_cell in result["data"]["errors"][0]["message"]
    assert result["data"]["rowCount"] == sum(len(p["data"]) for p in payloads)  # the refused row counts too
    assert landed(settings, account.institution_code) == []
    assert not (settings.landing_dir / account.institution_code).exists()


def test_a_file_that_is_not_a_workbook_is_refused_with_its_reason(server_url, account):
    result = upload(server_url, account, b"date,hospital,dept\n2025-03-01,A,B\n", name="report.csv").json()
    assert result["code"] == 42201 and result["data"]["errors"][0]["code"] == "not_xlsx"


@pytest.mark.parametrize(("change", "code"), [
    ({"secret": "not-the-secret"}, 40101),
    ({"timestamp": 1_000_000_000}, 40102),
])
def test_legality_checks_are_the_interfaces(server_url, account, settings, good, change, code):
    result = upload(server_url, account, good[0], **change).json()
    assert result["code"] == code
    assert landed(settings, account.institution_code) == []


def test_missing_and_unknown_form_fields_are_named(server_url, account):
    response = httpx.post(f"{server_url}/xt/api/upload", data={"accessKey": account.access_key, "date": "x"},
                          files={"other": ("a.xlsx", b"x", XLSX)}, timeout=30)
    result = response.json()
    assert result["code"] == 42201
    assert {(e["code"], e["field"]) for e in result["data"]["errors"]} == {
        ("missing_field", "timestamp"), ("missing_field", "sign"), ("missing_field", "file"),
        ("unknown_field", "date"), ("unknown_field", "other")}


def test_the_template_downloads(server_url):
    response = httpx.get(f"{server_url}/xt/excel/template", timeout=30)
    assert response.status_code == 200 and response.headers["content-type"] == XLSX
    assert "attachment" in response.headers["content-disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(response.content))[DATA_SHEET]
    assert [c.value for c in sheet[1]][:3] == ["date", "hospital", "dept"]


def test_a_timestamp_that_is_not_an_integer_is_refused(server_url, account, settings, good):
    fields = {"accessKey": account.access_key, "timestamp": "²⁰²⁵", "sign": "0" * 32}
    result = httpx.post(f"{server_url}/xt/api/upload", data=fields, files={"file": ("a.xlsx", good[0], XLSX)},
                        timeout=30).json()
    assert result["code"] == 42201 and "timestamp" in result["message"]
    assert landed(settings, account.institution_code) == []
