"""The report arranged for a person from a feedback report: values of broken rules, refusals by code, day statuses."""

from __future__ import annotations

from vte.reports import assembly


def _feedback(**parts) -> dict:
    return {"institutionCode": "H1", "institutionName": "测试医院", "publicationId": 7, "asOf": "2026-03-20",
            "generatedAt": "2026-03-20T01:00:00+00:00", "refusedRequests": [], "quarantinedRows": [],
            "warningRows": [], "days": [], "indicators": [], **parts}


def test_a_broken_rule_shows_the_values_that_break_it():
    row = {"reportDate": "2026-03-09", "hospital": "本院", "dept": "骨科", "version": 2,
           "values": {"highRiskAssessment": 120, "riskAssessment": 100},
           "rules": [{"ruleId": "Q.B.1.3", "severity": "quarantine", "zh": "…", "en": "…"}]}
    [broken] = assembly.offending_values(row)
    assert broken["comparison"] == "highRiskAssessment 120 > riskAssessment 100"
    assert "120 > " in broken["comparisonZh"] and "highRiskAssessment" not in broken["comparisonZh"]


def test_a_burst_of_rate_limited_retries_is_one_line():
    refused = [{"requestedAt": f"2026-03-19T02:00:{s:02d}+00:00", "reportDate": None, "endpoint": "/xt/api/submit",
                "code": 42901, "httpStatus": 429, "problemCount": None} for s in range(50)]
    refused.append({"requestedAt": "2026-03-18T02:00:00+00:00", "reportDate": "2026-03-17",
                    "endpoint": "/xt/api/submit", "code": 42201, "httpStatus": 422, "problemCount": 3})
    lines = assembly.refusal_summary(refused)
    assert [(line["code"], line["count"]) for line in lines] == [(42901, 50), (42201, 1)]
    assert lines[0]["firstAt"].endswith("00:00+00:00") and lines[0]["lastAt"].startswith("2026-03-19T02:00:49")
    assert lines[0]["meaningEn"] == "Too many requests: retry later" and lines[0]["adviceZh"]
    assert lines[1]["reportDates"] == ["2026-03-17"]


def test_days_problems_and_the_calendar():
    days = [{"date": "2026-03-16", "status": "on_time", "versions": [{"version": 1, "receivedAt": "x"}]},
            {"date": "2026-03-17", "status": "missing", "versions": []},
            {"date": "2026-03-18", "status": "missing", "versions": []},
            {"date": "2026-03-19", "status": "late", "versions": [{"version": 1, "receivedAt": "2026-03-23T00:00"}]}]
    refused = [{"requestedAt": "2026-03-18T02:00:00+00:00", "reportDate": "2026-03-17",
                "endpoint": "/xt/api/submit", "code": 42201, "httpStatus": 422, "problemCount": 3}]
    report = assembly.assemble(_feedback(days=days, refusedRequests=refused))
    assert [d["status"] for d in report["days"]] == ["on_time", "refused", "missing", "late"]
    assert [g["group"] for g in report["problems"]] == ["missing", "refused", "late"]
    [march] = assembly.calendar_months(report["days"])
    assert march["weeks"][0][0]["date"] == "2026-03-16"  # a Monday
    assert march["weeks"][0][4] is None


def test_an_outlier_shows_its_value_usual_range_and_history():
    from vte.publication.feedback import _outlier_words

    outlier = {"field": "dischargeHospital", "severity": "held_out", "value": 60, "usualLow": 0, "usualHigh": 9,
               "median": 2.0, "mad": 1.0, "modifiedZ": 29.0, "historyDays": 54, "windowDays": 56,
               "sameWeekday": False}
    row = {"reportDate": "2026-03-09", "hospital": "本院", "dept": "骨科", "version": 1,
           "values": {"dischargeHospital": 60}, "rules": _outlier_words([outlier])}
    [broken] = assembly.offending_values(row)
    assert broken["ruleId"] == "O.dischargeHospital" and broken["severity"] == "quarantine"
    assert broken["comparison"] == "dischargeHospital 60, usual 0-9 (median 2.0, 54 days of the last 56)"
    assert "常见范围 0–9" in broken["comparisonZh"] and "出院患者人次数 60" in broken["comparisonZh"]
    assert "held out" in broken["en"] and "54" in broken["en"]
