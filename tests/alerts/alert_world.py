"""The alert tests' small worlds, a real SMTP server (aiosmtpd) and a real HTTP receiver standing in for a
chat robot."""

from __future__ import annotations

import email
import json
import socket
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg
from aiosmtpd.controller import Controller

from vte import domain, registry, warehouse
from vte.access import roles
from vte.alerts import steps
from vte.alerts.model import LOCAL_TZ
from vte.config import Settings
from vte.ingest import load_landing_zone
from vte.landing import LandingZone

ASSESSMENT_FIELDS = (
    "riskAssessment", "initRiskAssessment", "riskAssessmentInDaily", "highRiskAssessment",
    "highRiskAssessmentInDaily", "repeatRiskAssessment", "hemorrhageRiskAssessment", "highRiskLowHemorrhage",
    "precaution", "precautionNoBase", "medicine", "mechanical", "basePreventNodaily", "zgwBasePreventNodaily",
    "highVte", "highVteCheck",
)


def department_row(dept: str = "NK", discharged: int = 50, assessed: int = 50) -> dict:
    """A row that breaks no rule: ``assessed`` of ``discharged`` patients assessed (B.1.1 = assessed /
    discharged), every assessed patient at moderate/high risk, bleeding-assessed and given prophylaxis."""
    counts = dict.fromkeys(domain.count_field_names(), 0)
    counts.update(dischargeHospital=discharged, distinctDischargeHospital=discharged,
                  dischargeHospitalNodaily=discharged, surgery=10)
    counts.update(dict.fromkeys(ASSESSMENT_FIELDS, assessed))
    assert not domain.broken_rules(counts), domain.broken_rules(counts)
    return {"hospital": "本院", "dept": dept, **counts}


def shanghai(day: date, hour: int = 1, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), LOCAL_TZ)


def on_time(day: date) -> datetime:
    """Received in the small hours after the report date, as hospitals' systems do."""
    return shanghai(day + timedelta(days=1), 0, 20)


@dataclass
class World:
    settings: Settings
    zone: LandingZone
    keys: dict[str, str] = field(default_factory=dict)

    def connect(self, role: str = roles.MIGRATOR) -> psycopg.Connection:
        return warehouse.connect(self.settings, role=role, autocommit=True)

    def query(self, sql: str, params=()) -> list[tuple]:
        with self.connect() as conn:
            return conn.execute(sql, params).fetchall()

    def register(self, code: str, county: str, joined_on: date, name: str | None = None) -> None:
        with self.connect() as conn:
            self.keys[code] = registry.register(conn, code=code, name=name or f"{code}医院", level="二级",
                                                county_code=county, joined_on=joined_on,
                                                settings=self.settings).access_key

    def report(self, code: str, report_dates, received_at: datetime | None = None,
               rows: list[dict] | None = None) -> None:
        """Land and load one submission per date (on time unless ``received_at`` says otherwise)."""
        for day in ([report_dates] if isinstance(report_dates, date) else report_dates):
            self.zone.land(institution_code=code, access_key=self.keys[code], channel="api",
                           payload={"date": day.isoformat(), "data": rows or [department_row()]},
                           received_at=received_at or on_time(day))
        with self.connect() as conn:
            load_landing_zone(conn, self.zone)

    def run(self, now: datetime):
        """One run of vte_alerts at ``now``: (detection report, delivery report)."""
        return steps.run_once(self.settings, now)

    def alerts(self, kind: str | None = None, state: str | None = None) -> list[tuple]:
        """(subject, level, region_code, state) of the alerts, by subject."""
        return self.query("select subject, level, region_code, state from alerts.alerts"
                          " where (%(kind)s::text is null or kind = %(kind)s)"
                          " and (%(state)s::text is null or state = %(state)s) order by subject",
                          {"kind": kind, "state": state})


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    """A real SMTP server on a local port; stop() and start() take it down and bring it back."""

    def __init__(self):
        self.port = free_port()
        self.messages: list[email.message.EmailMessage] = []
        self._controller: Controller | None = None

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def start(self) -> None:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list:
        return [m for m in self.messages if m["To"] == address]


class Receiver:
    """A real HTTP server standing in for a chat robot: records each JSON body, answers like WeCom."""

    def __init__(self):
        self.port = free_port()
        self.posts: list[tuple[str, dict]] = []  # (path with query, body)
        self.answer = {"errcode": 0, "errmsg": "ok"}
        self._server: ThreadingHTTPServer | None = None

    def url(self, key: str) -> str:
        return f"http://127.0.0.1:{self.port}/cgi-bin/webhook/send?key={key}"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.posts.append((self.path, body))
                answer = json.dumps(receiver.answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def to(self, key: str) -> list[dict]:
        return [body for path, body in self.posts if path.endswith(f"key={key}")]
