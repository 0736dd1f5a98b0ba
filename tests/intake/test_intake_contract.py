"""The documented contract and the code agree; the validation shared with the Excel channel."""

from __future__ import annotations

import hashlib
import re
from datetime import date

from intake_support import payload, row

from vte.config import PROJECT_ROOT
from vte.intake.responses import ResultCode
from vte.intake.signing import sign, signature_matches, timestamp_seconds
from vte.submission import ProblemCode, validate_payload

DOC = (PROJECT_ROOT / "docs" / "intake-api.md").read_text(encoding="utf-8")


def test_every_result_code_is_documented_with_its_http_status():
    documented = {int(code): int(status) for code, status in re.findall(r"^\| (\d+) \| (\d{3}) \|", DOC, re.M)}
    assert documented == {int(c): c.http_status for c in ResultCode}


def test_every_problem_code_is_documented():
    table = DOC.split("Problem codes in", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", table, re.M))
    assert documented == {str(p) for p in ProblemCode}


def test_signature_is_the_md5_of_key_secret_and_timestamp():
    expected = hashlib.md5(b"ak1s3cret1700000000").hexdigest()
    assert sign("ak1", "s3cret", 1700000000) == expected
    assert signature_matches("ak1", "s3cret", 1700000000, expected.upper())
    assert not signature_matches("ak1", "s3cret", 1700000001, expected)
    assert timestamp_seconds(1_700_000_000_123) == 1_700_000_000.123
    assert timestamp_seconds(999_999_999_999) == 999_999_999_999


def test_the_excel_channel_validates_the_payload_without_an_envelope():
    body = payload()
    assert validate_payload(body) == []
    problems = validate_payload({**body, "accessKey": "ak"})
    assert [(p.code, p.field) for p in problems] == [("unknown_field", "accessKey")]
    assert [p.field for p in validate_payload(body, envelope=True)] == ["accessKey", "timestamp", "sign"]


def test_future_is_judged_against_the_given_day():
    body = {"date": "2025-03-02", "data": [row()]}
    assert validate_payload(body, today=date(2025, 3, 2)) == []
    [problem] = validate_payload(body, today=date(2025, 3, 1))
    assert problem.code == "future_date" and "2025-03-01" in problem.message_en


def test_problems_render_bilingually():
    [problem] = validate_payload({"date": "2025-03-01", "data": [row(newPe=-1)]}, today=date(2025, 3, 2))
    rendered = problem.to_dict()
    assert rendered == {"code": "negative_count", "row": 0, "field": "newPe", "expected": problem.expected,
                        "message": f"{problem.message_zh} / {problem.message_en}"}
    assert problem.message_zh.startswith("data[0].newPe：") and problem.message_en.startswith("data[0].newPe: ")
