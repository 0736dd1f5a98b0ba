"""GET /xt/api/my-report: the hospital's report as JSON, signed like a submission."""

from __future__ import annotations

import httpx
from reports_world import OWN

from vte import client
from vte.reports.routes import API_PATH


def _fetch(world, secret=None):
    creds = world.credentials[OWN]
    timestamp = client.fresh_timestamp(creds.access_key)
    params = {"accessKey": creds.access_key, "timestamp": timestamp,
              "sign": client.sign(creds.access_key, secret or creds.access_secret, timestamp)}
    return httpx.get(f"{world.intake_url}{API_PATH}", params=params, timeout=30)


def test_the_report_as_signed_json(world):
    answer = _fetch(world)
    assert answer.status_code == 200, answer.text
    report = answer.json()["data"]
    assert report["institutionCode"] == OWN
    statuses = {d["date"]: d["status"] for d in report["days"]}
    assert statuses[world.late_day.isoformat()] == "late"
    assert statuses[world.missing_day.isoformat()] == "missing"
    assert statuses[world.start.isoformat()] == "on_time"
    late = next(d for d in report["days"] if d["date"] == world.late_day.isoformat())
    assert [v["version"] for v in late["versions"]] == [1]

    groups = {g["group"]: g for g in report["problems"]}
    [held_out] = groups["quarantined"]["items"]
    q = world.quarantined
    assert (held_out["hospital"], held_out["dept"]) == (q["hospital"], q["dept"])
    values = [b["comparison"] for b in held_out["broken"]]
    assert f"highRiskAssessment {q['highRiskAssessment']} > riskAssessment {q['riskAssessment']}" in values
    assert "counts in no indicator" in groups["quarantined"]["untilFixedEn"]
    assert [i["reportDate"] for i in groups["missing"]["items"]] == [world.missing_day.isoformat()]

    rate_limited = [line for line in report["refusals"] if line["code"] == 42901]
    assert len(rate_limited) == 1 and rate_limited[0]["count"] == world.rate_limited
    assert rate_limited[0]["meaningZh"] == "请求过于频繁，请稍后重试"

    levels = {level for line in report["indicators"] for level in ("institution", "county", "province") if line.get(level)}
    assert levels == {"institution", "county", "province"}


def test_a_wrong_signature_is_refused(world):
    answer = _fetch(world, secret="wrong")
    assert answer.json()["code"] == 40101
    assert httpx.get(f"{world.intake_url}{API_PATH}", timeout=30).json()["code"] == 40002
