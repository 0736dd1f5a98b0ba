"""Who is told (alerts.recipients): an e-mail address or a chat robot's webhook, for a region, from a level.

A recipient of a region receives the alerts of that region and of every region inside it (a city's
recipient hears of its counties), at or above its minimum level. A webhook's URL carries the robot's secret
key, so it is stored encrypted (vte.crypto, like the accounts' secrets) and shown with its secret parts as
``***``. Removing a recipient deactivates it; its deliveries stay on record. Every change is written to
ops.admin_audit.
"""

from __future__ import annotations

import getpass
import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg.types.json import Jsonb

from vte import crypto
from vte.alerts.model import LEVELS, AlertError
from vte.config import Settings

CHANNELS = ("email", "webhook")
_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")
_SECRET_SEGMENT = 16  # path segments this long are treated as tokens (e.g. Feishu's /hook/<token>)


@dataclass(frozen=True)
class Recipient:
    recipient_id: int
    name: str
    channel: str
    address: str  # the e-mail address, or the webhook URL with its secret parts hidden
    region_code: str
    region_name: str
    min_level: str
    active: bool
    created_at: datetime
    created_by: str

    def line(self) -> str:
        state = "" if self.active else "\t(removed)"
        return (f"{self.recipient_id}\t{self.name}\t{self.channel}\t{self.address}\t"
                f"{self.region_code} {self.region_name}\t≥{self.min_level}{state}")


def shown_url(url: str) -> str:
    """The URL with every query value and every long path segment replaced by ***."""
    parts = urlsplit(url)
    path = "/".join("***" if len(seg) >= _SECRET_SEGMENT else seg for seg in parts.path.split("/"))
    query = urlencode([(key, "***") for key, _ in parse_qsl(parts.query, keep_blank_values=True)], safe="*")
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, path, query, ""))


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_webhook(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise AlertError(f"--webhook {shown_url(url)!r} is not an http(s) URL: give the robot's whole webhook"
                         " address, e.g. https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise AlertError(f"--webhook {shown_url(url)} is plain http: alerts leave the data centre only over"
                         " https (http is accepted for localhost only)")
    if parts.username or parts.password:
        raise AlertError("--webhook must not carry a user or password in the URL: robots take their key in the"
                         " query string")


def check_email(address: str) -> None:
    if not _EMAIL.match(address):
        raise AlertError(f"--email {address!r} is not one e-mail address like name@example.gov.cn")


def _region_name(conn: psycopg.Connection, region_code: str) -> str:
    row = conn.execute("select region_name from registry.regions where region_code = %s", (region_code,)).fetchone()
    if row is None:
        raise AlertError(f"--region {region_code!r} is not a known GB/T 2260 code: give the province, city or"
                         " county code the recipient covers, e.g. 330300")
    return row[0]


def _audit(conn: psycopg.Connection, action: str, subject: str, **details) -> None:
    conn.execute("insert into ops.admin_audit (actor, action, subject, details) values (%s, %s, %s, %s)",
                 (getpass.getuser(), action, subject, Jsonb(details)))


def add(conn: psycopg.Connection, *, name: str, region_code: str, email: str | None = None,
        webhook: str | None = None, min_level: str = "warning", settings: Settings | None = None) -> Recipient:
    """Add a recipient (``conn`` as vte_admin). Exactly one of ``email`` and ``webhook``."""
    if bool(email) == bool(webhook):
        raise AlertError("give exactly one of --email ADDRESS and --webhook URL")
    if not name.strip():
        raise AlertError("--name is empty: say who this is, e.g. '温州市卫健委 质控科'")
    if min_level not in LEVELS:
        raise AlertError(f"--min-level {min_level!r} is not one of {', '.join(LEVELS)}")
    _region_name(conn, region_code)
    if email:
        email = email.strip()
        check_email(email)
        channel, address, secret = "email", email, None
    else:
        webhook = webhook.strip()
        check_webhook(webhook)
        channel, address, secret = "webhook", shown_url(webhook), crypto.encrypt(webhook, settings)
    with conn.transaction():
        recipient_id = conn.execute(
            "insert into alerts.recipients (name, channel, address, secret_ciphertext, region_code, min_level,"
            " created_by) values (%s, %s, %s, %s, %s, %s, %s) returning recipient_id",
            (name.strip(), channel, address, secret, region_code, min_level, getpass.getuser())).fetchone()[0]
        _audit(conn, "alerts.recipient.add", str(recipient_id), name=name.strip(), channel=channel, address=address,
               region_code=region_code, min_level=min_level)
    return get(conn, recipient_id)


_SELECT = """
select recipients.recipient_id, recipients.name, recipients.channel, recipients.address, recipients.region_code,
       regions.region_name, recipients.min_level, recipients.active, recipients.created_at, recipients.created_by
from alerts.recipients
inner join alerts.region_containment as regions
    on regions.region_code = recipients.region_code and regions.within_code = recipients.region_code
"""


def get(conn: psycopg.Connection, recipient_id: int) -> Recipient:
    row = conn.execute(_SELECT + " where recipients.recipient_id = %s", (recipient_id,)).fetchone()
    if row is None:
        raise AlertError(f"there is no recipient {recipient_id}: `vte alerts recipients list` shows their numbers")
    return Recipient(*row)


def list_recipients(conn: psycopg.Connection, include_removed: bool = False) -> list[Recipient]:
    return [Recipient(*row) for row in conn.execute(
        _SELECT + " where recipients.active or %s order by recipients.region_code, recipients.recipient_id",
        (include_removed,))]


def remove(conn: psycopg.Connection, recipient_id: int) -> Recipient:
    """Deactivate a recipient: it receives nothing more; its deliveries stay on record."""
    recipient = get(conn, recipient_id)
    if not recipient.active:
        raise AlertError(f"recipient {recipient_id} ({recipient.name}) was removed already")
    with conn.transaction():
        conn.execute("update alerts.recipients set active = false, removed_at = now(), removed_by = %s"
                     " where recipient_id = %s", (getpass.getuser(), recipient_id))
        _audit(conn, "alerts.recipient.remove", str(recipient_id), name=recipient.name, address=recipient.address)
    return get(conn, recipient_id)


def webhook_url(ciphertext: bytes, settings: Settings | None = None) -> str:
    return crypto.decrypt(ciphertext, settings)
