"""The gate's and the publish step's rows of ops.alerts, turned into alerts.

vte.publication writes a row in ops.alerts when a gate stops a run (stage ``staged`` or ``marts``), when a
run holds rows of institutions out of the indicators (``held_out``), and when institutions are missing from
a complete month they were expected to report in (``vanished``). Each run of the monitor reads the rows newer
than the last one it bridged (alerts.bridged; ids are looked at from OVERLAP_IDS below it, so a row whose
transaction committed after a newer one is not skipped) and opens or bumps:

- gate_stopped (critical, the province), one subject per stage; resolved by a later successful publication;
- held_out (warning, the institution's county), one per institution; resolved when a publication after it
  holds none of the institution's rows;
- vanished (warning, the county), one per institution and month; resolved when a report of that month arrives.
"""

from __future__ import annotations

from datetime import date, datetime

import psycopg

from vte.alerts.model import Finding, raise_alert, resolve_automatically
from vte.alerts.scope import Scope

OVERLAP_IDS = 1000
SHOWN_FAILURES = 20  # a stopped gate's alert keeps this many of its failed checks in details

NEW_ROWS = """
select gate_alerts.alert_id, gate_alerts.raised_at, gate_alerts.run_id, gate_alerts.stage, gate_alerts.message,
       gate_alerts.failures
from ops.alerts as gate_alerts
where gate_alerts.alert_id > (select coalesce(max(ops_alert_id), 0) from alerts.bridged) - %(overlap)s
  and not exists (select from alerts.bridged where bridged.ops_alert_id = gate_alerts.alert_id)
order by gate_alerts.alert_id
"""


def findings_of(scope: Scope, ops_alert_id: int, run_id: str, stage: str, message: str,
                failures: list) -> list[Finding]:
    """The alerts one row of ops.alerts stands for."""
    if stage == "held_out":
        return [_held_out(scope, ops_alert_id, run_id, f) for f in failures
                if scope.institution_county(f.get("institution_code", ""))]
    if stage == "vanished":
        return [_vanished(scope, ops_alert_id, run_id, f) for f in failures
                if scope.institution_county(f.get("institution_code", ""))]
    province = scope.province()
    if province is None:
        return []
    return [Finding(
        kind="gate_stopped", level="critical", region_code=province, subject=f"gate_stopped:{stage}",
        message=(f"数据闸门（{stage}）未通过，本次未发布，分析库保持上次发布的数据 / the {stage} gate failed in run"
                 f" {run_id}: nothing was published, the marts stay as last published"
                 f" ({len(failures)} failed check(s))"),
        details={"ops_alert_id": ops_alert_id, "run_id": run_id, "stage": stage,
                 "failed_checks": len(failures), "failures": failures[:SHOWN_FAILURES],
                 "gate_message": message[:2000]})]


def _held_out(scope: Scope, ops_alert_id: int, run_id: str, failure: dict) -> Finding:
    code = failure["institution_code"]
    reasons = ", ".join(failure.get("reasons") or [])
    rows, dates = failure.get("rows", 0), failure.get("report_dates", 0)
    return Finding(
        kind="held_out", level="warning", region_code=scope.institution_county(code), institution_code=code,
        subject=f"held_out:{code}",
        message=(f"{scope.who(code)} 有 {rows} 行数据（{dates} 个上报日）被暂扣，未计入指标：{reasons}"
                 f" / {code}: {rows} row(s) on {dates} report date(s) held out of the indicators ({reasons})"),
        details={"ops_alert_id": ops_alert_id, "run_id": run_id, **failure})


def _vanished(scope: Scope, ops_alert_id: int, run_id: str, failure: dict) -> Finding:
    code = failure["institution_code"]
    month = date.fromisoformat(failure["missing_month"][:10]).replace(day=1)
    return Finding(
        kind="vanished", level="warning", region_code=scope.institution_county(code), institution_code=code,
        subject=f"vanished:{code}:{month:%Y-%m}",
        message=(f"{scope.who(code)} 在 {month:%Y年%m月} 没有任何上报数据 / {code} is missing from {month:%Y-%m}:"
                 f" not a single report in a complete month in which reports were expected"),
        details={"ops_alert_id": ops_alert_id, "run_id": run_id, "month": month.isoformat()})


def bridge_new_rows(conn: psycopg.Connection, scope: Scope, report) -> int:
    """Open or bump the alerts of every ops.alerts row not bridged yet; returns how many rows it bridged."""
    rows = conn.execute(NEW_ROWS, {"overlap": OVERLAP_IDS}).fetchall()
    for ops_alert_id, raised_at, run_id, stage, message, failures in rows:
        with conn.transaction():
            for finding in findings_of(scope, ops_alert_id, run_id, stage, message, failures or []):
                _, opened = raise_alert(conn, finding, raised_at)
                (report.opened if opened else report.bumped)[finding.kind] += 1
            conn.execute("insert into alerts.bridged (ops_alert_id) values (%s)", (ops_alert_id,))
    return len(rows)


PASSED = {
    "gate_stopped": """
        select alert_id, '之后的发布已成功 / a later publication succeeded' from alerts.alerts
        where kind = 'gate_stopped' and state <> 'resolved'
          and exists (select from ops.publications where success and published_at > alerts.last_seen)
    """,
    "vanished": """
        select alert_id, '该月已有上报 / a report of that month arrived' from alerts.alerts
        where kind = 'vanished' and state <> 'resolved'
          and exists (
              select from raw.submissions
              where submissions.institution_code = alerts.institution_code
                and submissions.report_date >= (alerts.details ->> 'month')::date
                and submissions.report_date < (alerts.details ->> 'month')::date + interval '1 month')
    """,
}

HELD_OUT_PASSED = """
select alert_id, '之后的发布已无暂扣数据 / a later publication holds none of its rows out' from alerts.alerts
where kind = 'held_out' and state <> 'resolved'
  and exists (select from ops.publications where success and published_at > alerts.last_seen)
  and not exists (select from marts.fct_quarantined_rows as held where held.institution_code = alerts.institution_code)
"""


def resolve_what_passed(conn: psycopg.Connection, now: datetime, report) -> None:
    queries = dict(PASSED)
    if conn.execute("select to_regclass('marts.fct_quarantined_rows') is not null").fetchone()[0]:
        queries["held_out"] = HELD_OUT_PASSED
    for kind, query in queries.items():
        by_resolution: dict[str, list[int]] = {}
        for alert_id, resolution in conn.execute(query):
            by_resolution.setdefault(resolution, []).append(alert_id)
        for resolution, ids in by_resolution.items():
            report.resolved[kind] += resolve_automatically(conn, ids, resolution, now)
