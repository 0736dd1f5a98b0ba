"""The hospital's own report over HTTP, mounted into the intake app beside the upload page.

- ``GET /upload/reports``: the page, for the hospital signed in on the upload page (its session cookie);
- ``GET /upload/reports/download``: the same report as one self-contained HTML file (inline CSS, no links out);
- ``GET /upload/reports/download.json``: the same report as JSON, the API's ``data``;
- ``GET /upload/reports/my-reports.css``: the page's stylesheet, served by the intake itself;
- ``GET /xt/api/my-report``: the report as ``{code, message, data}``, signed in the query like a submission.

The pages load nothing but the intake's own stylesheet and run no script: a day of the calendar opens with a
link to its own section (CSS ``:target``), a problem with ``<details>``.
"""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from vte.excel.routes import PAGE_PATH as UPLOAD_PATH
from vte.excel.routes import current_session
from vte.intake.feedback_routes import authenticate_query
from vte.intake.responses import ResultCode, body
from vte.intake.service import Reply
from vte.reports import assembly
from vte.reports.source import my_report

PAGE_PATH = f"{UPLOAD_PATH}/reports"  # under the upload page's path: its session cookie is sent here
DOWNLOAD_PATH = f"{PAGE_PATH}/download"
STYLESHEET_PATH = f"{PAGE_PATH}/my-reports.css"
API_PATH = "/xt/api/my-report"
STYLESHEET = Path(__file__).parent / "static" / "my-reports.css"

router = APIRouter()
pages = Jinja2Templates(directory=Path(__file__).parent / "templates")

NO_REPORT = ("尚无报告：每次数据发布后生成", "no report yet: one is written after each publication")


def _context(report: dict | None, *, standalone: bool) -> dict:
    context = {"report": report, "standalone": standalone, "no_report": NO_REPORT, "page_path": PAGE_PATH,
               "download_path": DOWNLOAD_PATH, "stylesheet_path": STYLESHEET_PATH, "upload_path": UPLOAD_PATH,
               "legend": assembly.status_legend()}
    if standalone:
        context["stylesheet"] = STYLESHEET.read_text()
    if report is not None:
        context["months"] = assembly.calendar_months(report["days"])
        context["days_shown"] = assembly.days_shown(report["days"])
    return context


async def _signed_in_report(request: Request):
    session = await run_in_threadpool(current_session, request)
    if session is None:
        return None, None
    report = await run_in_threadpool(my_report, session.institution_code, request.app.state.settings)
    return session, report


@router.get(PAGE_PATH, include_in_schema=False)
async def report_page(request: Request) -> Response:
    session, report = await _signed_in_report(request)
    if session is None:
        return RedirectResponse(UPLOAD_PATH, status_code=303)
    context = {**_context(report, standalone=False), "session": session, "csrf": session.csrf}
    return pages.TemplateResponse(request, "my_reports.html", context, headers={"Cache-Control": "no-store"})


def _file_name(session, report: dict | None, suffix: str) -> str:
    as_of = report["asOf"] if report else "none"
    return f"vte-my-report-{session.institution_code}-{as_of}.{suffix}"


@router.get(DOWNLOAD_PATH, include_in_schema=False)
async def download_html(request: Request) -> Response:
    session, report = await _signed_in_report(request)
    if session is None:
        return RedirectResponse(UPLOAD_PATH, status_code=303)
    html = pages.get_template("my_reports.html").render(_context(report, standalone=True))
    return Response(html, media_type="text/html; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{_file_name(session, report, "html")}"',
        "Cache-Control": "no-store"})


@router.get(f"{DOWNLOAD_PATH}.json", include_in_schema=False)
async def download_json(request: Request) -> Response:
    session, report = await _signed_in_report(request)
    if session is None:
        return RedirectResponse(UPLOAD_PATH, status_code=303)
    content = json.dumps(report, ensure_ascii=False, indent=1)
    return Response(content, media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="{_file_name(session, report, "json")}"',
        "Cache-Control": "no-store"})


@router.get(STYLESHEET_PATH, include_in_schema=False)
def stylesheet() -> Response:
    return Response(STYLESHEET.read_text(), media_type="text/css; charset=utf-8",
                    headers={"Cache-Control": "public, max-age=3600"})


def _answer(request: Request, reply: Reply) -> JSONResponse:
    request.state.record["code"] = int(reply.code)
    request_id = request.state.request_id
    return JSONResponse(body(reply.code, reply.data, reply.message), status_code=reply.code.http_status,
                        headers={**reply.headers, "X-Request-ID": request_id})


@router.get(
    API_PATH,
    summary="我的上报 / The institution's own report",
    description="Query parameters accessKey, timestamp, sign (= md5(accessKey + accessSecret + timestamp)), as for "
                "/xt/api/feedback. Returns the report the upload site shows: report days with their status and "
                "versions, every problem grouped by what to do first with the offending values and the rule in "
                "words, the indicators beside the county's and the province's, and refused requests by code.",
    openapi_extra={"parameters": [
        {"name": "accessKey", "in": "query", "required": True, "schema": {"type": "string"}},
        {"name": "timestamp", "in": "query", "required": True, "schema": {"type": "integer"},
         "description": "epoch seconds or milliseconds; a new one for every request"},
        {"name": "sign", "in": "query", "required": True, "schema": {"type": "string"},
         "description": "md5(accessKey + accessSecret + timestamp), hex; good for one request"},
    ]},
)
async def report_api(request: Request) -> JSONResponse:
    refusal = await authenticate_query(request)
    if refusal is not None:
        return _answer(request, refusal)
    report = await run_in_threadpool(my_report, request.state.record["institution_code"],
                                     request.app.state.settings)
    if report is None:
        return _answer(request, Reply(ResultCode.NOT_FOUND, message=ResultCode.NOT_FOUND.explain(*NO_REPORT)))
    return _answer(request, Reply(ResultCode.SUCCESS, report))
