"""The request log: a line per request, never a secret or sign, loadable into ops.intake_requests."""

from __future__ import annotations

import json

import psycopg
import pytest
from intake_support import payload, row

from vte import client
from vte.intake import audit


def audit_lines(settings) -> dict[str, dict]:
    lines = {}
    for path in settings.audit_dir.glob("intake-*.jsonl"):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            lines[record["request_id"]] = record
    return lines


def test_every_request_is_logged_without_secrets_and_loads_into_the_warehouse(intake, account, settings, db):
    body = payload()
    signed = client.envelope(account.access_key, account.access_secret, body)
    responses = {
        "accepted": intake.post(signed),
        "duplicate": intake.post(client.envelope(account.access_key, account.access_secret, body)),
        "validated": intake.post(client.envelope(account.access_key, account.access_secret, body), dry_run=True),
        "bad sign": intake.post({**signed, "sign": "f" * 32}),
        "invalid": intake.submit(account, payload(rows=[row(), row()])),
        "not json": intake.post(b"{"),
    }
    logged = audit_lines(settings)
    records = {name: logged[r.headers["X-Request-ID"]] for name, r in responses.items()}
    for name, response in responses.items():
        record = records[name]
        assert record["http_status"] == response.status_code and record["code"] == response.json()["code"], name
        assert record["endpoint"] == "/xt/api/submit" and record["client_address"] == "127.0.0.1"
        assert record["latency_ms"] >= 0
    assert [records[n]["outcome"] for n in responses] == [
        "accepted", "duplicate", "validated", "refused", "refused", "refused"]
    accepted = responses["accepted"].json()["data"]
    assert records["accepted"]["submission_id"] == accepted["submissionId"]
    assert records["accepted"]["report_date"] == body["date"] and records["accepted"]["row_count"] == 2
    assert records["accepted"]["institution_code"] == account.institution_code
    assert records["invalid"]["problem_count"] == 1 and records["bad sign"]["access_key"] == account.access_key

    text = "".join(p.read_text() for p in settings.audit_dir.glob("intake-*.jsonl"))
    assert account.access_secret not in text and signed["sign"] not in text and "f" * 32 not in text

    audit.load_into_warehouse(db, settings)
    assert audit.load_into_warehouse(db, settings) == 0  # loading again adds nothing
    stored = {
        str(r[0]): r[1:] for r in db.execute(
            "select request_id, outcome, code, http_status, submission_id::text, access_key"
            " from ops.intake_requests where request_id = any(%s::uuid[])",
            ([r.headers["X-Request-ID"] for r in responses.values()],))
    }
    for name, response in responses.items():
        outcome, code, status, submission_id, access_key = stored[response.headers["X-Request-ID"]]
        assert (outcome, code, status) == (records[name]["outcome"], response.json()["code"], response.status_code)
    assert stored[responses["accepted"].headers["X-Request-ID"]][3] == accepted["submissionId"]


def test_the_loader_picks_up_only_new_lines(intake, account, settings, db):
    audit.load_into_warehouse(db, settings)
    before = db.execute("select count(*) from ops.intake_requests").fetchone()[0]
    request_ids = [intake.submit(account, payload(), dry_run=True).headers["X-Request-ID"] for _ in range(3)]
    assert audit.load_into_warehouse(db, settings) >= 3
    after = db.execute("select count(*) from ops.intake_requests").fetchone()[0]
    assert after == len(audit_lines(settings)) and after >= before + 3
    found = db.execute("select count(*) from ops.intake_requests where request_id = any(%s::uuid[])",
                       (request_ids,)).fetchone()[0]
    assert found == 3


def test_the_warehouse_copy_is_append_only(intake, account, settings, db):
    intake.submit(account, payload(), dry_run=True)
    audit.load_into_warehouse(db, settings)
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        db.execute("delete from ops.intake_requests")
