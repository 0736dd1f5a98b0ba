"""A hospital's own report ("我的上报"), assembled from its published feedback report (vte.publication.feedback).

Nothing is recomputed here: the numbers are the published marts' as the publication wrote them. This module
only arranges them for a person: report days with their status and versions, every problem grouped by what to
do first with the offending values and the rule in words, the indicators beside the county's and the
province's, and refused requests summarised by result code (a burst of rate-limited retries is one line).
"""

from __future__ import annotations

from collections import Counter
from datetime import date

from vte import domain
from vte.intake.responses import ADVICE, MESSAGES, ResultCode
from vte.publication.suites import PLAUSIBLE_MAX_COUNT

STATUSES = {  # the calendar's day statuses, the worst first
    "refused": ("被拒", "refused", "请求被拒绝，未收到有效上报", "requests were refused and no report was stored"),
    "missing": ("缺报", "missing", "应报而未报", "expected but not received"),
    "late": ("迟报", "late", "首个版本在次日结束后才收到", "the first version arrived after the end of the next day"),
    "pending": ("待报", "pending", "次日尚未结束", "the next day has not ended yet"),
    "on_time": ("按时", "on time", "按时收到", "received on time"),
    "not_expected": ("无需上报", "not expected", "加入前、暂停或关闭期间", "before joining, suspended or closed"),
}

# What to do first comes first. Each group: key, title, what to do, what happens until it is done.
GROUPS = (
    ("quarantined", "被隔离的数据行", "Rows held out of the indicators (quarantined)",
     "更正下列数值后重新上报该日期（新版本整体替换旧版本）",
     "correct the values below and report the date again (a new version replaces the old one whole)",
     "在收到更正版本之前，该行不计入任何指标（本院、区县、全省均不含）",
     "until a corrected version arrives the row counts in no indicator (yours, the county's or the province's)"),
    ("missing", "缺报日期", "Missing report dates",
     "补报这些日期", "report these dates",
     "计为缺报，降低上报完整率；所在月份的指标保持为“未齐”的临时值",
     "they count as missing in your completeness, and their month's indicators stay partial"),
    ("missing_departments", "缺报科室", "Missing departments",
     "重新上报这些日期，包含全部应报科室（当日无出院的科室报一行全 0）",
     "report these dates again with every expected department (a department with no discharges sends a row of zeros)",
     "该科室当日计为缺报，不按 0 计；报一行全 0 才算已报",
     "the department counts as missing that day, not as zero; a row of zeros counts as reported"),
    ("refused", "被拒绝的请求", "Refused requests",
     "按每个返回码的处理建议修正后重新发送", "fix what each result code says, then send again",
     "被拒绝的请求未保存任何数据；如当天没有其他有效上报，则计为缺报",
     "a refused request stored nothing; a day with no accepted report counts as missing"),
    ("warning", "有警告的数据行", "Rows published with warnings",
     "核实下列数值；如有误请更正后重新上报", "check the values below; if they are wrong, correct them and report again",
     "已计入指标，但带有警告标记", "they count in the indicators, flagged"),
    ("late", "迟报日期", "Late report dates",
     "今后在次日结束前上报", "report each day before the end of the next day",
     "计为迟报，降低上报及时率", "they count as late in your timeliness"),
)


def assemble(feedback: dict) -> dict:
    """The hospital's report from its latest feedback report."""
    refusals = refusal_summary(feedback.get("refusedRequests", []))
    days = report_days(feedback)
    return {
        "institutionCode": feedback["institutionCode"],
        "institutionName": feedback["institutionName"],
        "county": feedback.get("county"),
        "province": feedback.get("province"),
        "publicationId": feedback["publicationId"],
        "asOf": feedback["asOf"],
        "generatedAt": feedback["generatedAt"],
        "days": days,
        "problems": problems(feedback, days, refusals),
        "indicators": indicator_table(feedback.get("indicators", [])),
        "departments": feedback.get("departments", []),
        "refusals": refusals,
    }


def offending_values(row: dict) -> list[dict]:
    """Each broken rule of a row with the values that break it, e.g. ``highRiskAssessment 120 > riskAssessment 100``,
    or an outlier with its usual range, e.g. ``dischargeHospital 40, usual 0-9 (median 2, 56 days of the last 56)``."""
    by_id = {rule.rule_id: rule for rule in domain.rules()}
    labels = {f.name: f.label_zh for f in domain.count_fields()}
    values = row.get("values") or {}
    found = []
    for words in row.get("rules", []):
        rule = by_id.get(words["ruleId"])
        if rule is not None:
            left, right = rule.lesser, rule.greater
            text = f"{left} {values.get(left, '?')} > {right} {values.get(right, '?')}"
            text_zh = f"{labels[left]} {values.get(left, '?')} > {labels[right]} {values.get(right, '?')}"
        elif words["ruleId"].startswith("O."):  # a count outside its usual range against the department's history
            field, low, high = words["field"], words["usualLow"], words["usualHigh"]
            text = (f"{field} {words['value']}, usual {low}-{high} (median {words['median']},"
                    f" {words['historyDays']} days of the last {words['windowDays']})")
            text_zh = (f"{labels.get(field, field)} {words['value']}，常见范围 {low}–{high}"
                       f"（中位数 {words['median']}，前 {words['windowDays']} 天中的 {words['historyDays']} 天）")
        else:  # P.<field>: a count above the plausibility bound
            left = words["ruleId"].removeprefix("P.")
            text = f"{left} {values.get(left, '?')} > {PLAUSIBLE_MAX_COUNT}"
            text_zh = f"{labels.get(left, left)} {values.get(left, '?')} > {PLAUSIBLE_MAX_COUNT}"
        found.append({**words, "comparison": text, "comparisonZh": text_zh})
    return found


def _row_problem(row: dict) -> dict:
    return {"reportDate": row["reportDate"], "hospital": row["hospital"], "dept": row["dept"],
            "version": row["version"], "broken": offending_values(row)}


def report_days(feedback: dict) -> list[dict]:
    """Every report date of the calendar with its status, versions and what concerns it."""
    held_out = Counter(r["reportDate"] for r in feedback.get("quarantinedRows", []))
    warned = Counter(r["reportDate"] for r in feedback.get("warningRows", []))
    refused = Counter(r["reportDate"] for r in feedback.get("refusedRequests", []) if r.get("reportDate"))
    by_date: dict[str, dict[str, list[dict]]] = {}
    for key in ("missingDepartments", "reportedZeroDepartments"):
        for item in feedback.get(key, []):
            by_date.setdefault(item["reportDate"], {}).setdefault(key, []).append(item)
    days = []
    for day in feedback.get("days", []):
        status = day["status"]
        if status in ("missing", "pending") and refused[day["date"]]:
            status = "refused"
        zh, en, _, _ = STATUSES[status]
        days.append({**day, "status": status, "statusZh": zh, "statusEn": en,
                     "quarantinedRows": held_out[day["date"]], "warningRows": warned[day["date"]],
                     "refusedRequests": refused[day["date"]],
                     "missingDepartments": by_date.get(day["date"], {}).get("missingDepartments", []),
                     "reportedZeroDepartments": by_date.get(day["date"], {}).get("reportedZeroDepartments", [])})
    return days


def refusal_summary(refused: list[dict]) -> list[dict]:
    """One line per result code: how many, when first and last, for which report dates, what it means and what
    to do (the intake's own table, vte.intake.responses)."""
    by_code: dict[int, list[dict]] = {}
    for request in refused:
        by_code.setdefault(request["code"], []).append(request)
    lines = []
    for code, requests in sorted(by_code.items(), key=lambda item: (-len(item[1]), item[0])):
        times = sorted(r["requestedAt"] for r in requests)
        known = ResultCode(code) if code in ResultCode._value2member_map_ else None
        meaning = MESSAGES[known] if known is not None else ("未知返回码", "unknown code")
        advice = ADVICE[known] if known is not None else ("联系平台", "ask the platform")
        lines.append({"code": code, "count": len(requests), "firstAt": times[0], "lastAt": times[-1],
                      "reportDates": sorted({r["reportDate"] for r in requests if r.get("reportDate")}),
                      "endpoints": sorted({r["endpoint"] for r in requests}),
                      "meaningZh": meaning[0], "meaningEn": meaning[1], "adviceZh": advice[0], "adviceEn": advice[1]})
    return lines


def problems(feedback: dict, days: list[dict], refusals: list[dict]) -> list[dict]:
    """Every problem of the report, grouped by what to do first; groups with nothing are left out."""
    items = {
        "quarantined": [_row_problem(r) for r in feedback.get("quarantinedRows", [])],
        "missing": [{"reportDate": d["date"]} for d in days if d["status"] == "missing"],
        "missing_departments": feedback.get("missingDepartments", []),
        "refused": refusals,
        "warning": [_row_problem(r) for r in feedback.get("warningRows", [])],
        "late": [{"reportDate": d["date"], "firstReceivedAt": d["versions"][0]["receivedAt"]}
                 for d in days if d["status"] == "late"],
    }
    return [{"group": key, "titleZh": title_zh, "titleEn": title_en, "doZh": do_zh, "doEn": do_en,
             "untilFixedZh": until_zh, "untilFixedEn": until_en, "items": items[key]}
            for key, title_zh, title_en, do_zh, do_en, until_zh, until_en in GROUPS if items[key]]


def indicator_table(values: list[dict]) -> list[dict]:
    """Per month and indicator: the institution's, the county's and the province's rate, and the target."""
    definitions = {i.indicator_id: i for i in domain.indicators()}
    table: dict[tuple[str, str], dict] = {}
    for value in values:
        definition = definitions.get(value["indicatorId"])
        if definition is None:
            continue
        line = table.setdefault((value["month"], value["indicatorId"]), {
            "month": value["month"], "indicatorId": value["indicatorId"], "nameZh": definition.name_zh,
            "nameEn": definition.name_en, "isSupplementary": definition.is_supplementary,
            "target": float(definition.target_rate) if definition.target_rate is not None else None,
            "higherIsBetter": definition.higher_is_better})
        line[value["level"]] = {key: value[key] for key in ("numerator", "denominator", "rate", "meetsTarget",
                                                            "isPartialPeriod", "isSmallDenominator")}
    order = {i.indicator_id: n for n, i in enumerate(domain.indicators())}
    return sorted(table.values(), key=lambda line: (line["month"], order[line["indicatorId"]]))


def calendar_months(days: list[dict]) -> list[dict]:
    """The days as month grids, Monday first: each month a list of weeks of seven cells (None outside it)."""
    by_date = {date.fromisoformat(d["date"]): d for d in days}
    months: list[dict] = []
    for day in sorted(by_date):
        if not months or months[-1]["month"] != f"{day:%Y-%m}":
            months.append({"month": f"{day:%Y-%m}", "weeks": []})
        weeks = months[-1]["weeks"]
        if not weeks or day.weekday() == 0:
            weeks.append([None] * 7)
        weeks[-1][day.weekday()] = {**by_date[day], "dayOfMonth": day.day}
    return months


def status_legend() -> list[dict]:
    return [{"status": key, "zh": zh, "en": en, "meaningZh": mzh, "meaningEn": men}
            for key, (zh, en, mzh, men) in STATUSES.items()]


def newest_first(days: list[dict]) -> list[dict]:
    return sorted(days, key=lambda d: d["date"], reverse=True)


def days_shown(days: list[dict]) -> list[dict]:
    """The days that open to something: every expected day, newest first."""
    return [d for d in newest_first(days) if d["status"] != "not_expected" or d["versions"]]
