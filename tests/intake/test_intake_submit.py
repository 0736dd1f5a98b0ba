"""Accepting submissions over real HTTP: landing, versions, retries, dry runs, warnings."""

from __future__ import annotations

import hashlib
import json

from intake_support import VALID_COUNTS, payload, row

from vte import client, domain
from vte.landing import LandingZone, read_document


def documents(settings, creds, date):
    return [read_document(p) for p in LandingZone(settings=settings).versions(creds.institution_code, date)]


def test_valid_row_breaks_no_rule():
    assert domain.broken_rules(row()) == []


def test_accepted_submission_is_landed_with_its_checksum(intake, account, settings):
    body = payload()
    response = intake.submit(account, body)
    result = response.json()
    assert response.status_code == 200 and result["code"] == 0 and result["message"] == "成功", result
    data = result["data"]
    assert data["version"] == 1 and data["duplicate"] is False and data["warnings"] == []
    assert response.headers["X-Request-ID"] == data["requestId"]
    [document] = documents(settings, account, body["date"])
    assert document["submission_id"] == data["submissionId"]
    assert document["payload"] == body and document["channel"] == "api"
    assert document["access_key"] == account.access_key and document["received_at"] == data["receivedAt"]
    canonical = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    assert document["payload_sha256"] == hashlib.sha256(canonical).hexdigest()


def test_a_retried_request_is_stored_once(intake, account, settings):
    body = payload()
    first = intake.submit(account, body).json()["data"]
    again = intake.submit(account, body).json()["data"]  # new timestamp and sign, same content
    assert again["duplicate"] is True
    assert (again["submissionId"], again["version"]) == (first["submissionId"], first["version"])
    assert len(documents(settings, account, body["date"])) == 1


def test_a_resubmission_with_other_data_is_version_2(intake, account, settings):
    body = payload()
    first = intake.submit(account, body).json()["data"]
    corrected = payload(rows=[row(dept="骨科", dischargeHospital=101)])
    second = intake.submit(account, corrected).json()["data"]
    assert (first["version"], second["version"]) == (1, 2) and second["duplicate"] is False
    stored = documents(settings, account, body["date"])
    assert [d["version"] for d in stored] == [1, 2] and stored[1]["payload"] == corrected


def test_dry_run_validates_fully_and_stores_nothing(intake, account, settings):
    body = payload()
    result = intake.submit(account, body, dry_run=True).json()
    assert result["code"] == 0 and result["data"]["dryRun"] is True and result["data"]["rowCount"] == 2
    assert documents(settings, account, body["date"]) == []
    signed = client.envelope(account.access_key, account.access_secret, body)
    forged = intake.post({**signed, "sign": "0" * 32}, dry_run=True).json()
    assert forged["code"] == 40101
    bad = intake.submit(account, payload(rows=[row(), row()]), dry_run=True).json()
    assert bad["code"] == 42201


def test_rule_breaks_are_accepted_and_reported_row_by_row(intake, account, settings):
    quarantined = row(dept="骨科", riskAssessment=VALID_COUNTS["dischargeHospitalNodaily"] + 1)
    flagged = row(dept="心内科", distinctDischargeHospital=VALID_COUNTS["dischargeHospital"] + 1)
    body = payload(rows=[row(dept="普外科"), quarantined, flagged])
    result = intake.submit(account, body).json()
    assert result["code"] == 0, result
    expected = [(i, r.rule_id, r.severity) for i, data_row in enumerate(body["data"])
                for r in domain.rules() if data_row[r.lesser] > data_row[r.greater]]
    warnings = result["data"]["warnings"]
    assert sorted((w["row"], w["ruleId"], w["severity"]) for w in warnings) == sorted(expected)
    assert {w["severity"] for w in warnings} == {"quarantine", "warning"}
    held = next(w for w in warnings if w["severity"] == "quarantine")
    assert "不计入指标" in held["message"] and "held out of the indicators" in held["message"]
    assert held["message"].index("不计入") < held["message"].index("held out")  # Chinese first
    assert len(documents(settings, account, body["date"])) == 1


def test_largest_int4_count_is_accepted(intake, account):
    result = intake.submit(account, payload(rows=[row(dischargeHospital=2**31 - 1)])).json()
    assert result["code"] == 0, result


def test_health_and_readiness(intake):
    assert intake.http.get("/healthz").json()["code"] == 0
    ready = intake.http.get("/readyz").json()
    assert ready["code"] == 0 and ready["data"]["accountsLoaded"] and ready["data"]["landingWritable"]


def test_openapi_documents_every_field_with_the_standards_description(intake):
    document = intake.http.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    row_schema = schemas["DepartmentRow"]
    assert set(row_schema["required"]) == {"hospital", "dept", *domain.count_field_names()}
    for f in domain.count_fields():
        assert row_schema["properties"][f.name]["description"].startswith(f.label_zh)
        assert row_schema["properties"][f.name]["type"] == "integer"
    body = document["paths"]["/xt/api/submit"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].rsplit("/", 1)[1] in schemas
    assert intake.http.get("/docs").status_code == 200
