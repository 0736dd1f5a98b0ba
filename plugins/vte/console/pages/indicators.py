"""Indicators: a region's 18 + 5 indicators in a period against target and the same period last year, one
indicator's monthly trend with its target line, its days in the period's last month, and the region's
institutions compared on it."""

from __future__ import annotations

from datetime import date, timedelta

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from vte import domain
from vte.console import charts, web
from vte.console.queries import indicators, regions
from vte.console.sessions import SignedIn
from vte.console.web import Refused
from vte.extracts.periods import PeriodError, parse_period, trailing_months
from vte.publication.publish import current_publication

router = APIRouter()

TREND_MONTHS = 13  # a year and the month a year before, to see the same period
# Where an institution lies against the region's funnel limits (marts.fct_institution_funnel).
FUNNEL_NAMES = {"above_998": "高于99.8%控制限 above the 99.8% limit", "above_95": "高于95%控制限 above the 95% limit",
                "within": "控制限内 within the limits", "below_95": "低于95%控制限 below the 95% limit",
                "below_998": "低于99.8%控制限 below the 99.8% limit"}
FUNNEL_MARKS = {"above_998": " ▲▲", "above_95": " ▲", "below_95": " ▼", "below_998": " ▼▼"}


def _year_before(month: date) -> date:
    return month.replace(year=month.year - 1)


@router.get("/indicators")
def indicators_page(request: Request, region: str | None = None, period: str | None = None,
                    indicator: str = "B.1.1", user: SignedIn = Depends(web.signed_in)) -> Response:
    try:
        chosen = parse_period(period or f"{web.previous_month():%Y-%m}")
    except PeriodError:
        raise Refused(400, f"期间 {period!r} 应为 2026-03、2026Q1 或 2026 / the period {period!r} is not a month"
                           " (2026-03), a quarter (2026Q1) or a year (2026)") from None
    definitions = {i.indicator_id: i for i in domain.indicators()}
    if indicator not in definitions:
        raise Refused(400, f"指标 {indicator!r} 不存在 / unknown indicator {indicator!r}: B.1.1 … B.3.9, S.1 … S.5")
    code = region or user.user.region_code
    with web.connection(request) as conn:
        if not regions.is_inside(conn, code, user.user.region_code):
            raise web.forbid(request, user, "查看该地区", code)
        shown = regions.get(conn, code)
        trail = regions.trail(conn, user.user.region_code, shown.code)
        published = indicators.is_published(conn)
        publication = current_publication(conn) if published else None
        values, trend, last_year, compared, days = {}, [], [], [], []
        months = trailing_months(chosen.end, TREND_MONTHS)
        # the days of the month shown, or of a quarter's or year's last month
        day_month = chosen.end.replace(day=1)
        calendar = [day_month + timedelta(days=n) for n in range((chosen.end - day_month).days + 1)]
        if published:
            values = indicators.region_values(conn, shown.level, shown.code, chosen)
            trend = indicators.monthly_rates(conn, shown.level, shown.code, indicator, months)
            last_year = indicators.monthly_rates(conn, shown.level, shown.code, indicator,
                                                 [_year_before(m) for m in months])
            compared = indicators.institutions_compared(conn, shown.level, shown.code, indicator, chosen)
            days = indicators.daily_rates(conn, shown.level, shown.code, indicator, day_month, chosen.end)
        divisions = regions.divisions(conn, shown.code)
    selected = definitions[indicator]
    target = charts.percent(selected.target_rate)
    rates = {m.period_start: charts.percent(m.rate) for m in trend}
    earlier = {m.period_start: charts.percent(m.rate) for m in last_year}
    trend_chart = charts.line_chart(
        "chart-trend", f"{selected.indicator_id} {selected.name_zh} 月度趋势 / monthly trend",
        [charts.Point(f"{m:%Y-%m}", rates.get(m)) for m in months], target=target,
        comparison=[charts.Point(f"{m:%Y-%m}", earlier.get(_year_before(m))) for m in months])
    day_rates = {d.report_date: d for d in days}
    daily_chart = charts.line_chart(
        "chart-daily", f"{selected.indicator_id} {selected.name_zh} {day_month:%Y-%m} 日趋势 / daily",
        [charts.Point(f"{d:%m-%d}", charts.percent(day_rates[d].rate) if d in day_rates else None)
         for d in calendar], target=target)
    comparison_chart = charts.horizontal_bars(
        "chart-institutions", f"{selected.indicator_id} 机构比较 / institutions compared",
        [charts.Bar(v.entity_name or v.entity_code, charts.percent(v.rate),
                    f"{v.numerator}/{v.denominator}{FUNNEL_MARKS.get(v.funnel_flag, '')}",
                    "bar-unreliable" if v.is_small_denominator else "bar") for v in compared],
        target=target)
    return web.render(request, "indicators.html", {
        "page": "indicators", "region": shown, "trail": trail, "period": chosen, "indicator": selected,
        "definitions": list(definitions.values()), "values": values, "published": published,
        "publication": publication, "trend_chart": trend_chart, "comparison_chart": comparison_chart,
        "compared": compared, "divisions": divisions, "months": months, "rates": rates, "earlier": earlier,
        "partial_months": {m.period_start for m in trend if m.is_partial_period}, "funnel_names": FUNNEL_NAMES,
        "funnel_marks": FUNNEL_MARKS, "daily_chart": daily_chart, "day_month": day_month, "calendar": calendar,
        "day_rates": day_rates,
    }, user=user)

