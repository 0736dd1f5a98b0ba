"""The Excel channel over HTTP, mounted into the intake app (it reuses the app's IntakeService).

- ``GET  /xt/excel/template``: the template workbook.
- ``POST /xt/api/upload``: multipart ``accessKey``, ``timestamp``, ``sign`` (the interface's A.5 rule,
  account cache, replay window and rate limit) and ``file``; answers ``{code, message, data}``.
- ``/upload``: the page for people: sign in with accessKey and accessSecret, upload, read the result.
- ``GET /upload/template``: the template pre-filled with the signed-in hospital's campuses and last month's
  departments (``vte.excel.prefill``).

Every request is written to the intake's audit log by the app's middleware from ``request.state.record``.
"""

from __future__ import annotations

import hmac
import logging
from pathlib import Path
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.requests import ClientDisconnect

from vte.config import get_settings
from vte.excel import prefill
from vte.excel.form import FormRefused, UploadForm, read_upload_form
from vte.excel.parser import MAX_BYTES
from vte.excel.session import (MAX_AGE_SECONDS, SESSION_COOKIE, SIGN_IN_COOKIE, SIGN_IN_MAX_AGE_SECONDS, Session,
                               Sessions, csrf_matches, session_key)
from vte.excel.template import build_template
from vte.excel.upload import Upload, receive_workbook
from vte.intake.accounts import KeyStatus
from vte.intake.audit import safe_text
from vte.intake.body import BodyTooLarge, read_body
from vte.intake.responses import ResultCode, body
from vte.intake.service import MAX_PROBLEMS_SHOWN, IntakeService, Reply
from vte.intake.signing import parse_timestamp
from vte.submission import report_today

TEMPLATE_PATH = "/xt/excel/template"
UPLOAD_API_PATH = "/xt/api/upload"
PAGE_PATH = "/upload"
PREFILLED_TEMPLATE_PATH = f"{PAGE_PATH}/template"  # under the page's path: the session cookie is sent to it
TEMPLATE_FILE_NAME = "vte-excel-template.xlsx"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MULTIPART_OVERHEAD = 64 * 1024  # the form's other fields and part headers around the file
AUTH_FIELDS = ("accessKey", "timestamp", "sign")
MAX_FORM_FIELDS = 10  # more is not a hospital's upload
SMALL_FORM_LIMIT = 16 * 1024  # the sign-in and sign-out forms

log = logging.getLogger(__name__)
router = APIRouter()
pages = Jinja2Templates(directory=Path(__file__).parent / "templates")


def _service(request: Request) -> IntakeService:
    return request.app.state.service


def _sessions(request: Request) -> Sessions:
    sessions = getattr(request.app.state, "excel_sessions", None)
    if sessions is None:
        sessions = request.app.state.excel_sessions = Sessions(session_key(get_settings()))
    return sessions


def _answer(request: Request, reply: Reply) -> JSONResponse:
    request.state.record["code"] = int(reply.code)
    request_id = request.state.request_id
    return JSONResponse(body(reply.code, {**(reply.data or {}), "requestId": request_id}, reply.message),
                        status_code=reply.code.http_status, headers={**reply.headers, "X-Request-ID": request_id})


def _record_upload(request: Request, upload: Upload) -> None:
    """What the audit line of the request says about the workbook."""
    record = request.state.record
    record.update(row_count=upload.row_count, problem_count=len(upload.errors),
                  warning_count=sum(len(s["warnings"]) for s in upload.submissions))
    if upload.submissions:
        record["report_date"] = upload.submissions[0]["date"]
    if len(upload.submissions) == 1:
        only = upload.submissions[0]
        record.update(submission_id=only["submissionId"], version=only["version"], duplicate=only["duplicate"])


DATE_REFUSALS = {"month_locked": ResultCode.MONTH_LOCKED, "institution_suspended": ResultCode.INSTITUTION_SUSPENDED,
                 "institution_closed": ResultCode.INSTITUTION_CLOSED}


def _upload_reply(upload: Upload) -> Reply:
    file = {"fileName": upload.file_name, "sha256": upload.sha256, "rowCount": upload.row_count}
    if upload.accepted:
        dates = ", ".join(s["date"] for s in upload.submissions)
        return Reply(ResultCode.SUCCESS, {**file, "submissions": upload.submissions,
                                          "skippedRows": upload.skipped_rows},
                     message=f"成功：{len(upload.submissions)} 个日期（{dates}） / "
                             f"accepted: {len(upload.submissions)} date(s) ({dates})")
    count = len(upload.errors)
    message = (f"Excel 文件校验未通过，未保存任何数据：共 {count} 处问题 / "
               f"The workbook was refused and nothing was stored: {count} problem(s)")
    errors = [e.to_dict() for e in upload.errors[:MAX_PROBLEMS_SHOWN]]
    # A workbook whose every cell is right but whose dates fall in a locked month, or on dates the institution is
    # suspended or closed: that refusal's own code.
    kinds = {e.code for e in upload.errors}
    code = DATE_REFUSALS[kinds.pop()] if len(kinds) == 1 and kinds <= DATE_REFUSALS.keys() else \
        ResultCode.INVALID_PAYLOAD
    return Reply(code, {**file, "errorCount": count, "errors": errors}, message=message)


def _too_large(request: Request) -> bool:
    declared = request.headers.get("content-length", "")
    return declared.isdigit() and int(declared) > MAX_BYTES + MULTIPART_OVERHEAD


def _form_problems(form: UploadForm) -> list[dict]:
    """Missing and unknown form fields, reported like the interface reports JSON fields."""
    missing = [name for name in AUTH_FIELDS if not form.fields.get(name, "").strip()]
    if form.content is None:
        missing.append("file")
    problems = [{"code": "missing_field", "field": name,
                 "message": f"缺少表单字段 {name} / the form field {name} is missing"} for name in missing]
    for name in form.unknown:
        shown = safe_text(name, 60)
        problems.append({"code": "unknown_field", "field": shown,
                         "message": f"未知的表单字段 {shown} / unknown form field {shown}"})
    return problems


def _form_refusal(exc: FormRefused) -> Reply:
    code = ResultCode.BODY_TOO_LARGE if exc.too_large else ResultCode.INVALID_PAYLOAD
    return Reply(code, message=code.explain(exc.zh, exc.en))


async def _small_form(request: Request) -> dict[str, str]:
    """A short URL-encoded form (sign in, sign out): read whole but bounded, never spooled."""
    try:
        raw = await read_body(request, SMALL_FORM_LIMIT)
    except (BodyTooLarge, ClientDisconnect):
        return {}
    return {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace"), max_num_fields=MAX_FORM_FIELDS).items()}


@router.get(TEMPLATE_PATH, summary="下载 Excel 上报模板 / Download the Excel template",
            response_class=Response, responses={200: {"content": {XLSX_MEDIA_TYPE: {}}}})
def download_template() -> Response:
    return Response(build_template(), media_type=XLSX_MEDIA_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{TEMPLATE_FILE_NAME}"'})


@router.post(UPLOAD_API_PATH, summary="Excel 数据导入 / Upload a workbook (one submission per date)",
             openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                 "type": "object", "required": ["accessKey", "timestamp", "sign", "file"],
                 "properties": {"accessKey": {"type": "string"},
                                "timestamp": {"type": "integer", "description": "a new one for every request"},
                                "sign": {"type": "string", "description": "md5(accessKey + accessSecret + timestamp)"},
                                "file": {"type": "string", "format": "binary"}}}}}}})
async def upload_api(request: Request) -> JSONResponse:
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        return _answer(request, Reply(ResultCode.UNSUPPORTED_MEDIA_TYPE, message=(
            "Content-Type 须为 multipart/form-data / Content-Type must be multipart/form-data")))
    if _too_large(request):
        return _answer(request, Reply(ResultCode.BODY_TOO_LARGE, message=(
            f"{ResultCode.BODY_TOO_LARGE.message}: 文件上限 {MAX_BYTES} 字节 / the file may be at most {MAX_BYTES} bytes")))
    record = request.state.record
    service = _service(request)

    async def authenticate(fields: dict[str, str]) -> Reply | None:
        record["access_key"] = safe_text(fields["accessKey"])
        timestamp = parse_timestamp(fields["timestamp"])
        if timestamp is None:
            return Reply(ResultCode.INVALID_PAYLOAD, message=ResultCode.INVALID_PAYLOAD.explain(
                "timestamp 应为当前的 Unix 时间（秒或毫秒）的整数", "timestamp must be the current Unix time in seconds or"
                " milliseconds, as an integer"))
        credentials = {"accessKey": fields["accessKey"].strip(), "timestamp": timestamp, "sign": fields["sign"].strip()}
        return await run_in_threadpool(service.authenticate, credentials, record)

    try:
        form = await read_upload_form(request, limit=MAX_BYTES + MULTIPART_OVERHEAD, text_fields=AUTH_FIELDS,
                                      max_parts=MAX_FORM_FIELDS, authenticate=authenticate)
    except FormRefused as exc:
        return _answer(request, _form_refusal(exc))
    except ClientDisconnect:
        return _answer(request, Reply(ResultCode.REQUEST_TIMEOUT))
    if form.early_refusal is not None:
        return _answer(request, form.early_refusal)
    problems = _form_problems(form)
    if problems:
        return _answer(request, Reply(ResultCode.INVALID_PAYLOAD, {"errorCount": len(problems), "errors": problems},
                                      message=f"{ResultCode.INVALID_PAYLOAD.message}：表单字段有误 / "
                                              f"the form's fields are wrong"))
    if not form.authenticated:
        refusal = await authenticate(form.fields)
        if refusal is not None:
            return _answer(request, refusal)
    return await _receive(request, form, record["institution_code"], form.fields["accessKey"].strip(),
                          record["joined_on"])


async def _receive_workbook(request: Request, form: UploadForm, institution_code: str, access_key: str,
                            joined_on) -> Upload:
    """Parse and land the uploaded workbook off the event loop; locked months, and the dates the institution is
    suspended or closed (its account's, in the request's record), refuse their dates."""
    service = _service(request)
    periods = request.state.record.get("status_periods", ())
    return await run_in_threadpool(
        receive_workbook, service.landing_for(request.state.record), institution_code=institution_code, access_key=access_key,
        file_name=form.file_name, content=form.content, earliest=joined_on,
        refusing_lock=lambda report_date: service.locks.refusing_lock(institution_code, report_date),
        status_on=lambda report_date: next((p for p in periods if p.covers(report_date)), None))


async def _receive(request: Request, form: UploadForm, institution_code: str, access_key: str,
                   joined_on) -> JSONResponse:
    try:
        upload = await _receive_workbook(request, form, institution_code, access_key, joined_on)
    except OSError:
        log.exception("landing an uploaded workbook failed")
        return _answer(request, Reply(ResultCode.LANDING_UNAVAILABLE))
    _record_upload(request, upload)
    reply = _upload_reply(upload)
    if request.state.record.get("sandbox") and upload.accepted:
        reply.data["sandbox"] = True
    return _answer(request, reply)


# --- the page for people --------------------------------------------------------------------------


def current_session(request: Request) -> Session | None:
    """The signed-in session, if its account is still active with the same secret (its account in the record)."""
    sessions = _sessions(request)
    session = sessions.read(request.cookies.get(SESSION_COOKIE))
    if session is None:
        return None
    status, account = _service(request).accounts.lookup(session.access_key)
    if status is not KeyStatus.ACTIVE or not sessions.still_valid(session, account.access_secret):
        return None
    request.state.record.update(access_key=session.access_key, institution_code=session.institution_code,
                                joined_on=account.joined_on, status_periods=account.status_periods,
                                sandbox=account.is_test)
    return session


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _sign_in_page(request: Request, *, error: str | None = None, access_key: str = "",
                  status_code: int = 200) -> Response:
    token, cookie = _sessions(request).sign_in_token()
    response = pages.TemplateResponse(request, "sign_in.html", {
        "csrf": token, "error": error, "access_key": access_key, "page_path": PAGE_PATH,
        "template_path": TEMPLATE_PATH}, status_code=status_code)
    response.set_cookie(SIGN_IN_COOKIE, cookie, max_age=SIGN_IN_MAX_AGE_SECONDS, httponly=True, samesite="strict",
                        secure=_secure(request), path=PAGE_PATH)
    return response


def _upload_page(request: Request, session: Session, *, upload: Upload | None = None, error: str | None = None,
                 status_code: int = 200) -> Response:
    return pages.TemplateResponse(request, "upload.html", {
        "session": session, "csrf": session.csrf, "upload": upload, "error": error, "page_path": PAGE_PATH,
        "template_path": PREFILLED_TEMPLATE_PATH, "max_errors": MAX_PROBLEMS_SHOWN,
        "sandbox": bool(request.state.record.get("sandbox"))},
        status_code=status_code)


@router.get(PAGE_PATH, include_in_schema=False)
async def upload_page(request: Request) -> Response:
    session = await run_in_threadpool(current_session, request)
    if session is None:
        return _sign_in_page(request)
    return _upload_page(request, session)


@router.get(PREFILLED_TEMPLATE_PATH, include_in_schema=False)
async def prefilled_template(request: Request) -> Response:
    """The template with the signed-in hospital's campuses and last month's departments; signed out, the page."""
    session = await run_in_threadpool(current_session, request)
    if session is None:
        return RedirectResponse(PAGE_PATH, status_code=303)
    landing = _service(request).landing_for(request.state.record)
    filled = await run_in_threadpool(prefill.last_month, landing, session.institution_code, report_today())
    content = await run_in_threadpool(build_template, filled)
    file_name = f"vte-excel-template-{session.institution_code}.xlsx"
    return Response(content, media_type=XLSX_MEDIA_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{file_name}"', "Cache-Control": "no-store"})


@router.post(f"{PAGE_PATH}/sign-in", include_in_schema=False)
async def sign_in(request: Request) -> Response:
    form = await _small_form(request)
    access_key = str(form.get("accessKey", "")).strip()
    access_secret = str(form.get("accessSecret", ""))
    sessions = _sessions(request)
    record = request.state.record
    record["access_key"] = safe_text(access_key)
    if not sessions.sign_in_token_matches(request.cookies.get(SIGN_IN_COOKIE), form.get("csrf")):
        record["code"] = int(ResultCode.BAD_QUERY)
        return _sign_in_page(request, error="页面已过期，请重新登录 / The page expired: please sign in again",
                             access_key=access_key, status_code=403)
    service = _service(request)
    client = request.client.host if request.client else "unknown"
    if service.limiter.take(f"sign-in:{client}"):
        record["code"] = int(ResultCode.RATE_LIMITED)
        return _sign_in_page(request, error=ResultCode.RATE_LIMITED.message, access_key=access_key,
                             status_code=429)
    status, account = await run_in_threadpool(service.accounts.lookup, access_key)
    if status is KeyStatus.UNAVAILABLE:
        record["code"] = int(ResultCode.ACCOUNTS_UNAVAILABLE)
        return _sign_in_page(request, error=ResultCode.ACCOUNTS_UNAVAILABLE.message, access_key=access_key,
                             status_code=503)
    if status is not KeyStatus.ACTIVE or not hmac.compare_digest(account.access_secret.encode(),
                                                                 access_secret.encode()):
        # One answer for an unknown key, a revoked key and a wrong secret: nothing to probe.
        record["code"] = int(ResultCode.BAD_SIGNATURE)
        return _sign_in_page(request, error="accessKey 或 accessSecret 不正确 / Wrong accessKey or accessSecret",
                             access_key=access_key, status_code=401)
    record.update(code=int(ResultCode.SUCCESS), institution_code=account.institution_code, sandbox=account.is_test)
    _, cookie = sessions.open(access_key, account.institution_code, account.access_secret)
    response = RedirectResponse(PAGE_PATH, status_code=303)
    response.set_cookie(SESSION_COOKIE, cookie, max_age=MAX_AGE_SECONDS, httponly=True, samesite="strict",
                        secure=_secure(request), path=PAGE_PATH)
    response.delete_cookie(SIGN_IN_COOKIE, path=PAGE_PATH)
    return response


@router.post(f"{PAGE_PATH}/sign-out", include_in_schema=False)
async def sign_out(request: Request) -> Response:
    form = await _small_form(request)
    session = _sessions(request).read(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse(PAGE_PATH, status_code=303)
    if session is not None and csrf_matches(session, form.get("csrf")):
        request.state.record.update(access_key=session.access_key, institution_code=session.institution_code)
        response.delete_cookie(SESSION_COOKIE, path=PAGE_PATH)
    return response


@router.post(PAGE_PATH, include_in_schema=False)
async def upload_from_page(request: Request) -> Response:
    session = await run_in_threadpool(current_session, request)
    if session is None:
        return _sign_in_page(request, error="请先登录 / Please sign in first", status_code=401)
    record = request.state.record
    too_large = (f"{ResultCode.BODY_TOO_LARGE.message}: 文件上限 {MAX_BYTES} 字节 / "
                 f"the file may be at most {MAX_BYTES} bytes")
    if _too_large(request):
        record["code"] = int(ResultCode.BODY_TOO_LARGE)
        return _upload_page(request, session, status_code=413, error=too_large)
    try:
        form = await read_upload_form(request, limit=MAX_BYTES + MULTIPART_OVERHEAD, text_fields=("csrf",),
                                      max_parts=2)
    except FormRefused as exc:
        reply = _form_refusal(exc)
        record["code"] = int(reply.code)
        return _upload_page(request, session, status_code=reply.code.http_status,
                            error=too_large if exc.too_large else f"{exc.zh} / {exc.en}")
    except ClientDisconnect:
        record["code"] = int(ResultCode.REQUEST_TIMEOUT)
        return _upload_page(request, session, status_code=408, error=ResultCode.REQUEST_TIMEOUT.message)
    if not csrf_matches(session, form.fields.get("csrf")):
        record["code"] = int(ResultCode.BAD_QUERY)
        return _upload_page(request, session, status_code=403,
                            error="页面已过期，请刷新后重试 / The page expired: reload it and try again")
    if form.content is None or not form.file_name:
        record["code"] = int(ResultCode.INVALID_PAYLOAD)
        return _upload_page(request, session, status_code=422, error="请选择文件 / Choose a file")
    if _service(request).limiter.take(session.access_key):
        record["code"] = int(ResultCode.RATE_LIMITED)
        return _upload_page(request, session, status_code=429, error=ResultCode.RATE_LIMITED.message)
    try:
        upload = await _receive_workbook(request, form, session.institution_code, session.access_key,
                                         record.get("joined_on"))
    except OSError:
        log.exception("landing an uploaded workbook failed")
        record["code"] = int(ResultCode.LANDING_UNAVAILABLE)
        return _upload_page(request, session, status_code=503, error=ResultCode.LANDING_UNAVAILABLE.message)
    _record_upload(request, upload)
    reply = _upload_reply(upload)
    record["code"] = int(reply.code)
    return _upload_page(request, session, upload=upload, status_code=reply.code.http_status)
