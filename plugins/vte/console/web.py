"""What every page route shares: the templates, the signed-in user, bounded forms, CSRF, input and refusals."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from vte.console import audit, db, security, sessions, users
from vte.console.sessions import SignedIn
from vte.intake.body import BodyTooLarge, read_body
from vte.review.locks import LOCAL_TZ, local_today

TEMPLATES_DIR = Path(__file__).parent / "templates"
FORM_LIMIT = 16 * 1024  # the console's forms are a few short fields
MAX_FORM_FIELDS = 12

templates = Jinja2Templates(directory=TEMPLATES_DIR)


class SignInRequired(Exception):
    """No valid session: the answer is the sign-in page."""


class Refused(Exception):
    """A request the console answers with an error page: its status and a bilingual one-line message."""

    def __init__(self, status_code: int, message: str):
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def local_time(value: datetime | None) -> str:
    return "" if value is None else f"{value.astimezone(LOCAL_TZ):%Y-%m-%d %H:%M}"


def percent(value: Decimal | float | None, places: int = 1) -> str:
    return "—" if value is None else f"{float(value):.{places}f}%"


templates.env.filters["local"] = local_time
templates.env.filters["pct"] = percent
templates.env.globals["role_names"] = users.ROLE_NAMES


def connection(request: Request):
    return db.connection(request.app.state.pool)


def signed_in(request: Request) -> SignedIn:
    """The signed-in user (a FastAPI dependency); without a live session, the sign-in page."""
    with connection(request) as conn:
        found = sessions.current(conn, request.cookies.get(sessions.COOKIE))
    if found is None:
        raise SignInRequired
    return found


async def form_fields(request: Request) -> dict[str, str]:
    """A short URL-encoded form, read whole but bounded (a FastAPI dependency)."""
    try:
        raw = await read_body(request, FORM_LIMIT)
    except BodyTooLarge:
        raise Refused(413, "表单过大 / The form is too large") from None
    except ClientDisconnect:
        raise Refused(400, "请求未完整发送 / The request was not sent whole") from None
    try:
        fields = parse_qs(raw.decode("utf-8", "replace"), max_num_fields=MAX_FORM_FIELDS, keep_blank_values=True)
    except ValueError:  # more fields than any of the console's forms has
        raise Refused(400, "表单字段过多 / The form has too many fields") from None
    return {name: values[0] for name, values in fields.items()}


def require_csrf(request: Request, user: SignedIn, fields: dict[str, str]) -> None:
    """Refuse (and audit) a form without the session's CSRF token."""
    if security.csrf_matches(user.csrf, fields.get("csrf")):
        return
    with connection(request) as conn:
        audit.record(conn, user.user.username, "csrf.refused", request.url.path,
                     client_address=security.client_address(request))
    raise Refused(403, "页面已过期或来源不明，请刷新后重试 / The page expired or the form did not come from the"
                       " console: reload the page and try again")


def forbid(request: Request, user: SignedIn, what: str, subject: str) -> Refused:
    """Audit a refused attempt beyond the user's role or region; returns the refusal to raise."""
    with connection(request) as conn:
        audit.record(conn, user.user.username, "access.forbidden", subject, what=what,
                     client_address=security.client_address(request))
    return Refused(403, f"您的角色或地区无权{what} / Your role and region do not allow this ({subject})")


def render(request: Request, template: str, context: dict, *, user: SignedIn | None = None,
           status_code: int = 200) -> Response:
    return templates.TemplateResponse(request, template, {**context, "signed": user}, status_code=status_code)


def yesterday() -> date:
    return local_today() - timedelta(days=1)


def previous_month() -> date:
    return (local_today().replace(day=1) - timedelta(days=1)).replace(day=1)


def parse_day(text: str | None, default: date) -> date:
    if not text:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Refused(400, f"日期 {text!r} 应为 YYYY-MM-DD / the day {text!r} is not YYYY-MM-DD,"
                           " e.g. 2026-03-15") from None


def parse_month(text: str | None, default: date) -> date:
    if not text:
        return default
    try:
        return datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise Refused(400, f"月份 {text!r} 应为 YYYY-MM / the month {text!r} is not YYYY-MM, e.g. 2026-03") from None
