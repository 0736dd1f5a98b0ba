"""Alerts: the open, acknowledged and resolved alerts of the user's region (and every division inside it),
with acknowledge and resolve for reviewers and administrators. The alert record and its rules are
vte.alerts.model's; this page checks the alert lies in the user's region and audits each action."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from vte.alerts import model
from vte.alerts.model import AlertError
from vte.console import audit, permissions, security, web
from vte.console.queries import regions
from vte.console.sessions import SignedIn
from vte.console.web import Refused

router = APIRouter()

KIND_NAMES = {
    "missing_report": ("未上报", "missing report"), "late_report": ("迟报", "late report"),
    "consecutive_missing": ("连续未上报", "missing several days"), "held_out": ("数据暂不发布", "rows held out"),
    "gate_stopped": ("发布被质控闸门阻止", "publication stopped by the gate"),
    "vanished": ("整月未上报", "missing from a month"), "dag_failed": ("流水线运行失败", "pipeline run failed"),
    "below_target": ("指标未达标", "indicator below target"),
}
STATE_NAMES = {"open": ("待处理", "open"), "acknowledged": ("已确认", "acknowledged"), "resolved": ("已解决", "resolved")}
NOTICES = {"acknowledge": "已确认 / Acknowledged", "resolve": "已解决 / Resolved"}


def _page(request: Request, user: SignedIn, state: str, *, kind: str | None = None, notice: str | None = None,
          error: str | None = None, status_code: int = 200) -> Response:
    with web.connection(request) as conn:
        try:
            found = model.list_alerts(conn, state=state, region=user.user.region_code, kind=kind)
        except AlertError as exc:
            raise Refused(400, str(exc)) from None
    return web.render(request, "alerts.html", {
        "page": "alerts", "alerts": found, "state": state, "kind": kind, "kind_names": KIND_NAMES,
        "state_names": STATE_NAMES, "level_names": model.LEVEL_ZH, "notice": notice, "error": error,
        "may_act": permissions.may_handle_alerts(user.user),
    }, user=user, status_code=status_code)


@router.get("/alerts")
def alerts_page(request: Request, state: str = "open", kind: str | None = None, done: str | None = None,
                user: SignedIn = Depends(web.signed_in)) -> Response:
    return _page(request, user, state, kind=kind or None, notice=NOTICES.get(done or ""))


def _act(request: Request, user: SignedIn, alert_id: int, fields: dict, action: str) -> Response:
    web.require_csrf(request, user, fields)
    subject = f"alert {alert_id}"
    if not permissions.may_handle_alerts(user.user):
        raise web.forbid(request, user, "处理预警", subject)
    back = fields.get("state") if fields.get("state") in STATE_NAMES else "open"
    with web.connection(request) as conn:
        try:
            alert = model.get(conn, alert_id)
        except AlertError:
            alert = None
        if alert is None or not regions.is_inside(conn, alert.region_code, user.user.region_code):
            raise Refused(404, f"您的地区内没有预警 {alert_id} / No alert {alert_id} in your region")
        note = fields.get("note", "").strip()[:500] or None
        with conn.transaction():
            try:
                if action == "acknowledge":
                    model.acknowledge(conn, alert_id, f"console:{user.user.username}")
                else:
                    model.resolve(conn, alert_id, f"console:{user.user.username}", note)
            except AlertError as exc:
                audit.record(conn, user.user.username, f"alert.{action}", subject, outcome="refused",
                             reason=str(exc), client_address=security.client_address(request))
                refusal = str(exc)
            else:
                audit.record(conn, user.user.username, f"alert.{action}", subject, outcome="done", note=note,
                             alert_subject=alert.subject, client_address=security.client_address(request))
                refusal = None
    if refusal:
        return _page(request, user, back, error=refusal, status_code=409)
    return RedirectResponse(f"/alerts?state={back}&done={action}", status_code=303)


@router.post("/alerts/{alert_id}/acknowledge")
def acknowledge(request: Request, alert_id: int, fields: dict = Depends(web.form_fields),
                user: SignedIn = Depends(web.signed_in)) -> Response:
    return _act(request, user, alert_id, fields, "acknowledge")


@router.post("/alerts/{alert_id}/resolve")
def resolve(request: Request, alert_id: int, fields: dict = Depends(web.form_fields),
            user: SignedIn = Depends(web.signed_in)) -> Response:
    return _act(request, user, alert_id, fields, "resolve")
