"""Review and lock: the month's units under the user's region with their state, accept and un-accept where
the user's role allows, the month's lock, and (administrators) lock exceptions for one institution.

The rules are vte.review's (approval.accept / unaccept, locks.open_exception); this page only decides who
may press which button, and records each attempt with its outcome in console.audit_events, in the same
transaction as the action.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from vte.console import audit, permissions, security, web
from vte.console.queries import regions
from vte.console.sessions import SignedIn
from vte.console.web import Refused
from vte.review import approval, locks
from vte.review.approval import ReviewError
from vte.review.locks import LOCAL_TZ, LockError

router = APIRouter()

NOTICES = {
    "accept": "已审核通过 / Accepted",
    "unaccept": "已撤销审核 / Acceptance withdrawn",
    "exception": "已开放例外 / Exception opened",
}
DEFAULT_EXCEPTION = timedelta(days=3)


def _actor(user: SignedIn) -> str:
    return f"console:{user.user.username}"


def _page(request: Request, user: SignedIn, month, *, error: str | None = None, notice: str | None = None,
          form: dict | None = None, status_code: int = 200) -> Response:
    with web.connection(request) as conn:
        all_units = approval.units(conn, month)
        shown = approval.inside(all_units, user.user.region_code)
        lock = locks.month_lock(conn, month)
        institutions = regions.institutions(conn, user.user.region_code)
        expected = approval.expected_institutions(conn, month)
        codes = {i.code for i in institutions}
        exceptions = [e for e in locks.exceptions(conn, month) if e.institution_code in codes]
    depth = {user.user.region_code: 0}
    rows = []
    for unit in shown:
        depth.setdefault(unit.region_code, depth.get(unit.parent_code, -1) + 1)
        rows.append({"unit": unit, "depth": min(depth[unit.region_code], 3),
                     "may_act": permissions.may_review(user.user, unit) and lock is None})
    default_until = (datetime.now(LOCAL_TZ) + DEFAULT_EXCEPTION).replace(second=0, microsecond=0, tzinfo=None)
    return web.render(request, "review.html", {
        "page": "review", "month": month, "rows": rows, "lock": lock, "exceptions": exceptions,
        # an exception is opened for a month's report days: only institutions expected on one of them
        "institutions": [i for i in institutions if i.code in expected],
        "names": {i.code: i.name for i in institutions},
        "may_open_exception": permissions.may_open_exception(user.user), "error": error, "notice": notice,
        "form": form or {}, "default_until": f"{default_until:%Y-%m-%dT%H:%M}",
        "previous_month": (month - timedelta(days=1)).replace(day=1),
        "next_month": approval.month_end(month) + timedelta(days=1),
    }, user=user, status_code=status_code)


@router.get("/review")
def review_page(request: Request, month: str | None = None, done: str | None = None,
                user: SignedIn = Depends(web.signed_in)) -> Response:
    return _page(request, user, web.parse_month(month, web.previous_month()), notice=NOTICES.get(done or ""))


def _act(request: Request, user: SignedIn, fields: dict, action: str) -> Response:
    web.require_csrf(request, user, fields)
    month = web.parse_month(fields.get("month"), web.previous_month())
    region = fields.get("region", "")
    subject = f"{region} {month:%Y-%m}"
    with web.connection(request) as conn:
        unit = approval.units(conn, month).get(region)
    if unit is None or not permissions.may_review(user.user, unit) or not _inside(request, region, user):
        raise web.forbid(request, user, "审核该地区", subject)
    comment = fields.get("comment", "").strip()[:500] or None
    decide = approval.accept if action == "accept" else approval.unaccept
    with web.connection(request) as conn, conn.transaction():
        try:
            decide(conn, region, month, actor=_actor(user), comment=comment)
        except ReviewError as exc:
            audit.record(conn, user.user.username, f"review.{action}", subject, outcome="refused", reason=str(exc),
                         client_address=security.client_address(request))
            refusal = str(exc)
        else:
            audit.record(conn, user.user.username, f"review.{action}", subject, outcome="done", comment=comment,
                         locked=locks.month_lock(conn, month) is not None,
                         client_address=security.client_address(request))
            refusal = None
    if refusal:
        return _page(request, user, month, error=refusal, status_code=409)
    return RedirectResponse(f"/review?month={month:%Y-%m}&done={action}", status_code=303)


def _inside(request: Request, region: str, user: SignedIn) -> bool:
    with web.connection(request) as conn:
        return regions.is_inside(conn, region, user.user.region_code)


@router.post("/review/accept")
def accept(request: Request, fields: dict = Depends(web.form_fields),
           user: SignedIn = Depends(web.signed_in)) -> Response:
    return _act(request, user, fields, "accept")


@router.post("/review/unaccept")
def unaccept(request: Request, fields: dict = Depends(web.form_fields),
             user: SignedIn = Depends(web.signed_in)) -> Response:
    return _act(request, user, fields, "unaccept")


@router.post("/review/exceptions")
def open_exception(request: Request, fields: dict = Depends(web.form_fields),
                   user: SignedIn = Depends(web.signed_in)) -> Response:
    web.require_csrf(request, user, fields)
    month = web.parse_month(fields.get("month"), web.previous_month())
    institution = fields.get("institution", "")
    subject = f"{institution} {month:%Y-%m}"
    if not permissions.may_open_exception(user.user):
        raise web.forbid(request, user, "开放锁定例外", subject)
    with web.connection(request) as conn:
        inside = regions.institution(conn, institution, user.user.region_code) is not None
    if not inside:
        raise Refused(404, f"您的地区内没有机构 {institution} / No institution {institution} in your region")
    try:
        until = datetime.strptime(fields.get("until", ""), "%Y-%m-%dT%H:%M").replace(tzinfo=LOCAL_TZ)
    except ValueError:
        return _page(request, user, month, form=fields, status_code=422, error=(
            f"截止时间 {fields.get('until')!r} 应为 YYYY-MM-DD HH:MM（北京时间）/ until {fields.get('until')!r}"
            " must be a date and time, Beijing time"))
    reason = fields.get("reason", "").strip()[:500]
    with web.connection(request) as conn, conn.transaction():
        try:
            opened = locks.open_exception(conn, institution, month, until, reason=reason, actor=_actor(user))
        except LockError as exc:
            audit.record(conn, user.user.username, "lock.exception", subject, outcome="refused", reason=str(exc),
                         client_address=security.client_address(request))
            refusal = str(exc)
        else:
            audit.record(conn, user.user.username, "lock.exception", subject, outcome="done",
                         exception_id=opened.exception_id, until=opened.valid_until.isoformat(), reason=reason,
                         client_address=security.client_address(request))
            refusal = None
    if refusal:
        return _page(request, user, month, form=fields, error=refusal, status_code=422)
    return RedirectResponse(f"/review?month={month:%Y-%m}&done=exception", status_code=303)
