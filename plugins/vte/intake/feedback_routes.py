"""``GET /xt/api/feedback``: an institution fetches its feedback report, signed like a submission.

The reports are files the pipeline writes after each publication (vte.feedback), so this works while the
warehouse is down. ``date`` narrows the report to one report date; without it the whole report comes back.
"""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from vte.publication import feedback
from vte.intake.audit import safe_text
from vte.intake.responses import ResultCode, body
from vte.intake.service import Reply
from vte.intake.signing import parse_timestamp
from vte.submission import DATE_PATTERN

FEEDBACK_PATH = "/xt/api/feedback"

router = APIRouter()


def _answer(request: Request, reply: Reply) -> JSONResponse:
    request.state.record["code"] = int(reply.code)
    request_id = request.state.request_id
    return JSONResponse(body(reply.code, reply.data, reply.message), status_code=reply.code.http_status,
                        headers={**reply.headers, "X-Request-ID": request_id})


def _bad(detail_zh: str, detail_en: str) -> Reply:
    return Reply(ResultCode.BAD_QUERY, message=ResultCode.BAD_QUERY.explain(detail_zh, detail_en))


async def authenticate_query(request: Request) -> Reply | None:
    """Authenticate a GET signed in its query (accessKey, timestamp, sign, as a submission is); None when it holds,
    and the request's record then names the institution."""
    query = request.query_params
    missing = [name for name in ("accessKey", "timestamp", "sign") if not query.get(name)]
    if missing:
        return _bad(f"缺少参数 {', '.join(missing)}", f"missing parameter(s) {', '.join(missing)}")
    timestamp = parse_timestamp(query["timestamp"])
    if timestamp is None:
        return _bad("timestamp 应为当前的 Unix 时间（秒或毫秒）的整数",
                    "timestamp must be the current Unix time in seconds or milliseconds, as an integer")
    record = request.state.record
    record["access_key"] = safe_text(query["accessKey"])
    credentials = {"accessKey": query["accessKey"], "timestamp": timestamp, "sign": query["sign"]}
    return await run_in_threadpool(request.app.state.service.authenticate, credentials, record)


@router.get(
    FEEDBACK_PATH,
    summary="数据上报反馈报告 / The institution's feedback report",
    description="Query parameters accessKey, timestamp, sign (= md5(accessKey + accessSecret + timestamp)) and "
                "optionally date (yyyy-MM-dd). Returns the refused requests, quarantined and warning rows with "
                "the broken rules in words, and late and missing report dates of the latest publication.",
    openapi_extra={"parameters": [
        {"name": "accessKey", "in": "query", "required": True, "schema": {"type": "string"}},
        {"name": "timestamp", "in": "query", "required": True, "schema": {"type": "integer"},
         "description": "epoch seconds or milliseconds; a new one for every request"},
        {"name": "sign", "in": "query", "required": True, "schema": {"type": "string"},
         "description": "md5(accessKey + accessSecret + timestamp), hex; good for one request"},
        {"name": "date", "in": "query", "required": False, "schema": {"type": "string", "format": "date"}},
    ]},
)
async def feedback_report(request: Request) -> JSONResponse:
    query = request.query_params
    report_date = query.get("date")
    if report_date is not None:
        try:
            if not DATE_PATTERN.match(report_date):
                raise ValueError
            date.fromisoformat(report_date)
        except ValueError:
            return _answer(request, _bad(f"date {safe_text(report_date)!r} 不是 yyyy-MM-dd 日期",
                                         f"date {safe_text(report_date)!r} is not a yyyy-MM-dd date"))
    refusal = await authenticate_query(request)
    if refusal is not None:
        return _answer(request, refusal)
    record = request.state.record
    report = await run_in_threadpool(feedback.latest_report, record["institution_code"],
                                    request.app.state.settings)
    if report is None:
        return _answer(request, Reply(ResultCode.NOT_FOUND, message=ResultCode.NOT_FOUND.explain(
            "尚无反馈报告（数据发布后生成）", "no feedback report yet (one is written after each publication)")))
    if report_date is not None:
        record["report_date"] = report_date
        report = feedback.for_report_date(report, report_date)
    return _answer(request, Reply(ResultCode.SUCCESS, report))
