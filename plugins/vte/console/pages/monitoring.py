"""Collection monitoring: each institution's status for a day or a month, drilled down from the user's region
to one institution's submissions and refusals; charts of the last 90 days and of completeness by division."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from vte.console import charts, web
from vte.console.queries import monitoring, regions
from vte.console.queries.monitoring import InstitutionSummary
from vte.console.sessions import SignedIn
from vte.console.web import Refused
from vte.intake.responses import ResultCode
from vte.review.approval import month_end
from vte.review.locks import local_today

router = APIRouter()

CHART_DAYS = 90
STATUS_NAMES = {
    "on_time": ("按时", "on time"), "late": ("迟报", "late"), "missing": ("未上报", "missing"),
    "refused": ("被拒收", "refused"), "pending": ("待上报", "not yet due"),
    "not_expected": ("无应报日", "none expected"),
    "held_out": ("有暂不发布的数据", "rows held out"),
}
FILTERS = ("refused", "missing", "late", "held_out", "pending", "on_time")


@dataclass(frozen=True)
class Division:
    """A division right under the region shown, with its institutions' days counted."""
    code: str
    name: str
    institutions: int
    days_expected: int
    on_time: int
    late: int
    missing: int
    refused: int
    pending: int
    days_held_out: int

    @property
    def received(self) -> int:
        return self.on_time + self.late

    @property
    def completeness(self) -> float | None:
        return 100 * self.received / self.days_expected if self.days_expected else None


def _divisions(summaries: list[InstitutionSummary], names: dict[str, str]) -> list[Division]:
    found: dict[str, list[InstitutionSummary]] = {}
    for summary in summaries:
        found.setdefault(summary.child_code, []).append(summary)
    return [Division(code, names.get(code, code), len(items),
                     *(sum(getattr(s, f) for s in items) for f in
                       ("days_expected", "on_time", "late", "missing", "refused", "pending", "days_held_out")))
            for code, items in sorted(found.items())]


def _daily_bars(found: list[monitoring.Day], end: date) -> list[charts.DailyBar]:
    """One bar a day for the whole window, days before anyone was expected included (as zero)."""
    by_day = {d.report_date: d for d in found}
    bars = []
    for offset in range(CHART_DAYS - 1, -1, -1):
        day = end - timedelta(days=offset)
        d = by_day.get(day)
        bars.append(charts.DailyBar(day, d.expected, d.on_time, d.received - d.on_time) if d else
                    charts.DailyBar(day, 0, 0, 0))
    return bars


def _matches(summary: InstitutionSummary, wanted: str | None) -> bool:
    if not wanted:
        return True
    return summary.days_held_out > 0 if wanted == "held_out" else getattr(summary, wanted) > 0


def _scoped_region(request: Request, conn, user: SignedIn, code: str | None) -> regions.Region:
    code = code or user.user.region_code
    if not regions.is_inside(conn, code, user.user.region_code):
        raise web.forbid(request, user, "查看该地区", code)
    return regions.get(conn, code)


@router.get("/")
def home(user: SignedIn = Depends(web.signed_in)) -> Response:
    return RedirectResponse("/monitoring", status_code=303)


@router.get("/monitoring")
def monitoring_page(request: Request, day: str | None = None, month: str | None = None, region: str | None = None,
                    status: str | None = None, user: SignedIn = Depends(web.signed_in)) -> Response:
    if status and status not in FILTERS:
        raise Refused(400, f"状态 {status!r} 不存在 / unknown status {status!r}: one of {', '.join(FILTERS)}")
    today = local_today()
    if month:
        start = web.parse_month(month, web.previous_month())
        end = min(month_end(start), today)
        if end < start:
            raise Refused(400, f"{start:%Y-%m} 尚未开始 / {start:%Y-%m} has not begun")
    else:
        start = end = web.parse_day(day, web.yesterday())
    with web.connection(request) as conn:
        shown = _scoped_region(request, conn, user, region)
        summaries = monitoring.institution_summaries(conn, shown.code, start, end)
        chart_end = min(end, today)
        chart_days = monitoring.days(conn, shown.code, chart_end - timedelta(days=CHART_DAYS - 1), chart_end)
        child_names = regions.names(conn, {s.child_code for s in summaries})
        trail = regions.trail(conn, user.user.region_code, shown.code)
    divisions = _divisions(summaries, child_names) if shown.level != "county" else []
    rows = sorted((s for s in summaries if _matches(s, status)),
                  key=lambda s: ([*monitoring.STATUSES, "not_expected"].index(s.status), s.institution_code))
    totals = {name: sum(getattr(s, name) for s in summaries) for name in (*monitoring.STATUSES, "days_held_out")}
    received_chart = charts.daily_collection(
        "chart-daily", f"近 {CHART_DAYS} 天每日上报机构数 / Institutions reporting each day, last {CHART_DAYS} days",
        _daily_bars(chart_days, chart_end))
    completeness_chart = charts.horizontal_bars(
        "chart-completeness", "各地区上报完整率 / Completeness by division",
        [charts.Bar(d.name, d.completeness, f"{d.received}/{d.days_expected}") for d in divisions])
    return web.render(request, "monitoring.html", {
        "page": "monitoring", "region": shown, "trail": trail, "mode": "month" if month else "day",
        "start": start, "end": end, "day": start, "month": start.replace(day=1), "status": status,
        "rows": rows, "divisions": divisions, "totals": totals, "count": len(summaries),
        "status_names": STATUS_NAMES, "filters": FILTERS, "received_chart": received_chart,
        "completeness_chart": completeness_chart if divisions else None, "chart_days": chart_days,
    }, user=user)


@router.get("/monitoring/institutions/{code}")
def institution_page(request: Request, code: str, month: str | None = None,
                     user: SignedIn = Depends(web.signed_in)) -> Response:
    start = web.parse_month(month, web.yesterday().replace(day=1))
    end = month_end(start)
    with web.connection(request) as conn:
        found = regions.institution(conn, code, user.user.region_code)
        if found is None:
            raise Refused(404, f"您的地区内没有机构 {code} / No institution {code} in your region")
        days = monitoring.institution_days(conn, user.user.region_code, code, start, min(end, local_today()))
        versions = monitoring.versions(conn, code, start, end)
        refusals = monitoring.refusals(conn, code, start, end)
        held_out = monitoring.held_out_rows(conn, code, start, end)
        departments = monitoring.department_months(conn, code, start)
        trail = regions.trail(conn, user.user.region_code, found.county_code)
    return web.render(request, "institution.html", {
        "page": "monitoring", "institution": found, "trail": trail, "month": start, "days": days,
        "versions": versions, "refusals": refusals, "held_out": held_out, "status_names": STATUS_NAMES,
        "departments": departments, "missing_departments": _missing_by_day(departments),
        "has_roster": any(d.has_roster for d in departments),
        "previous_month": (start - timedelta(days=1)).replace(day=1), "next_month": end + timedelta(days=1),
        "messages": {r.code: _message(r.code) for r in refusals},
    }, user=user)


def _missing_by_day(departments: list[monitoring.DepartmentMonth]) -> dict[date, list[str]]:
    """The departments each day lacks, for the calendar ("campus/department")."""
    missing: dict[date, list[str]] = {}
    for d in departments:
        for day in d.missing_dates:
            missing.setdefault(day, []).append(f"{d.campus}/{d.department_code}")
    return missing


def _message(code: int | None) -> str:
    try:
        return ResultCode(code).message
    except ValueError:
        return f"代码 {code} / code {code}"
