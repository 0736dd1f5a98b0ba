"""The rules: what is wrong now, as findings; and what was wrong before but no longer is, resolved.

Each run (vte_monitor, hourly and after each publication):

1. bridges the rows the gate and the publish step wrote in ops.alerts since the last run (vte.alerts.bridge);
2. finds, for the report dates whose D+1 deadline has passed (a report for D is due before D+2 00:00
   Asia/Shanghai, as in int_report_days_summarized) and on which the institution is expected to report
   (neither suspended nor closed: registry.institution_status_periods), the institutions with no report
   (missing_report, at the county), the reports that arrived late (late_report, info), and the
   institutions missing several days in a row (consecutive_missing: ESCALATE_TO_CITY_DAYS days raise it to
   the city, ESCALATE_TO_PROVINCE_DAYS days to the province, critical);
3. finds the regions (county, city, province) whose indicator was below its target in the latest complete
   month of the published marts (below_target);
4. resolves what is no longer true: a missing report that arrived, an institution reporting again, a target
   now met, a stopped gate followed by a successful publication.

Opening an alert whose subject is open already only moves its last_seen (vte.alerts.model).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import psycopg

from vte import domain
from vte.alerts import bridge
from vte.alerts.model import LOCAL_TZ, Finding, raise_alert, resolve_automatically
from vte.alerts.scope import Scope

# Per-day missing and late reports are looked for over the report dates of the last week; older gaps are
# covered by consecutive_missing (and the gate's vanished alert for a whole month).
LOOKBACK_DAYS = 7
# The loader runs every 5 minutes: a report received just before its deadline may not be in raw yet.
INGEST_GRACE = timedelta(minutes=30)
# An institution missing this many due days in a row: the alert goes to its city (warning) ...
ESCALATE_TO_CITY_DAYS = 3
# ... and this many: to the province (critical).
ESCALATE_TO_PROVINCE_DAYS = 7
# A late report is a fact, not a condition: its (info) alert closes itself after this many days.
LATE_REPORT_KEEP_DAYS = 7
# An indicator this many percentage points or more on the wrong side of its target is critical.
BELOW_TARGET_CRITICAL_POINTS = Decimal(10)
REGION_LEVELS = ("county", "city", "province")

_LOCK_ID = 0x5654_4A02  # one detection at a time


@dataclass
class DetectionReport:
    opened: Counter = field(default_factory=Counter)
    bumped: Counter = field(default_factory=Counter)
    resolved: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        return {"opened": dict(self.opened), "bumped": dict(self.bumped), "resolved": dict(self.resolved)}

    def __str__(self) -> str:
        def show(counter: Counter) -> str:
            return ", ".join(f"{kind} {n}" for kind, n in sorted(counter.items())) or "none"
        return f"opened: {show(self.opened)}; seen again: {show(self.bumped)}; resolved: {show(self.resolved)}"


def deadline(report_date: date) -> datetime:
    """A report for ``report_date`` is late from this moment on (D+2 00:00 Asia/Shanghai)."""
    return datetime.combine(report_date + timedelta(days=2), time(0), LOCAL_TZ)


def last_due_date(now: datetime) -> date:
    """The newest report date whose deadline passed (with the loader's grace) at ``now``."""
    return (now - INGEST_GRACE).astimezone(LOCAL_TZ).date() - timedelta(days=2)


def latest_complete_month(now: datetime) -> date:
    """The first day of the newest month whose every report date is past its deadline."""
    first_of_next = (last_due_date(now) + timedelta(days=1)).replace(day=1)
    return (first_of_next - timedelta(days=1)).replace(day=1)


def _record(conn: psycopg.Connection, findings: list[Finding], seen_at: datetime, report: DetectionReport) -> set[str]:
    for finding in findings:
        _, opened = raise_alert(conn, finding, seen_at)
        (report.opened if opened else report.bumped)[finding.kind] += 1
    return {f.subject for f in findings}


def _resolve(conn, rows, now: datetime, report: DetectionReport, kind: str) -> None:
    """Resolve (alert_id, resolution) rows, grouped by resolution."""
    by_resolution: dict[str, list[int]] = {}
    for alert_id, resolution in rows:
        by_resolution.setdefault(resolution, []).append(alert_id)
    for resolution, ids in by_resolution.items():
        report.resolved[kind] += resolve_automatically(conn, ids, resolution, now)


# --- missing and late reports -------------------------------------------------------------------------

def not_expected_on(institution_code: str, day: str) -> str:
    """SQL: the institution is suspended or closed on the report date (vte.lifecycle)."""
    return f"""exists (
      select from registry.institution_status_periods as periods
      where periods.institution_code = {institution_code} and periods.from_date <= {day}
        and (periods.resumed_on is null or {day} < periods.resumed_on))"""


MISSING = f"""
select institutions.institution_code, institutions.county_code, days.day::date as report_date
from registry.institutions
cross join lateral
    generate_series(greatest(institutions.joined_on, %(first)s), %(last)s, interval '1 day') as days (day)
where not {not_expected_on("institutions.institution_code", "days.day::date")}
  and not exists (
      select from raw.submissions
      where submissions.institution_code = institutions.institution_code and submissions.report_date = days.day::date)
order by 1, 3
"""


def missing_reports(conn: psycopg.Connection, scope: Scope, now: datetime) -> list[Finding]:
    last = last_due_date(now)
    first = last - timedelta(days=LOOKBACK_DAYS - 1)
    findings = []
    for code, county, day in conn.execute(MISSING, {"first": first, "last": last}):
        due = deadline(day)
        findings.append(Finding(
            kind="missing_report", level="warning", region_code=county, institution_code=code,
            subject=f"missing_report:{code}:{day.isoformat()}",
            message=(f"{scope.who(code)} {day.isoformat()} 的日报未在截止时间（{due:%Y-%m-%d %H:%M}）前上报"
                     f" / {code}: no report for {day.isoformat()} by its deadline, {due:%Y-%m-%d %H:%M} Asia/Shanghai"),
            details={"report_date": day.isoformat(), "deadline": due.isoformat()}))
    return findings


LATE = f"""
with recent as (
    select distinct institution_code, report_date from raw.submissions where received_at >= %(since)s
)
select submissions.institution_code, submissions.report_date, min(submissions.received_at) as first_received_at
from raw.submissions
inner join recent using (institution_code, report_date)
group by submissions.institution_code, submissions.report_date
having min(submissions.received_at) >= (submissions.report_date + 2)::timestamp at time zone 'Asia/Shanghai'
   and min(submissions.received_at) >= %(since)s
   -- a back-fill of older days is not news: the marts' timeliness keeps it, the alerts do not repeat it
   and submissions.report_date >= %(first_date)s
   -- landed before the institution was suspended or closed from that date on: no longer expected
   and not {not_expected_on("submissions.institution_code", "submissions.report_date")}
order by 1, 2
"""


def late_reports(conn: psycopg.Connection, scope: Scope, now: datetime) -> list[Finding]:
    """Reports for the last LOOKBACK_DAYS due dates whose first version arrived after its deadline."""
    findings = []
    first_date = last_due_date(now) - timedelta(days=LOOKBACK_DAYS - 1)
    for code, day, received in conn.execute(LATE, {"since": now - timedelta(days=LOOKBACK_DAYS),
                                                   "first_date": first_date}):
        county = scope.institution_county(code)
        if county is None:
            continue
        due, received_local = deadline(day), received.astimezone(LOCAL_TZ)
        findings.append(Finding(
            kind="late_report", level="info", region_code=county, institution_code=code,
            subject=f"late_report:{code}:{day.isoformat()}",
            message=(f"{scope.who(code)} {day.isoformat()} 的日报迟报（{received_local:%Y-%m-%d %H:%M} 收到，截止"
                     f" {due:%Y-%m-%d %H:%M}） / {code}: the report for {day.isoformat()} arrived late, at"
                     f" {received_local:%Y-%m-%d %H:%M} (deadline {due:%Y-%m-%d %H:%M} Asia/Shanghai)"),
            details={"report_date": day.isoformat(), "deadline": due.isoformat(),
                     "first_received_at": received.isoformat()}))
    return findings


# A streak starts after the last report, or when the institution last resumed, whichever is later.
STREAKS = f"""
select institutions.institution_code, institutions.county_code,
       greatest(institutions.joined_on, (
           select max(submissions.report_date) + 1 from raw.submissions
           where submissions.institution_code = institutions.institution_code
             and submissions.report_date <= %(last)s), (
           select max(periods.resumed_on) from registry.institution_status_periods as periods
           where periods.institution_code = institutions.institution_code
             and periods.resumed_on <= %(last)s)) as streak_start
from registry.institutions
where institutions.joined_on <= %(last)s
  and not {not_expected_on("institutions.institution_code", "%(last)s::date")}
order by 1
"""


def consecutive_missing(conn: psycopg.Connection, scope: Scope, now: datetime) -> list[Finding]:
    """Institutions whose every due day since streak_start is missing, for ESCALATE_TO_CITY_DAYS or more."""
    last = last_due_date(now)
    findings = []
    for code, county, start in conn.execute(STREAKS, {"last": last}):
        days = (last - start).days + 1
        if days < ESCALATE_TO_CITY_DAYS:
            continue
        to_province = days >= ESCALATE_TO_PROVINCE_DAYS
        region = scope.up(county, "province" if to_province else "city")
        findings.append(Finding(
            kind="consecutive_missing", level="critical" if to_province else "warning", region_code=region,
            institution_code=code, subject=f"consecutive_missing:{code}:{start.isoformat()}",
            message=(f"{scope.who(code)}（{scope.name(county)}）自 {start.isoformat()} 起已连续 {days} 天未上报"
                     f" / {code} in {scope.name(county)} has not reported for {days} days in a row"
                     f" (since {start.isoformat()})"),
            details={"streak_start": start.isoformat(), "last_due_date": last.isoformat(), "days": days,
                     "county_code": county}))
    return findings


RESOLVABLE_MISSING = f"""
select alerts.alert_id,
       case when exists (
                select from raw.submissions
                where submissions.institution_code = alerts.institution_code
                  and submissions.report_date = (alerts.details ->> 'report_date')::date)
            then '已补报 / the report arrived'
            else '机构不再需要上报 / the institution is no longer expected to report' end
from alerts.alerts
left join registry.institutions on institutions.institution_code = alerts.institution_code
where alerts.kind = 'missing_report' and alerts.state <> 'resolved'
  and (exists (
           select from raw.submissions
           where submissions.institution_code = alerts.institution_code
             and submissions.report_date = (alerts.details ->> 'report_date')::date)
       or institutions.institution_code is null
       or institutions.joined_on > (alerts.details ->> 'report_date')::date
       or {not_expected_on("alerts.institution_code", "(alerts.details ->> 'report_date')::date")})
"""


def _open_subjects_not_in(conn, kind: str, found: set[str], resolution: str) -> list[tuple[int, str]]:
    return [(alert_id, resolution) for alert_id, subject in conn.execute(
        "select alert_id, subject from alerts.alerts where kind = %s and state <> 'resolved'", (kind,))
        if subject not in found]


# --- indicators below target ---------------------------------------------------------------------------

BELOW_TARGET = """
select level, entity_code, indicator_id, rate, target, numerator, denominator
from marts.fct_indicator_values
where period_type = 'month' and period_start = %(month)s and level = any(%(levels)s) and meets_target = false
order by level, entity_code, indicator_id
"""

RESOLVABLE_BELOW_TARGET = """
select alerts.alert_id, '已达标或不再适用 / the indicator meets its target now (or has no value)'
from alerts.alerts
where alerts.kind = 'below_target' and alerts.state <> 'resolved'
  and not exists (
      select from marts.fct_indicator_values as v
      where v.period_type = 'month' and v.period_start = (alerts.details ->> 'month')::date
        and v.level = alerts.details ->> 'level' and v.entity_code = alerts.region_code
        and v.indicator_id = alerts.details ->> 'indicator_id' and v.meets_target = false)
"""


def marts_published(conn: psycopg.Connection) -> bool:
    return conn.execute("select to_regclass('marts.fct_indicator_values') is not null").fetchone()[0]


def below_target(conn: psycopg.Connection, scope: Scope, now: datetime) -> list[Finding]:
    """One finding per region × indicator of the latest complete month whose published value misses its target."""
    if not marts_published(conn):
        return []
    month = latest_complete_month(now)
    indicators = {i.indicator_id: i for i in domain.indicators()}
    findings = []
    for level, region, indicator_id, rate, target, numerator, denominator in conn.execute(
            BELOW_TARGET, {"month": month, "levels": list(REGION_LEVELS)}):
        if region not in scope.regions:
            continue
        indicator = indicators.get(indicator_id)
        higher_is_better = indicator.higher_is_better if indicator else True
        gap = (target - rate) if higher_is_better is not False else (rate - target)
        side_zh, side_en = ("低于", "below") if higher_is_better is not False else ("高于", "above")
        name_zh = indicator.name_zh if indicator else indicator_id
        name_en = indicator.name_en if indicator else indicator_id
        rate_shown, target_shown = f"{rate.normalize():f}", f"{target.normalize():f}"
        findings.append(Finding(
            kind="below_target", level="critical" if gap >= BELOW_TARGET_CRITICAL_POINTS else "warning",
            region_code=region, subject=f"below_target:{region}:{indicator_id}:{month:%Y-%m}",
            message=(f"{scope.name(region)} {month:%Y年%m月} {indicator_id} {name_zh} {rate_shown}%，{side_zh}目标"
                     f" {target_shown}% / {scope.name(region)} {month:%Y-%m}: {indicator_id} {name_en} {rate_shown}%"
                     f" is {side_en} its target of {target_shown}%"),
            details={"level": level, "indicator_id": indicator_id, "month": month.isoformat(),
                     "rate": str(rate), "target": str(target), "numerator": int(numerator),
                     "denominator": int(denominator), "gap_points": str(gap)}))
    return findings


# --- the run -------------------------------------------------------------------------------------------

def run(conn: psycopg.Connection, now: datetime | None = None) -> DetectionReport:
    """Detect, open or bump, resolve; ``conn`` as vte_monitor in autocommit mode."""
    now = now or datetime.now(timezone.utc)
    report = DetectionReport()
    conn.execute("select pg_advisory_lock(%s)", (_LOCK_ID,))
    try:
        scope = Scope.read(conn)
        bridge.bridge_new_rows(conn, scope, report)

        _record(conn, missing_reports(conn, scope, now), now, report)
        _resolve(conn, conn.execute(RESOLVABLE_MISSING).fetchall(), now, report, "missing_report")

        _record(conn, late_reports(conn, scope, now), now, report)
        expired = conn.execute(
            "select alert_id, '迟报提示已过期 / a late report is news for ' || %s || ' days' from alerts.alerts"
            " where kind = 'late_report' and state <> 'resolved' and first_seen < %s",
            (str(LATE_REPORT_KEEP_DAYS), now - timedelta(days=LATE_REPORT_KEEP_DAYS))).fetchall()
        _resolve(conn, expired, now, report, "late_report")

        streaks = _record(conn, consecutive_missing(conn, scope, now), now, report)
        _resolve(conn, _open_subjects_not_in(conn, "consecutive_missing", streaks,
                                             "已恢复上报 / the institution reported again (or is no longer expected to)"),
                 now, report, "consecutive_missing")

        _record(conn, below_target(conn, scope, now), now, report)
        if marts_published(conn):
            _resolve(conn, conn.execute(RESOLVABLE_BELOW_TARGET).fetchall(), now, report, "below_target")

        bridge.resolve_what_passed(conn, now, report)
    finally:
        conn.execute("select pg_advisory_unlock(%s)", (_LOCK_ID,))
    return report
