"""Per-institution feedback reports, written after each publication (HQMS calls it the docking feedback report).

Each report tells one institution what the platform made of its data: its refused requests, the rows held
out of the indicators (quarantined) and the rows published with warnings, each with the broken rules in
words and the values they compare (an outlier with its usual range and the history it was compared with),
its late and missing report dates and missing departments (a department's stated zero is reported, its
absence missing), every report date of the last three months with its versions, and its
monthly indicators beside its county's and province's. The hospital's own report (vte.reports) is assembled
from it. Reports are files under ``$VTE_HOME/feedback/<institution>/``
(JSON for machines, HTML for people), so the intake service can hand them out without the warehouse.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import psycopg
from jinja2 import Environment, PackageLoader, select_autoescape

from vte import domain, warehouse
from vte.access import roles
from vte.config import Settings, get_settings
from vte.publication.suites import PLAUSIBLE_MAX_COUNT as PLAUSIBLE_MAX
from vte.landing import write_durably

WINDOW_DAYS = 31  # refused requests and warnings of this many days back; quarantined rows until corrected
MONTHS_OF_COMPLETENESS = 3
MONTHS_OF_DAYS = 3  # the calendar of report days: this month and the two before
LOCAL_TZ = timezone(timedelta(hours=8))  # report dates are Asia/Shanghai days

_templates = Environment(loader=PackageLoader("vte", "templates"), autoescape=select_autoescape())


@dataclass(frozen=True)
class FeedbackFiles:
    json_path: Path
    html_path: Path


def _rule_words(rule_ids: list[str] | None) -> list[dict]:
    by_id = {r.rule_id: r for r in domain.rules()}
    return [{"ruleId": rid, "severity": by_id[rid].severity, "zh": by_id[rid].describe_zh(),
             "en": by_id[rid].describe_en()} for rid in (rule_ids or []) if rid in by_id]


def _implausible_words(fields: list[str] | None, plausible_max: int) -> list[dict]:
    return [{"ruleId": f"P.{name}", "severity": "quarantine",
             "zh": f"{name} 超过单个科室单日的合理上限 {plausible_max}（多为系统对接错误）",
             "en": f"{name} exceeds {plausible_max}, the plausible most for one department in one day"
                   " (usually an interface fault)"} for name in (fields or [])]


def _outlier_words(outliers: list[dict] | None) -> list[dict]:
    """Each count outside its usual range against the department's own history: the value, the range and the
    history it was compared with (the outlier_rules seed)."""
    words = []
    for o in outliers or []:
        held = o["severity"] == "held_out"
        confirmed = bool(o.get("confirmed"))  # outliers judged before confirmations existed have no mark
        days_zh = "同一星期几" if o["sameWeekday"] else ""
        days_en = "same-weekday " if o["sameWeekday"] else ""
        words.append({
            "ruleId": f"O.{o['field']}", "severity": "quarantine" if held else "warning",
            "field": o["field"], "value": o["value"], "usualLow": o["usualLow"], "usualHigh": o["usualHigh"],
            "median": o["median"], "historyDays": o["historyDays"], "windowDays": o["windowDays"],
            "confirmed": confirmed,
            "zh": f"{o['field']} 为 {o['value']}，超出本科室常见范围 {o['usualLow']}–{o['usualHigh']}"
                  f"（前 {o['windowDays']} 天中已上报的 {o['historyDays']} 个{days_zh}日的中位数 {o['median']}）"
                  + ("，远超历史，暂不计入指标；如属实请联系数据中心确认" if held else "")
                  + ("，数据中心已确认属实，计入指标" if confirmed else ""),
            "en": f"{o['field']} {o['value']} is outside its usual range {o['usualLow']}-{o['usualHigh']}"
                  f" (median {o['median']} over the {o['historyDays']} {days_en}days reported in the previous"
                  f" {o['windowDays']})"
                  + ("; far above its history, held out of the indicators: if it is true, ask the data centre to"
                     " confirm it" if held else "")
                  + ("; confirmed as real by the data centre, counted" if confirmed else ""),
        })
    return words


def _values(row: dict) -> dict[str, int]:
    """The counts of a held-out or flagged row that its broken rules compare, by the standard's field names."""
    ids = set(row.get("quarantine_rule_ids") or []) | set(row.get("warning_rule_ids") or [])
    names = {name for rule in domain.rules() if rule.rule_id in ids for name in (rule.lesser, rule.greater)}
    names |= set(row.get("implausible_fields") or [])
    names |= {o["field"] for o in row.get("outliers") or []}
    return {f.name: row[f.column] for f in domain.count_fields() if f.name in names and f.column in row}


def _first_of_month(day: date, months_back: int = 0) -> date:
    month = day.year * 12 + day.month - 1 - months_back
    return date(month // 12, month % 12 + 1, 1)


def _report_days(conn: psycopg.Connection, code: str, as_of: date) -> list[dict]:
    """Every report date of the last months up to ``as_of`` with its versions, and whether it was on time, late
    or missing: missing as the published completeness says (it knows the expected days); late as it decides,
    when the first version arrived after the end of the next day (Asia/Shanghai); pending until that end."""
    start = _first_of_month(as_of, MONTHS_OF_DAYS - 1)
    versions = _rows(conn, """
        select report_date, version, submission_id::text as submission_id, channel, received_at, row_count
        from raw.submissions where institution_code = %s and report_date between %s and %s
        order by report_date, version""", (code, start, as_of))
    missing = {d for (dates,) in conn.execute("""
        select missing_dates from marts.fct_reporting_completeness
        where level = 'institution' and entity_code = %s and period_type = 'month' and period_start >= %s""",
        (code, start)) for d in (dates or [])}
    by_date: dict[date, list[dict]] = {}
    for v in versions:
        by_date.setdefault(v["report_date"], []).append(v)
    days = []
    for offset in range((as_of - start).days + 1):
        day = start + timedelta(days=offset)
        received = by_date.get(day, [])
        if received:
            due = datetime.combine(day + timedelta(days=2), datetime.min.time(), LOCAL_TZ)
            status = "late" if received[0]["received_at"] >= due else "on_time"
        elif as_of < day + timedelta(days=2):
            status = "pending"  # D+1 has not ended
        else:
            status = "missing" if day in missing else "not_expected"
        days.append({"date": day.isoformat(), "status": status, "versions": [
            {"version": v["version"], "submissionId": v["submission_id"], "channel": v["channel"],
             "receivedAt": v["received_at"].isoformat(), "rowCount": v["row_count"]} for v in received]})
    return days


def _departments(conn: psycopg.Connection, code: str, as_of: date, missing_days: set[date]) -> dict:
    """The institution's departments over the last months (fct_department_completeness): per month, what each
    sent and, with a roster, what it was expected to; and each department missing from a day that did arrive
    (absent from its newest version: missing, never read as zero) and each stated zero (reported). A day that
    never arrived is listed once, as a missing date, not per department."""
    rows = _rows(conn, """
        select period_start, campus, department_code, department_name, has_roster, days_expected, days_reported,
               days_reported_zero, days_missing, missing_dates, reported_zero_dates
        from marts.fct_department_completeness
        where institution_code = %s and period_type = 'month' and period_start >= %s
        order by period_start desc, campus, department_code""",
        (code, _first_of_month(as_of, MONTHS_OF_COMPLETENESS - 1)))

    def named(r: dict, day: date) -> dict:
        return {"reportDate": day.isoformat(), "hospital": r["campus"], "dept": r["department_code"],
                "name": r["department_name"] or r["department_code"]}
    return {
        "departments": [
            {"month": f"{r['period_start']:%Y-%m}", "hospital": r["campus"], "dept": r["department_code"],
             "name": r["department_name"], "hasRoster": r["has_roster"], "daysExpected": r["days_expected"],
             "daysReported": r["days_reported"], "daysReportedZero": r["days_reported_zero"],
             "daysMissing": r["days_missing"], "missingDates": [_iso(d) for d in r["missing_dates"]],
             "reportedZeroDates": [_iso(d) for d in r["reported_zero_dates"]]} for r in rows],
        "missingDepartments": sorted((named(r, d) for r in rows for d in r["missing_dates"] if d not in missing_days),
                                     key=lambda i: (i["reportDate"], i["hospital"], i["dept"])),
        "reportedZeroDepartments": sorted((named(r, d) for r in rows for d in r["reported_zero_dates"]),
                                          key=lambda i: (i["reportDate"], i["hospital"], i["dept"])),
    }


def _indicators(conn: psycopg.Connection, institution: dict, as_of: date) -> list[dict]:
    """The institution's published monthly indicators, its county's and its province's, for the last complete
    month and the current one (as of ``as_of``)."""
    months = (_first_of_month(as_of, 1), _first_of_month(as_of))
    rows = _rows(conn, """
        select level, period_start, indicator_id, numerator, denominator, rate, target, meets_target,
               is_partial_period, is_small_denominator
        from marts.fct_indicator_values
        where period_type = 'month' and period_start = any(%s)
            and ((level = 'institution' and entity_code = %s) or (level = 'county' and entity_code = %s)
                 or (level = 'province' and entity_code = %s))
        order by period_start, indicator_id, level""",
        (list(months), institution["institution_code"], institution.get("county_code"),
         institution.get("province_code")))
    return [{"month": f"{r['period_start']:%Y-%m}", "level": r["level"], "indicatorId": r["indicator_id"],
             "numerator": _number(r["numerator"]), "denominator": _number(r["denominator"]),
             "rate": _number(r["rate"]), "target": _number(r["target"]),
             "meetsTarget": r["meets_target"], "isPartialPeriod": r["is_partial_period"],
             "isSmallDenominator": r["is_small_denominator"]} for r in rows]


def _number(value) -> int | float | None:
    """A numeric of the marts as JSON has it: sums as integers, rates as floats."""
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() and value.as_tuple().exponent >= 0 else float(value)


def _rows(conn: psycopg.Connection, query: str, params) -> list[dict]:
    cur = conn.execute(query, params)
    names = [c.name for c in cur.description]
    return [dict(zip(names, row)) for row in cur]


def build_report(conn: psycopg.Connection, institution: dict, publication_id: int, as_of: date) -> dict:
    code = institution["institution_code"]
    since = as_of - timedelta(days=WINDOW_DAYS)
    refused = _rows(conn, """
        select requested_at, report_date, endpoint, code, http_status, problem_count
        from ops.intake_requests
        where institution_code = %s and outcome = 'refused' and requested_at >= %s
        order by requested_at desc""", (code, since))
    quarantined = _rows(conn, """
        select * from marts.fct_quarantined_rows where institution_code = %s
        order by report_date, hospital, department""", (code,))
    warnings = _rows(conn, """
        select * from marts.fct_warning_rows where institution_code = %s and report_date >= %s
        order by report_date, hospital, department""", (code, since))
    completeness = _rows(conn, """
        select period_start, days_expected, days_received, days_missing, days_late, missing_dates
        from marts.fct_reporting_completeness
        where level = 'institution' and entity_code = %s and period_type = 'month'
        order by period_start desc limit %s""", (code, MONTHS_OF_COMPLETENESS))
    return {
        "institutionCode": code,
        "institutionName": institution["institution_name"],
        "county": {"code": institution.get("county_code"), "name": institution.get("county_name")},
        "province": {"code": institution.get("province_code"), "name": institution.get("province_name")},
        "publicationId": publication_id,
        "asOf": as_of.isoformat(),
        "generatedAt": datetime.now(timezone.utc).isoformat(),
        "refusedRequests": [
            {"requestedAt": r["requested_at"].isoformat(), "reportDate": _iso(r["report_date"]),
             "endpoint": r["endpoint"], "code": r["code"], "httpStatus": r["http_status"],
             "problemCount": r["problem_count"]} for r in refused],
        "quarantinedRows": [
            {"reportDate": _iso(r["report_date"]), "hospital": r["hospital"], "dept": r["department"],
             "version": r["version"], "values": _values(r),
             "rules": _rule_words(r["quarantine_rule_ids"]) + _implausible_words(r["implausible_fields"], PLAUSIBLE_MAX)
             + _rule_words(r["warning_rule_ids"]) + _outlier_words(r.get("outliers"))}
            for r in quarantined],
        "warningRows": [
            {"reportDate": _iso(r["report_date"]), "hospital": r["hospital"], "dept": r["department"],
             "version": r["version"], "values": _values(r),
             "rules": _rule_words(r["warning_rule_ids"]) + _outlier_words(r.get("outliers"))}
            for r in warnings],
        "reporting": [
            {"month": _iso(r["period_start"])[:7], "daysExpected": r["days_expected"],
             "daysReceived": r["days_received"], "daysMissing": r["days_missing"], "daysLate": r["days_late"],
             "missingDates": [_iso(d) for d in (r["missing_dates"] or [])]} for r in completeness],
        "days": _report_days(conn, code, as_of),
        **_departments(conn, code, as_of, {d for r in completeness for d in (r["missing_dates"] or [])}),
        "indicators": _indicators(conn, institution, as_of),
    }


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def report_dir(settings: Settings, institution_code: str) -> Path:
    return settings.home / "feedback" / institution_code


def write_report(report: dict, settings: Settings) -> FeedbackFiles:
    directory = report_dir(settings, report["institutionCode"])
    directory.mkdir(parents=True, exist_ok=True)
    json_path, html_path = directory / "latest.json", directory / "latest.html"
    write_durably(json_path, json.dumps(report, ensure_ascii=False, indent=1).encode())
    write_durably(html_path, _templates.get_template("feedback.html").render(report=report).encode())
    return FeedbackFiles(json_path, html_path)


def write_all(publication_id: int, settings: Settings | None = None, as_of: date | None = None) -> int:
    """Write every registered institution's report for a publication; returns how many were written."""
    settings = settings or get_settings()
    as_of = as_of or datetime.now(timezone(timedelta(hours=8))).date()
    with warehouse.connect(settings, role=roles.PUBLISHER) as conn:
        institutions = _rows(conn, "select institution_code, institution_name, county_code, county_name,"
                                   " province_code, province_name from marts.dim_institutions"
                                   " order by institution_code", ())
        for institution in institutions:
            write_report(build_report(conn, institution, publication_id, as_of), settings)
    return len(institutions)


def latest_report(institution_code: str, settings: Settings | None = None) -> dict | None:
    path = report_dir(settings or get_settings(), institution_code) / "latest.json"
    return json.loads(path.read_text()) if path.exists() else None


def for_report_date(report: dict, report_date: str) -> dict:
    """The part of a report that concerns one report date."""
    same = [key for key in ("quarantinedRows", "warningRows", "refusedRequests", "missingDepartments",
                            "reportedZeroDepartments") if key in report]
    narrowed = {**report, **{k: [item for item in report[k] if item.get("reportDate") == report_date] for k in same}}
    narrowed["reporting"] = [m for m in report["reporting"] if report_date.startswith(m["month"])]
    narrowed["departments"] = [m for m in report.get("departments", []) if report_date.startswith(m["month"])]
    narrowed["reportDate"] = report_date
    return narrowed
