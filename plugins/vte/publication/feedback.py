"""Per-institution feedback reports, written after each publication (HQMS calls it the docking feedback report).

Each report tells one institution what the platform made of its data: its refused requests, the rows held
out of the indicators (quarantined) and the rows published with warnings, each with the broken rules in
words, and its late and missing report dates. Reports are files under ``$VTE_HOME/feedback/<institution>/``
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
        select report_date, hospital, department, version, quarantine_rule_ids, implausible_fields, warning_rule_ids
        from marts.fct_quarantined_rows where institution_code = %s
        order by report_date, hospital, department""", (code,))
    warnings = _rows(conn, """
        select report_date, hospital, department, version, warning_rule_ids
        from marts.fct_warning_rows where institution_code = %s and report_date >= %s
        order by report_date, hospital, department""", (code, since))
    completeness = _rows(conn, """
        select period_start, days_expected, days_received, days_missing, days_late, missing_dates
        from marts.fct_reporting_completeness
        where level = 'institution' and entity_code = %s and period_type = 'month'
        order by period_start desc limit %s""", (code, MONTHS_OF_COMPLETENESS))
    return {
        "institutionCode": code,
        "institutionName": institution["institution_name"],
        "publicationId": publication_id,
        "asOf": as_of.isoformat(),
        "generatedAt": datetime.now(timezone.utc).isoformat(),
        "refusedRequests": [
            {"requestedAt": r["requested_at"].isoformat(), "reportDate": _iso(r["report_date"]),
             "endpoint": r["endpoint"], "code": r["code"], "httpStatus": r["http_status"],
             "problemCount": r["problem_count"]} for r in refused],
        "quarantinedRows": [
            {"reportDate": _iso(r["report_date"]), "hospital": r["hospital"], "dept": r["department"],
             "version": r["version"],
             "rules": _rule_words(r["quarantine_rule_ids"]) + _implausible_words(r["implausible_fields"], PLAUSIBLE_MAX)
             + _rule_words(r["warning_rule_ids"])}
            for r in quarantined],
        "warningRows": [
            {"reportDate": _iso(r["report_date"]), "hospital": r["hospital"], "dept": r["department"],
             "version": r["version"], "rules": _rule_words(r["warning_rule_ids"])} for r in warnings],
        "reporting": [
            {"month": _iso(r["period_start"])[:7], "daysExpected": r["days_expected"],
             "daysReceived": r["days_received"], "daysMissing": r["days_missing"], "daysLate": r["days_late"],
             "missingDates": [_iso(d) for d in (r["missing_dates"] or [])]} for r in completeness],
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
        institutions = _rows(conn, "select institution_code, institution_name from marts.dim_institutions"
                                   " order by institution_code", ())
        for institution in institutions:
            write_report(build_report(conn, institution, publication_id, as_of), settings)
    return len(institutions)


def latest_report(institution_code: str, settings: Settings | None = None) -> dict | None:
    path = report_dir(settings or get_settings(), institution_code) / "latest.json"
    return json.loads(path.read_text()) if path.exists() else None


def for_report_date(report: dict, report_date: str) -> dict:
    """The part of a report that concerns one report date."""
    same = [key for key in ("quarantinedRows", "warningRows", "refusedRequests")]
    narrowed = {**report, **{k: [item for item in report[k] if item.get("reportDate") == report_date] for k in same}}
    narrowed["reporting"] = [m for m in report["reporting"] if report_date.startswith(m["month"])]
    narrowed["reportDate"] = report_date
    return narrowed
