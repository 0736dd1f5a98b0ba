"""Refusals over real HTTP: a clear code and status, every problem named, nothing stored."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from intake_support import payload, row

from vte import client, registry
from vte.landing import LandingZone
from vte.submission import INT4_MAX, report_today


@pytest.fixture
def landing(settings):
    zone = LandingZone(settings=settings)
    before = list(zone.iter_documents())
    yield zone
    assert list(zone.iter_documents()) == before, "a refused request stored something"


def problems_of(result: dict) -> list[dict]:
    return result["data"]["problems"]


def one_bad_row(**changes) -> dict:
    body = payload(rows=[row(dept="骨科"), row(dept="普外科"), row(dept="心内科"), row(dept="妇科")])
    body["data"][3].update(changes)
    return body


def without(d: dict, key: str) -> dict:
    return {k: v for k, v in d.items() if k != key}


TODAY = report_today()
CASES = {
    "missing count": (lambda: _drop_in_row("precaution"), "missing_field", 3, "precaution"),
    "extra row field": (lambda: one_bad_row(bedCount=12), "unknown_field", 3, "bedCount"),
    "boolean count": (lambda: one_bad_row(newPe=True), "wrong_type", 3, "newPe"),
    "1.0 count": (lambda: one_bad_row(newPe=1.0), "not_an_integer", 3, "newPe"),
    "fractional count": (lambda: one_bad_row(newPe=0.5), "not_an_integer", 3, "newPe"),
    "string count": (lambda: one_bad_row(newPe="1"), "wrong_type", 3, "newPe"),
    "null count": (lambda: one_bad_row(newPe=None), "wrong_type", 3, "newPe"),
    "negative count": (lambda: one_bad_row(surgery=-1), "negative_count", 3, "surgery"),
    "count above int4": (lambda: one_bad_row(surgery=INT4_MAX + 1), "count_too_large", 3, "surgery"),
    "empty hospital": (lambda: one_bad_row(hospital=" "), "empty_text", 3, "hospital"),
    "numeric dept": (lambda: one_bad_row(dept=7), "wrong_type", 3, "dept"),
    "control character in dept": (lambda: one_bad_row(dept="骨\x00科"), "bad_text", 3, "dept"),
    "duplicate hospital and dept": (lambda: one_bad_row(dept="骨科"), "duplicate_department", 3, "dept"),
    "row not an object": (lambda: {**payload(), "data": [row(), [1, 2]]}, "wrong_type", 1, None),
    "empty data": (lambda: {**payload(), "data": []}, "empty_data", None, "data"),
    "data not an array": (lambda: {**payload(), "data": row()}, "wrong_type", None, "data"),
    "slashed date": (lambda: {**payload(), "date": "2025/01/01"}, "bad_date", None, "date"),
    "impossible date": (lambda: {**payload(), "date": "2025-02-29"}, "bad_date", None, "date"),
    "future date": (lambda: {**payload(), "date": (TODAY + timedelta(days=1)).isoformat()}, "future_date", None,
                    "date"),
    "date not a string": (lambda: {**payload(), "date": 20250101}, "wrong_type", None, "date"),
}


def _drop_in_row(name: str) -> dict:
    body = one_bad_row()
    del body["data"][3][name]
    return body


@pytest.mark.parametrize("case", CASES)
def test_each_malformed_submission_is_refused_naming_row_and_field(intake, account, landing, case):
    make, code, row_index, field = CASES[case]
    response = intake.submit(account, make())
    result = response.json()
    assert response.status_code == 422 and result["code"] == 42201, result
    assert result["data"]["problemCount"] == 1, problems_of(result)
    [problem] = problems_of(result)
    assert (problem["code"], problem["row"], problem["field"]) == (code, row_index, field)
    assert problem["expected"]
    zh, en = problem["message"].split(" / ", 1)
    where = f"data[{row_index}]" if row_index is not None else field
    if row_index is not None and field:
        where += f".{field}"
    assert zh.startswith(where) and en.startswith(where)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh.removeprefix(where)), "Chinese first"
    assert re.search(r"[a-z]{4,} [a-z]{2,}", en), "then English"


@pytest.mark.parametrize("name", ["accessKey", "date", "timestamp", "sign", "data"])
def test_missing_envelope_field_is_named(intake, account, landing, name):
    body = without(client.envelope(account.access_key, account.access_secret, payload()), name)
    response = intake.post(body)
    [problem] = problems_of(response.json())
    assert response.status_code == 422 and (problem["code"], problem["row"], problem["field"]) == (
        "missing_field", None, name)


def test_extra_envelope_field_is_named(intake, account, landing):
    body = {**client.envelope(account.access_key, account.access_secret, payload()), "hospitalName": "x"}
    [problem] = problems_of(intake.post(body).json())
    assert (problem["code"], problem["row"], problem["field"]) == ("unknown_field", None, "hospitalName")


def test_all_problems_of_a_request_are_reported_at_once(intake, account, landing):
    body = payload(rows=[row(dept="骨科"), row(dept="普外科"), row(dept="心内科")])
    body["date"] = "2025-13-01"
    body["data"][0]["newPe"] = -3
    body["data"][1]["wardCount"] = 4
    del body["data"][1]["surgery"]
    body["data"][2]["dept"] = "骨科"
    body["data"][2]["medicine"] = 2.5
    result = intake.submit(account, body).json()
    found = {(p["code"], p["row"], p["field"]) for p in problems_of(result)}
    assert found == {("bad_date", None, "date"), ("negative_count", 0, "newPe"), ("unknown_field", 1, "wardCount"),
                     ("missing_field", 1, "surgery"), ("duplicate_department", 2, "dept"),
                     ("not_an_integer", 2, "medicine")}
    assert result["data"]["problemCount"] == 6 and "6" in result["message"]


def test_malformed_credentials_are_reported_without_looking_at_the_rows(intake, landing):
    body = {"accessKey": "", "date": "2025-01-01", "timestamp": "now", "sign": None, "data": []}
    result = intake.post(body).json()
    assert result["code"] == 42201
    found = {(p["code"], p["field"]) for p in problems_of(result)}
    # Nobody signed this request: its rows are not validated (that would be work for a stranger).
    assert found == {("empty_text", "accessKey"), ("wrong_type", "timestamp"), ("wrong_type", "sign")}


@pytest.mark.parametrize(("raw", "fragment"), [
    (b'{"accessKey": "a", ', "Expecting"),
    (b"\xff\xfe{}", "UTF-8"),
    (b'{"a": 1, "a": 2}', "duplicate key"),
    (b'{"a": NaN}', "NaN"),
    (b"[" * 100000, "nested too deeply"),
])
def test_malformed_json_is_refused(intake, landing, raw, fragment):
    response = intake.post(raw)
    result = response.json()
    assert response.status_code == 400 and result["code"] == 40001 and fragment in result["message"], result


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "application/json; charset=gbk"])
def test_wrong_content_type_is_refused(intake, account, landing, content_type):
    response = intake.post(client.envelope(account.access_key, account.access_secret, payload()),
                           content_type=content_type)
    assert response.status_code == 415 and response.json()["code"] == 41501


def test_body_over_the_size_limit_is_refused(intake, account, landing):
    body = client.envelope(account.access_key, account.access_secret, payload())
    body["data"][0]["dept"] = "x" * (5 * 1024 * 1024)
    response = intake.post(body)
    assert response.status_code == 413 and response.json()["code"] == 41301


def test_bad_signature_is_refused(intake, account, landing):
    body = client.envelope(account.access_key, "not-the-secret", payload())
    response = intake.post(body)
    result = response.json()
    assert response.status_code == 401 and result["code"] == 40101
    assert result["message"].startswith("签名错误：") and " / The signature does not match: " in result["message"]


def test_uppercase_sign_and_millisecond_timestamp_are_accepted(intake, account, settings):
    millis = int(time.time() * 1000)
    body = client.envelope(account.access_key, account.access_secret, payload(), timestamp=millis)
    body["sign"] = body["sign"].upper()
    assert intake.post(body).json()["code"] == 0


@pytest.mark.parametrize("offset", [-301, 301, -3600 * 24])
def test_timestamps_outside_the_replay_window_are_refused(intake, account, landing, offset):
    response = intake.submit(account, payload(), timestamp=int(time.time()) + offset)
    result = response.json()
    assert response.status_code == 401 and result["code"] == 40102 and "±300" in result["message"]


def test_a_captured_request_replayed_later_is_refused(intake, account, landing):
    captured = client.envelope(account.access_key, account.access_secret, payload(),
                               timestamp=int(time.time()) - 299)
    assert intake.post(captured, dry_run=True).json()["code"] == 0
    time.sleep(2)
    assert intake.post(captured, dry_run=True).json()["code"] == 40102


def test_unknown_key_is_refused(intake, landing):
    fake = registry.Credentials("ak" + "0" * 18, "secret", "nobody")
    response = intake.submit(fake, payload())
    assert response.status_code == 401 and response.json()["code"] == 40103


def test_revoked_key_is_refused(intake, account, db, landing):
    assert intake.submit(account, payload(), dry_run=True).json()["code"] == 0
    registry.revoke(db, account.access_key)
    deadline = time.monotonic() + 10  # the service re-reads the accounts every second in these tests
    while (result := intake.submit(account, payload(), dry_run=True).json())["code"] == 0:
        assert time.monotonic() < deadline, "the revocation was never seen"
        time.sleep(0.2)
    assert result["code"] == 40301


def test_unknown_path_and_method_answer_in_the_result_format(intake):
    assert intake.http.get("/xt/api/submit").json()["code"] == 40501
    assert intake.http.post("/xt/api/other", json={}).json()["code"] == 40401
    assert intake.http.post("/xt/api/submit?dryRun=perhaps", json={}).json()["code"] == 40002


def test_a_streamed_body_without_a_length_is_cut_off_at_the_limit(intake, landing):
    def chunks():
        yield b'{"accessKey": "ak", "data": ["'
        for _ in range(6):
            yield b"x" * (1024 * 1024)
        yield b'"]}'

    response = intake.http.post("/xt/api/submit", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and response.json()["code"] == 41301
