"""Signing in and out: the sign-in page, its form, and the sign-out button on every page."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from vte.console import audit, security, sessions, signin, web

router = APIRouter()

MESSAGES = {
    "credentials": ("用户名或密码不正确", "Wrong username or password", 401),
    "disabled": ("该账户已停用，请联系管理员", "This account is disabled: ask an administrator", 403),
}


def _sign_in_page(request: Request, *, error: str | None = None, username: str = "",
                  status_code: int = 200) -> Response:
    token, cookie = security.sign_in_token(request.app.state.key)
    response = web.render(request, "sign_in.html", {"csrf": token, "error": error, "username": username},
                          status_code=status_code)
    response.set_cookie(security.SIGN_IN_COOKIE, cookie, max_age=security.SIGN_IN_MAX_AGE, httponly=True,
                        samesite="strict", secure=security.is_tls(request), path="/sign-in")
    return response


@router.get("/sign-in")
def sign_in_page(request: Request) -> Response:
    with web.connection(request) as conn:
        if sessions.current(conn, request.cookies.get(sessions.COOKIE)) is not None:
            return RedirectResponse("/", status_code=303)
    return _sign_in_page(request)


@router.post("/sign-in")
def sign_in(request: Request, fields: dict = Depends(web.form_fields)) -> Response:
    username = fields.get("username", "").strip().lower()
    client = security.client_address(request)
    if not security.sign_in_token_matches(request.app.state.key, request.cookies.get(security.SIGN_IN_COOKIE),
                                          fields.get("csrf")):
        with web.connection(request) as conn:
            audit.record(conn, username[:60] or "-", "csrf.refused", "/sign-in", client_address=client)
        return _sign_in_page(request, username=username, status_code=403,
                             error="页面已过期，请重新登录 / The page expired: please sign in again")
    with web.connection(request) as conn:
        outcome = signin.sign_in(conn, username, fields.get("password", ""), client_address=client)
        if not outcome.signed_in:
            if outcome.refusal == "locked":
                until = web.local_time(outcome.locked_until)
                return _sign_in_page(request, username=username, status_code=403, error=(
                    f"连续 {signin.MAX_FAILURES} 次密码错误，账户已锁定至 {until}（北京时间）/ Locked until {until}"
                    f" (Beijing time) after {signin.MAX_FAILURES} wrong passwords"))
            zh, en, status = MESSAGES[outcome.refusal]
            return _sign_in_page(request, username=username, status_code=status, error=f"{zh} / {en}")
        token = sessions.open_session(conn, username, client_address=client,
                                      user_agent=request.headers.get("user-agent"))
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(sessions.COOKIE, token, max_age=int(sessions.LIFETIME.total_seconds()), httponly=True,
                        samesite="strict", secure=security.is_tls(request), path="/")
    response.delete_cookie(security.SIGN_IN_COOKIE, path="/sign-in")
    return response


@router.post("/sign-out")
def sign_out(request: Request, fields: dict = Depends(web.form_fields)) -> Response:
    token = request.cookies.get(sessions.COOKIE)
    with web.connection(request) as conn:
        user = sessions.current(conn, token)
    if user is None:
        return RedirectResponse("/sign-in", status_code=303)
    web.require_csrf(request, user, fields)
    with web.connection(request) as conn:
        sessions.end_session(conn, token)
        audit.record(conn, user.user.username, "sign_out", user.user.username,
                     client_address=security.client_address(request))
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(sessions.COOKIE, path="/")
    return response
