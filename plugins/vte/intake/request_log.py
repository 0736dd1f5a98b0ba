"""Every request gets an id (``X-Request-ID``, also ``data.requestId``) and one audit line.

A plain ASGI middleware rather than Starlette's ``BaseHTTPMiddleware``: that one runs each request in a task
group with memory streams, a cost paid on every submission and every health check alike. An exception that
escapes the application becomes the Appendix A internal-error answer, never a traceback.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vte.intake.audit import AuditLog, safe_text
from vte.intake.responses import ResultCode

log = logging.getLogger(__name__)

UNLOGGED_PATHS = ("/healthz", "/readyz")  # probes every few seconds: not requests of anyone


def outcome(code: int | None, status: int, record: dict) -> str:
    if code is None and status < 400:
        return "served"  # a page, the template, the OpenAPI document
    if code == ResultCode.SUCCESS:
        if record.get("dry_run"):
            return "validated"
        return "duplicate" if record.get("duplicate") else "accepted"
    return "error" if status >= 500 else "refused"


class RequestLog:
    def __init__(self, app: ASGIApp, *, audit: AuditLog, internal_error: Callable[[str], Callable],
                 sandbox_audit: AuditLog | None = None):
        self.app = app
        self.audit = audit
        self.sandbox_audit = sandbox_audit or audit  # test accounts' requests stay out of the warehouse's log
        self.internal_error = internal_error  # request id -> the ASGI response of an unexpected failure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["record"] = record = {}
        status = 500
        answered = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status, answered = message["status"], True
                headers = MutableHeaders(scope=message)
                if "x-request-id" not in headers:
                    headers["X-Request-ID"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("request %s failed", request_id)
            if answered:  # the answer has begun: nothing better can be sent
                raise
            await self.internal_error(request_id)(scope, receive, send_with_id)
        if scope["path"] in UNLOGGED_PATHS:
            return
        client = scope.get("client")
        (self.sandbox_audit if record.get("sandbox") else self.audit).write({
            "request_id": request_id,
            "requested_at": datetime.now(timezone.utc).isoformat(),
            "access_key": safe_text(record.get("access_key")),
            "institution_code": record.get("institution_code"),
            "client_address": client[0] if client else None,
            "method": scope["method"],
            "endpoint": safe_text(scope["path"], 200),
            "dry_run": bool(record.get("dry_run")),
            "outcome": outcome(record.get("code"), status, record),
            "code": record.get("code"),
            "http_status": status,
            "report_date": record.get("report_date"),
            "submission_id": record.get("submission_id"),
            "version": record.get("version"),
            "row_count": record.get("row_count"),
            "problem_count": record.get("problem_count"),
            "warning_count": record.get("warning_count"),
            "latency_ms": round((time.perf_counter() - started) * 1000, 3),
        })
