"""How a message leaves: e-mail through an SMTP server (smtplib), or a chat robot's webhook (httpx).

The webhook body is the text message the common enterprise-chat robots accept,
``{"msgtype": "text", "text": {"content": "…"}}`` (WeCom 企业微信 and DingTalk 钉钉 群机器人). Those robots
answer HTTP 200 with ``{"errcode": 0, "errmsg": "ok"}``; any other errcode, or any status other than 2xx,
is a failed delivery. Each function raises DeliveryFailed with a one-line reason that never holds a secret.

SMTP settings come from the environment of the process that delivers (the Airflow workers, `vte alerts run`):

    VTE_SMTP_HOST       the server (no host: every e-mail delivery fails, and is retried, until one is set)
    VTE_SMTP_PORT       default 587 with STARTTLS, else 25
    VTE_SMTP_USER       log in as this user (after STARTTLS) ...
    VTE_SMTP_PASSWORD   ... with this password
    VTE_SMTP_FROM       the sender, default vte-alerts@<host>
    VTE_SMTP_STARTTLS   true (default) | false: upgrade the connection with STARTTLS, verifying the certificate
"""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import httpx

TIMEOUT_SECONDS = 15
# WeCom refuses a text message over 2,048 bytes (UTF-8); DingTalk allows more. Keep under both.
WEBHOOK_MAX_BYTES = 2000


class DeliveryFailed(RuntimeError):
    """A message that did not leave; str() is the reason, one line, without secrets."""


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value.strip() == "":
        return default
    value = value.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise DeliveryFailed(f"VTE_SMTP_STARTTLS={value!r} is neither true nor false")


@dataclass(frozen=True)
class SmtpSettings:
    host: str | None
    port: int
    user: str | None
    password: str | None
    sender: str
    starttls: bool

    @classmethod
    def from_env(cls, environ: dict | None = None) -> SmtpSettings:
        env = os.environ if environ is None else environ
        starttls = _flag(env.get("VTE_SMTP_STARTTLS"), True)
        host = env.get("VTE_SMTP_HOST") or None
        port_text = env.get("VTE_SMTP_PORT") or ("587" if starttls else "25")
        try:
            port = int(port_text)
        except ValueError:
            raise DeliveryFailed(f"VTE_SMTP_PORT={port_text!r} is not a port number") from None
        return cls(host=host, port=port, user=env.get("VTE_SMTP_USER") or None,
                   password=env.get("VTE_SMTP_PASSWORD") or None,
                   sender=env.get("VTE_SMTP_FROM") or f"vte-alerts@{host or socket.getfqdn()}", starttls=starttls)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def send_email(smtp: SmtpSettings, to: str, subject: str, body: str) -> None:
    if not smtp.host:
        raise DeliveryFailed("VTE_SMTP_HOST is not set: set the SMTP server (docs/alerts.md) and the next run"
                             " delivers")
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = smtp.sender, to, subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=smtp.sender.rpartition("@")[2] or None)
    message.set_content(body, charset="utf-8")
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=TIMEOUT_SECONDS) as server:
            if smtp.starttls:
                server.starttls(context=ssl.create_default_context())
            if smtp.user:
                server.login(smtp.user, smtp.password or "")
            refused = server.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryFailed(f"SMTP {smtp.host}:{smtp.port}: {_first_line(exc)}") from None
    if refused:
        raise DeliveryFailed(f"SMTP {smtp.host}:{smtp.port} refused {', '.join(refused)}")


def webhook_body(content: str) -> dict:
    return {"msgtype": "text", "text": {"content": content}}


def post_webhook(url: str, content: str, shown: str, client: httpx.Client | None = None) -> None:
    """POST the text message; ``shown`` is the URL as it may appear in an error (secrets hidden)."""
    try:
        if client is None:
            with httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False) as own:
                response = own.post(url, json=webhook_body(content))
        else:
            response = client.post(url, json=webhook_body(content))
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"webhook {shown}: {_first_line(exc).replace(url, shown)}") from None
    if not 200 <= response.status_code < 300:
        raise DeliveryFailed(f"webhook {shown}: HTTP {response.status_code}")
    try:
        answer = response.json()
    except ValueError:
        return  # a plain 2xx receiver
    if isinstance(answer, dict) and answer.get("errcode") not in (None, 0):
        raise DeliveryFailed(f"webhook {shown}: errcode {answer.get('errcode')} {str(answer.get('errmsg', ''))[:200]}")
