"""Who gets which alert now, the messages, and the record of every attempt (alerts.deliveries).

An open alert is due to a recipient when

- the recipient is active, covers the alert's region (its own region or one the alert's lies within, by
  registry.regions' parent_code) and the alert's level is at or above the recipient's minimum level;
- the recipient has not received this alert yet at this level or higher (an alert that escalates is sent
  again, to its new region's recipients and to those who heard of it at a lower level);
- the recipient has not received an alert of the same subject today (Asia/Shanghai): a subject reaches a
  recipient at most once a day, whatever happens to it in between.

Acknowledged and resolved alerts are not sent. Each run sends each recipient one digest of what is due to it
(one e-mail; webhook messages cut at channels.WEBHOOK_MAX_BYTES, so a long digest is several posts), and
records one row per alert and recipient with the outcome of the message that carried it. A failed attempt
(server down, message refused) is recorded with its reason and retried on the next run; it never raises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone

import psycopg
from cryptography.fernet import InvalidToken

from vte.alerts import channels
from vte.alerts.model import LEVEL_ZH, LEVELS, LOCAL_TZ
from vte.alerts.recipients import webhook_url
from vte.config import Settings

EMAIL_MAX_ALERTS = 200  # alerts in one e-mail; more make several
_LOCK_ID = 0x5654_4A01  # one delivery at a time: two runs would send the same alert twice

DUE = """
select recipients.recipient_id, alerts.alert_id, alerts.level, alerts.subject, alerts.message,
       alerts.region_code, containment.region_name, alerts.first_seen
from alerts.alerts
inner join alerts.region_containment as containment on containment.region_code = alerts.region_code
inner join alerts.recipients on recipients.region_code = containment.within_code
where alerts.state = 'open'
  and recipients.active
  and alerts.level_rank(alerts.level) >= alerts.level_rank(recipients.min_level)
  and not exists (
      select from alerts.deliveries
      where deliveries.ok and deliveries.alert_id = alerts.alert_id
        and deliveries.recipient_id = recipients.recipient_id
        and alerts.level_rank(deliveries.level) >= alerts.level_rank(alerts.level))
  and not exists (
      select from alerts.deliveries
      where deliveries.ok and deliveries.recipient_id = recipients.recipient_id
        and deliveries.subject = alerts.subject
        and deliveries.delivered_at >= %(day_start)s and deliveries.delivered_at < %(day_end)s)
order by recipients.recipient_id, alerts.level_rank(alerts.level) desc, alerts.alert_id
"""

RECIPIENTS = """
select recipients.recipient_id, recipients.name, recipients.channel, recipients.address,
       recipients.secret_ciphertext, recipients.region_code, regions.region_name
from alerts.recipients
inner join registry.regions on regions.region_code = recipients.region_code
where recipients.active
"""


@dataclass(frozen=True)
class DueAlert:
    alert_id: int
    level: str
    subject: str
    message: str
    region_code: str
    region_name: str
    first_seen: datetime

    def line(self) -> str:
        return f"[{LEVEL_ZH[self.level]}/{self.level}] #{self.alert_id} {self.message}"


@dataclass(frozen=True)
class Target:
    recipient_id: int
    name: str
    channel: str
    address: str  # shown form
    secret_ciphertext: bytes | None
    region_code: str
    region_name: str


@dataclass
class DeliveryReport:
    messages_sent: int = 0
    messages_failed: int = 0
    delivered: int = 0  # alert × recipient pairs delivered
    failed: int = 0  # alert × recipient pairs whose attempt failed (retried next run)
    errors: list[str] = field(default_factory=list)
    skipped: str | None = None  # why nothing was attempted

    def as_dict(self) -> dict:
        return {"messages_sent": self.messages_sent, "messages_failed": self.messages_failed,
                "delivered": self.delivered, "failed": self.failed, "errors": self.errors, "skipped": self.skipped}

    def __str__(self) -> str:
        if self.skipped:
            return f"delivery skipped: {self.skipped}"
        text = (f"{self.messages_sent} message(s) sent ({self.delivered} alert deliveries), "
                f"{self.messages_failed} failed ({self.failed} to retry)")
        return text + "".join(f"\n  failed: {e}" for e in self.errors)


def due(conn: psycopg.Connection, now: datetime) -> dict[int, list[DueAlert]]:
    """recipient_id → the alerts due to it now, most severe first."""
    today = now.astimezone(LOCAL_TZ).date()
    day_start = datetime.combine(today, time(0), LOCAL_TZ)
    found: dict[int, list[DueAlert]] = {}
    for recipient_id, *alert in conn.execute(DUE, {"day_start": day_start, "day_end": day_start + timedelta(days=1)}):
        found.setdefault(recipient_id, []).append(DueAlert(*alert))
    return found


def _highest(alerts: list[DueAlert]) -> str:
    return max((a.level for a in alerts), key=LEVELS.index)


def email_text(target: Target, alerts: list[DueAlert]) -> tuple[str, str]:
    """(subject, body) of a digest e-mail."""
    n, highest = len(alerts), _highest(alerts)
    subject = (f"[VTE 预警] {target.region_name}：{n} 条新预警（最高：{LEVEL_ZH[highest]}）"
               f" / {n} new alert(s), highest {highest}")
    lines = [f"{target.name}：", "",
             f"{target.region_name}及下辖地区有 {n} 条新预警 / {n} new alert(s) in {target.region_name}"
             " and the regions inside it:", ""]
    for alert in alerts:
        lines += [alert.line(),
                  f"    {alert.region_code} {alert.region_name}，首次发现 first seen"
                  f" {alert.first_seen.astimezone(LOCAL_TZ):%Y-%m-%d %H:%M}", ""]
    lines += ["处理 / To act: `vte alerts ack ID`（确认 acknowledge）, `vte alerts resolve ID`（关闭 resolve）"
              "，或在数据中心控制台 / or in the data centre console.",
              "同一事项每天最多通知一次 / Each subject is sent at most once a day."]
    return subject, "\n".join(lines) + "\n"


def webhook_texts(target: Target, alerts: list[DueAlert]) -> list[tuple[str, list[DueAlert]]]:
    """The digest as chat messages of at most WEBHOOK_MAX_BYTES each, with the alerts each one carries."""
    def header(count: int) -> str:
        return f"VTE 预警 / alerts — {target.region_name}（{count}）"

    limit = channels.WEBHOOK_MAX_BYTES
    batches: list[list[DueAlert]] = [[]]
    size = len(header(len(alerts)).encode())
    for alert in alerts:
        line_size = len(alert.line().encode()) + 1
        if batches[-1] and size + line_size > limit:
            batches.append([])
            size = len(header(len(alerts)).encode())
        batches[-1].append(alert)
        size += line_size
    messages = []
    for batch in batches:
        text = "\n".join([header(len(batch)), *(a.line() for a in batch)])
        encoded = text.encode()
        if len(encoded) > limit:  # one alert longer than a message: cut it
            text = encoded[:limit - 3].decode(errors="ignore") + "…"
        messages.append((text, batch))
    return messages


def _record(conn: psycopg.Connection, target: Target, alerts: list[DueAlert], now: datetime,
            error: str | None, report: DeliveryReport) -> None:
    ok = error is None
    with conn.transaction():
        with conn.cursor() as cur:
            cur.executemany(
                "insert into alerts.deliveries (alert_id, recipient_id, subject, level, attempted_at, ok, error,"
                " delivered_at) values (%s, %s, %s, %s, %s, %s, %s, %s)",
                [(a.alert_id, target.recipient_id, a.subject, a.level, now, ok, error, now if ok else None)
                 for a in alerts])
    if ok:
        report.messages_sent += 1
        report.delivered += len(alerts)
    else:
        report.messages_failed += 1
        report.failed += len(alerts)
        report.errors.append(f"{target.name} ({target.channel}): {error}")


def _send(target: Target, alerts: list[DueAlert], smtp: channels.SmtpSettings | None,
          settings: Settings | None) -> list[tuple[list[DueAlert], str | None]]:
    """Send the digest; (alerts, error or None) for each message."""
    outcomes = []
    if target.channel == "email":
        for start in range(0, len(alerts), EMAIL_MAX_ALERTS):
            part = alerts[start:start + EMAIL_MAX_ALERTS]
            try:
                if smtp is None:
                    smtp = channels.SmtpSettings.from_env()
                channels.send_email(smtp, target.address, *email_text(target, part))
                outcomes.append((part, None))
            except channels.DeliveryFailed as exc:
                outcomes.append((part, str(exc)))
        return outcomes
    try:
        url = webhook_url(target.secret_ciphertext, settings)
    except InvalidToken:
        return [(alerts, "cannot decrypt the webhook URL: VTE_SECRET_KEY (or $VTE_HOME/keys/registry.key) is not"
                         " the key it was stored with; add the recipient again")]
    for text, part in webhook_texts(target, alerts):
        try:
            channels.post_webhook(url, text, target.address)
            outcomes.append((part, None))
        except channels.DeliveryFailed as exc:
            outcomes.append((part, str(exc)))
    return outcomes


def run(conn: psycopg.Connection, now: datetime | None = None, *, smtp: channels.SmtpSettings | None = None,
        settings: Settings | None = None) -> DeliveryReport:
    """Send every recipient what is due to it; ``conn`` as vte_monitor in autocommit mode. Never raises for a
    recipient that cannot be reached: the attempt is recorded and retried on the next run."""
    now = now or datetime.now(timezone.utc)
    report = DeliveryReport()
    if not conn.execute("select pg_try_advisory_lock(%s)", (_LOCK_ID,)).fetchone()[0]:
        report.skipped = "another delivery is running"
        return report
    try:
        targets = {row[0]: Target(*row) for row in conn.execute(RECIPIENTS)}
        for recipient_id, alerts in due(conn, now).items():
            target = targets[recipient_id]
            try:
                outcomes = _send(target, alerts, smtp, settings)
            except Exception as exc:  # noqa: BLE001 - one recipient's problem never stops the others
                outcomes = [(alerts, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")]
            for part, error in outcomes:
                _record(conn, target, part, now, error, report)
    finally:
        conn.execute("select pg_advisory_unlock(%s)", (_LOCK_ID,))
    return report
