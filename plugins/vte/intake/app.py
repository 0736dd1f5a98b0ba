"""The FastAPI application: ``POST /xt/api/submit``, ``GET /healthz``, ``GET /readyz``, /openapi.json, /docs, /codes.

Every answer is the Appendix A result ``{"code", "message", "data"}`` with a fitting HTTP status;
every request gets an id (``X-Request-ID``, also ``data.requestId``) and one audit line (vte.intake.request_log).
"""

from __future__ import annotations

import logging
import tempfile
from contextlib import asynccontextmanager
from functools import partial

import anyio
from anyio import CapacityLimiter
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from vte import sandbox
from vte.config import Settings, get_settings
from vte.excel import routes as excel_routes
from vte.intake import documentation, feedback_routes, schema
from vte.intake.accounts import AccountCache, WarehouseRegistry
from vte.intake.audit import AuditLog, safe_text
from vte.intake.request_log import RequestLog
from vte.intake.body import BodyTooLarge, read_body
from vte.intake.config import IntakeConfig
from vte.intake.locks import LockBook
from vte.intake.responses import ResultCode, body
from vte.intake.service import IntakeService, Reply
from vte.intake.signatures import UsedSignatures
from vte.intake.signing import BODY_SIGN_HEADER
from vte.landing import LandingZone
from vte.reports import routes as report_routes

log = logging.getLogger(__name__)

SUBMIT_PATH = "/xt/api/submit"
SMALL_BODY_BYTES = 64 * 1024
TRUE_WORDS, FALSE_WORDS = ("true", "1", "yes"), ("false", "0", "no", "")


def is_json_content_type(value: str | None) -> bool:
    if not value:
        return False
    media_type, *params = (part.strip().lower() for part in value.split(";"))
    charsets = [p.split("=", 1)[1].strip('"') for p in params if p.startswith("charset=")]
    return media_type == "application/json" and all(c in ("utf-8", "utf8") for c in charsets)


def reply_response(reply: Reply, request_id: str) -> JSONResponse:
    data = dict(reply.data or {}, requestId=request_id)
    return JSONResponse(body(reply.code, data, reply.message), status_code=reply.code.http_status,
                        headers={**reply.headers, "X-Request-ID": request_id})


def create_app(settings: Settings | None = None, config: IntakeConfig | None = None,
               account_cache: AccountCache | None = None) -> FastAPI:
    settings = settings or get_settings()
    config = config or IntakeConfig.from_env()
    live_registry = None
    if account_cache is None:
        live_registry = WarehouseRegistry(settings, config.warehouse_connect_timeout)
        account_cache = AccountCache(
            live_registry.load_all,
            load_one=live_registry.load_one,
            refresh_seconds=config.accounts_refresh_seconds,
            miss_refresh_seconds=config.accounts_miss_refresh_seconds,
        )
    accounts = account_cache
    landing = LandingZone(settings=settings)
    used_signatures = UsedSignatures(settings.used_signatures_path)
    locks = LockBook(live_registry, refresh_seconds=config.accounts_refresh_seconds)
    service = IntakeService(accounts=accounts, landing=landing, config=config, used_signatures=used_signatures,
                            locks=locks, sandbox=sandbox.landing_zone(settings))
    audit = AuditLog(settings.audit_dir)
    sandbox_audit = AuditLog(sandbox.audit_dir(settings))  # test accounts' requests: never loaded into ops
    # A parsed body takes up to ~25 times its size. Small bodies (a typical day is 20-50 kB) share the
    # thread pool; larger ones are parsed and validated a few at a time, which bounds a worker's memory.
    large_bodies = CapacityLimiter(config.concurrent_requests)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        accounts.start()
        yield
        accounts.stop()
        if live_registry is not None:
            live_registry.close()
        used_signatures.close()

    app = FastAPI(
        title="VTE 质控数据上报接口 / VTE quality-control submission interface",
        version="1.0",
        description="Appendix A of the regional VTE interchange standard. 返回码 Result codes (also at /codes, with"
                    " an example answer for each):\n\n" + documentation.codes_markdown(),
        docs_url=None, redoc_url=None,  # /docs is served from local assets (vte.intake.documentation)
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.settings = settings
    app.include_router(excel_routes.router)
    documentation.install(app)
    app.include_router(feedback_routes.router)
    app.include_router(report_routes.router)

    app.add_middleware(RequestLog, audit=audit, sandbox_audit=sandbox_audit,
                       internal_error=lambda request_id: reply_response(Reply(ResultCode.INTERNAL_ERROR), request_id))

    def answer(request: Request, reply: Reply) -> JSONResponse:
        request.state.record["code"] = int(reply.code)
        return reply_response(reply, request.state.request_id)

    @app.post(
        SUBMIT_PATH,
        summary="VTE质控数据上报 / Submit one day's department rows",
        responses={200: {"model": schema.Accepted}, 400: {"model": schema.Refused}, 401: {"model": schema.Refused},
                   403: {"model": schema.Refused}, 413: {"model": schema.Refused}, 415: {"model": schema.Refused},
                   422: {"model": schema.Refused}, 429: {"model": schema.Refused}, 503: {"model": schema.Refused}},
        openapi_extra={
            "parameters": [{"name": "dryRun", "in": "query", "required": False, "schema": {"type": "boolean"},
                            "description": "true：完整校验（含签名）但不保存 / validate fully, store nothing"}],
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/SubmitRequest"}}}},
        },
    )
    async def submit(request: Request) -> JSONResponse:
        record = request.state.record
        dry_run_word = request.query_params.get("dryRun", "").lower()
        if dry_run_word not in TRUE_WORDS + FALSE_WORDS:
            return answer(request, Reply(ResultCode.BAD_QUERY, message=ResultCode.BAD_QUERY.explain(
                "dryRun 须为 true 或 false", "dryRun must be true or false")))
        record["dry_run"] = dry_run_word in TRUE_WORDS
        if not is_json_content_type(request.headers.get("content-type")):
            given = safe_text(request.headers.get("content-type")) or "none"
            message = ResultCode.UNSUPPORTED_MEDIA_TYPE.explain(f"收到的是 {given}", f"got {given}")
            return answer(request, Reply(ResultCode.UNSUPPORTED_MEDIA_TYPE, message=message))
        try:
            raw = await read_body(request, config.max_body_bytes)
        except BodyTooLarge:
            return answer(request, Reply(ResultCode.BODY_TOO_LARGE, message=ResultCode.BODY_TOO_LARGE.explain(
                f"上限 {config.max_body_bytes} 字节", f"at most {config.max_body_bytes} bytes")))
        except ClientDisconnect:
            return answer(request, Reply(ResultCode.REQUEST_TIMEOUT))
        body_sign = request.headers.get(BODY_SIGN_HEADER)
        reply = await anyio.to_thread.run_sync(
            partial(service.submit, raw, dry_run=record["dry_run"], record=record, body_sign=body_sign),
            limiter=large_bodies if len(raw) > SMALL_BODY_BYTES else None)
        return answer(request, reply)

    @app.get("/healthz", summary="Liveness")
    def healthz() -> dict:
        return body(ResultCode.SUCCESS, {"status": "alive"})

    @app.get("/readyz", summary="Readiness: accounts loaded and the landing zone writable")
    def readyz() -> JSONResponse:
        checks = {"accountsLoaded": accounts.loaded, "landingWritable": _writable(landing.root),
                  "auditWritable": _writable(audit.directory)}
        ready = all(checks.values())
        if accounts.last_error:
            checks["accountsLastError"] = accounts.last_error
        code = ResultCode.SUCCESS if ready else ResultCode.ACCOUNTS_UNAVAILABLE if not accounts.loaded \
            else ResultCode.LANDING_UNAVAILABLE
        return JSONResponse(body(code, checks), status_code=code.http_status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: ResultCode.NOT_FOUND, 405: ResultCode.METHOD_NOT_ALLOWED}.get(exc.status_code,
                                                                                  ResultCode.BAD_QUERY)
        return answer(request, Reply(code))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return answer(request, Reply(ResultCode.BAD_QUERY))

    def openapi() -> dict:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, description=app.description,
                                   routes=app.routes)
            _, definitions = models_json_schema([(schema.SubmitRequest, "validation")],
                                                ref_template="#/components/schemas/{model}")
            document.setdefault("components", {}).setdefault("schemas", {}).update(definitions["$defs"])
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi
    return app


def _writable(directory) -> bool:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".ready-"):
            return True
    except OSError:
        return False
