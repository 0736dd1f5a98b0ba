"""The console's FastAPI application: pages, its own static files, security headers, error pages.

No OpenAPI or /docs: they would load Swagger UI from a CDN, and the console is pages for people, not an API.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from vte.config import Settings, get_settings
from vte.console import db, security, web
from vte.console.pages import alerts, auth, data_docs, indicators, monitoring, onboarding, review

STATIC_DIR = Path(__file__).parent / "static"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.pool = db.open_pool(settings)
        try:
            yield
        finally:
            app.state.pool.close()

    app = FastAPI(title="VTE console", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.settings = settings
    app.state.key = security.console_key(settings)
    app.add_middleware(security.SecurityHeaders)
    app.add_middleware(data_docs.DataDocsPolicy)  # added last, so it wraps the headers above
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for page in (auth, monitoring, indicators, review, alerts, onboarding, data_docs):
        app.include_router(page.router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> Response:
        return PlainTextResponse("ok")

    @app.get("/readyz", include_in_schema=False)
    def readyz(request: Request) -> Response:
        try:
            with web.connection(request) as conn:
                conn.execute("select 1 from console.users limit 1")
        except db.WarehouseUnavailable as exc:
            return PlainTextResponse(f"the warehouse is unavailable: {exc}", status_code=503)
        return PlainTextResponse("ready")

    @app.exception_handler(web.SignInRequired)
    def sign_in_required(request: Request, exc: web.SignInRequired) -> Response:
        return RedirectResponse("/sign-in", status_code=303)

    @app.exception_handler(web.Refused)
    def refused(request: Request, exc: web.Refused) -> Response:
        return web.render(request, "error.html", {"message": exc.message}, status_code=exc.status_code)

    @app.exception_handler(db.WarehouseUnavailable)
    def unavailable(request: Request, exc: db.WarehouseUnavailable) -> Response:
        return web.render(request, "error.html", {
            "message": "数据仓库暂时无法连接，请稍后重试 / The warehouse cannot be reached: try again in a moment"},
            status_code=503)

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        messages = {404: "页面不存在 / No such page", 405: "不支持该请求方法 / Method not allowed"}
        return web.render(request, "error.html", {"message": messages.get(exc.status_code, str(exc.detail))},
                          status_code=exc.status_code)

    return app
