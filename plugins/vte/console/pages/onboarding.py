"""Onboarding (接入测试): the institutions given sandbox (test) credentials, whether a sandbox submission of theirs
passed, why not yet (held out, refused), whether production credentials were issued, and any administrator's
override. The status is vte.sandbox's, the one `vte accounts sandbox-status` prints; this page only reads it,
scoped to the user's region (an institution still only in the sandbox has no region yet: the province's users
see it)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from vte import sandbox
from vte.console import web
from vte.console.sessions import SignedIn
from vte.intake.responses import ResultCode

router = APIRouter()

CHANNEL_NAMES = {"api": "接口 API", "excel": "Excel"}


def _refusal(code: int | None) -> str:
    try:
        return ResultCode(code).message
    except (TypeError, ValueError):
        return f"代码 {code} / code {code}"


@router.get("/onboarding")
def onboarding_page(request: Request, user: SignedIn = Depends(web.signed_in)) -> Response:
    with web.connection(request) as conn:
        found = sandbox.status(conn, request.app.state.settings, region=user.user.region_code)
    return web.render(request, "onboarding.html", {
        "page": "onboarding", "institutions": found, "channel_names": CHANNEL_NAMES,
        "refusals": {r["institution_code"]: _refusal(r["last_refused_code"]) for r in found if r["refused_requests"]},
        "counts": {"passed": sum(r["passed"] for r in found), "waiting": sum(not r["passed"] for r in found),
                   "production": sum(r["has_production_account"] for r in found),
                   "overridden": sum(r["override_at"] is not None for r in found)},
    }, user=user)
