"""The alert record (alerts.alerts): open or bump by subject, acknowledge, resolve, list.

A subject is a stable key for one problem (``missing_report:H330328001:2026-03-05``). At most one alert
per subject is not resolved: detecting the problem again only moves ``last_seen`` (and updates the level,
the region, the message and the details to what is true now). An acknowledged alert that escalates (its
level rises or its region moves up) is open again, so the people of its new scope are told. A resolved
subject that comes back opens a new alert.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

LOCAL_TZ = ZoneInfo("Asia/Shanghai")

KINDS = ("missing_report", "late_report", "consecutive_missing", "held_out", "gate_stopped", "vanished",
         "dag_failed", "below_target")
LEVELS = ("info", "warning", "critical")
STATES = ("open", "acknowledged", "resolved")
LEVEL_ZH = {"info": "提示", "warning": "警告", "critical": "严重"}


class AlertError(ValueError):
    """A refused request about an alert; the message says what is wrong and what to do."""


def level_rank(level: str) -> int:
    return LEVELS.index(level)


@dataclass(frozen=True)
class Finding:
    """A problem a rule found true now: what an alert of its subject should say."""
    kind: str
    level: str
    region_code: str
    subject: str
    message: str
    institution_code: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise AlertError(f"unknown alert kind {self.kind!r}: one of {', '.join(KINDS)}")
        if self.level not in LEVELS:
            raise AlertError(f"unknown level {self.level!r}: one of {', '.join(LEVELS)}")
        if not self.subject.startswith(self.kind + ":"):
            raise AlertError(f"subject {self.subject!r} must start with its kind, {self.kind}:")


@dataclass(frozen=True)
class Alert:
    alert_id: int
    kind: str
    level: str
    region_code: str
    region_name: str
    institution_code: str | None
    subject: str
    message: str
    details: dict
    first_seen: datetime
    last_seen: datetime
    state: str
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None
    resolution: str | None

    def line(self) -> str:
        """One line for a list: id, state, level, region, first seen, message."""
        seen = self.first_seen.astimezone(LOCAL_TZ)
        return (f"#{self.alert_id}\t{self.state}\t{self.level}\t{self.region_code} {self.region_name}\t"
                f"{seen:%Y-%m-%d %H:%M}\t{self.message}")


_UPSERT = """
insert into alerts.alerts as a
    (kind, level, region_code, institution_code, subject, message, details, first_seen, last_seen)
values (%(kind)s, %(level)s, %(region_code)s, %(institution_code)s, %(subject)s, %(message)s, %(details)s,
        %(seen_at)s, %(seen_at)s)
on conflict (subject) where state <> 'resolved' do update set
    first_seen = least(a.first_seen, excluded.first_seen),
    last_seen = greatest(a.last_seen, excluded.last_seen),
    kind = excluded.kind,
    level = excluded.level,
    region_code = excluded.region_code,
    institution_code = excluded.institution_code,
    message = excluded.message,
    details = excluded.details,
    state = case when {escalated} then 'open' else a.state end,
    acknowledged_by = case when {escalated} then null else a.acknowledged_by end,
    acknowledged_at = case when {escalated} then null else a.acknowledged_at end
returning alert_id, xmax = 0 as inserted
""".format(escalated="(a.state = 'acknowledged' and (alerts.level_rank(excluded.level) > alerts.level_rank(a.level)"
                    " or excluded.region_code <> a.region_code))")


def raise_alert(conn: psycopg.Connection, finding: Finding, seen_at: datetime) -> tuple[int, bool]:
    """Open an alert for the finding, or bump the one already open for its subject.

    Returns (alert_id, True when a new alert was opened)."""
    row = conn.execute(_UPSERT, {
        "kind": finding.kind, "level": finding.level, "region_code": finding.region_code,
        "institution_code": finding.institution_code, "subject": finding.subject, "message": finding.message,
        "details": Jsonb(finding.details), "seen_at": seen_at,
    }).fetchone()
    return row[0], row[1]


def resolve_automatically(conn: psycopg.Connection, alert_ids: list[int], resolution: str, now: datetime,
                          actor: str = "vte_monitor") -> int:
    """Resolve alerts the monitor found no longer true; returns how many it resolved."""
    if not alert_ids:
        return 0
    return conn.execute(
        "update alerts.alerts set state = 'resolved', resolved_by = %s, resolved_at = greatest(%s, last_seen),"
        " resolution = %s where alert_id = any(%s) and state <> 'resolved'",
        (actor, now, resolution, list(alert_ids))).rowcount


_SELECT = """
select alerts.alert_id, alerts.kind, alerts.level, alerts.region_code, containment.region_name,
       alerts.institution_code, alerts.subject, alerts.message, alerts.details, alerts.first_seen,
       alerts.last_seen, alerts.state, alerts.acknowledged_by, alerts.acknowledged_at, alerts.resolved_by,
       alerts.resolved_at, alerts.resolution
from alerts.alerts
inner join alerts.region_containment as containment
    on containment.region_code = alerts.region_code
   and containment.within_code = coalesce(%(region)s, alerts.region_code)
"""


def get(conn: psycopg.Connection, alert_id: int) -> Alert:
    with conn.cursor(row_factory=class_row(Alert)) as cur:
        found = cur.execute(_SELECT + " where alerts.alert_id = %(alert_id)s",
                            {"region": None, "alert_id": alert_id}).fetchone()
    if found is None:
        raise AlertError(f"there is no alert {alert_id}: `vte alerts list` shows their numbers")
    return found


def list_alerts(conn: psycopg.Connection, *, state: str | None = None, region: str | None = None,
                kind: str | None = None, limit: int = 200) -> list[Alert]:
    """Alerts in a region (and every region inside it), newest first."""
    if state is not None and state not in STATES:
        raise AlertError(f"--state {state!r} is not one of {', '.join(STATES)}")
    if kind is not None and kind not in KINDS:
        raise AlertError(f"--kind {kind!r} is not one of {', '.join(KINDS)}")
    if region is not None and not conn.execute(
            "select 1 from alerts.region_containment where region_code = %s", (region,)).fetchone():
        raise AlertError(f"region {region!r} is not a known GB/T 2260 code: give a province, city or county code"
                         " such as 330300")
    with conn.cursor(row_factory=class_row(Alert)) as cur:
        return cur.execute(
            _SELECT + " where (%(state)s::text is null or alerts.state = %(state)s)"
                      " and (%(kind)s::text is null or alerts.kind = %(kind)s)"
                      " order by alerts.last_seen desc, alerts.alert_id desc limit %(limit)s",
            {"region": region, "state": state, "kind": kind, "limit": limit}).fetchall()


def acknowledge(conn: psycopg.Connection, alert_id: int, actor: str, now: datetime | None = None) -> Alert:
    """Someone is on it: no more deliveries unless it escalates."""
    now = now or datetime.now(timezone.utc)
    with conn.transaction():
        alert = _locked(conn, alert_id)
        if alert.state != "open":
            raise AlertError(f"alert {alert_id} is {alert.state} already: only an open alert can be acknowledged")
        conn.execute("update alerts.alerts set state = 'acknowledged', acknowledged_by = %s, acknowledged_at = %s"
                     " where alert_id = %s", (actor, now, alert_id))
    return get(conn, alert_id)


def resolve(conn: psycopg.Connection, alert_id: int, actor: str, note: str | None = None,
            now: datetime | None = None) -> Alert:
    """Close an alert by hand (open or acknowledged). Detecting its problem again opens a new one."""
    now = now or datetime.now(timezone.utc)
    with conn.transaction():
        alert = _locked(conn, alert_id)
        if alert.state == "resolved":
            raise AlertError(f"alert {alert_id} was resolved already, by {alert.resolved_by}")
        conn.execute("update alerts.alerts set state = 'resolved', resolved_by = %s,"
                     " resolved_at = greatest(%s, last_seen), resolution = %s where alert_id = %s",
                     (actor, now, note or "resolved by hand", alert_id))
    return get(conn, alert_id)


def _locked(conn: psycopg.Connection, alert_id: int) -> Alert:
    if not conn.execute("select 1 from alerts.alerts where alert_id = %s for update", (alert_id,)).fetchone():
        raise AlertError(f"there is no alert {alert_id}: `vte alerts list` shows their numbers")
    return get(conn, alert_id)
