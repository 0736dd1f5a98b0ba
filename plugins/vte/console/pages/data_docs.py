"""GX Data Docs (``/quality/gx/``): the gates' validation results as GX renders them, read from
``$VTE_HOME/gx-docs/`` (vte.publication.data_docs), for the province's administrators.

The results name institutions and divisions of the whole province, so only administrators may read them.
The site is GX's own HTML: it needs its inline scripts and styles (the index's list of validations is a
script-driven table), so its answers carry a policy of their own (:class:`DataDocsPolicy`) that allows
those, and still nothing from anywhere but the console. GX escapes the values it shows from the data.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, RedirectResponse
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vte.console import web
from vte.console.sessions import SignedIn
from vte.console.web import Refused
from vte.publication.data_docs import docs_dir

router = APIRouter()

PREFIX = "/quality/gx"
INDEX = "index.html"
CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline';"
       " img-src 'self' data:; font-src 'self' data:; connect-src 'none'; object-src 'none'; base-uri 'none';"
       " form-action 'none'; frame-ancestors 'none'")


def may_read_data_docs(user: SignedIn) -> bool:
    return user.user.role == "admin"


def site_file(site: Path, path: str) -> Path | None:
    """The file of the site at ``path`` (a URL path below the prefix), or None: nothing outside the site,
    no directory, no hidden file (the site's temporary and stamp files)."""
    parts = [part for part in (path or INDEX).split("/") if part]
    if not parts or any(part in (".", "..") or part.startswith(".") or "\\" in part or "\0" in part
                        for part in parts):
        return None
    root = site.resolve()
    candidate = root.joinpath(*parts).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate


@router.get(PREFIX, include_in_schema=False)
def data_docs_root(user: SignedIn = Depends(web.signed_in)) -> Response:
    # The site's links are relative: its index must be read from inside the folder.
    return RedirectResponse(f"{PREFIX}/", status_code=303)


@router.get(PREFIX + "/{path:path}", include_in_schema=False)
def data_docs_file(request: Request, path: str, user: SignedIn = Depends(web.signed_in)) -> Response:
    if not may_read_data_docs(user):
        raise web.forbid(request, user, "查看数据质量报告", f"{PREFIX}/{path}")
    site = docs_dir(request.app.state.settings.home)
    found = site_file(site, path)
    if found is None:
        if (path or INDEX) == INDEX:
            raise Refused(404, "质控闸门尚未运行，暂无数据质量报告 / No gate has run yet: there are no Data Docs")
        raise Refused(404, "页面不存在 / No such page")
    return FileResponse(found)


class DataDocsPolicy:
    """Replaces the console's Content-Security-Policy on the Data Docs' answers with :data:`CSP`.

    Added after vte.console.security.SecurityHeaders, so it wraps it and has the last word on these paths.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(f"{PREFIX}/"):
            await self.app(scope, receive, send)
            return

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"content-security-policy"]
                message["headers"] = [*headers, (b"content-security-policy", CSP.encode())]
            await send(message)

        await self.app(scope, receive, send_with_policy)
