"""Handling one submission, independent of the web framework: parse, authenticate, validate, land.

The order is fixed: the body must be JSON; accessKey, timestamp and sign must be well-formed to
authenticate at all (otherwise every problem is reported); then the key, the signature, the replay
window and the rate limit are checked; then the content; only then is anything stored.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field

from vte import submission
from vte.intake import signing
from vte.intake.accounts import AccountCache, KeyStatus
from vte.intake.config import IntakeConfig
from vte.intake.ratelimit import TokenBuckets
from vte.intake.responses import ResultCode
from vte.landing import LandingZone

log = logging.getLogger(__name__)

AUTH_FIELDS = ("accessKey", "timestamp", "sign")
MAX_PROBLEMS_SHOWN = 1000  # a pathological body could hold hundreds of thousands


@dataclass
class Reply:
    code: ResultCode
    data: dict | None = None
    message: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


class MalformedJSON(ValueError):
    def __init__(self, zh: str, en: str):
        super().__init__(en)
        self.zh, self.en = zh, en


def _reject_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    obj = {}
    for key, value in pairs:
        if key in obj:
            name = submission.shown(key)
            raise MalformedJSON(f"同一对象中键“{name}”重复", f"duplicate key {name!r} in one object")
        obj[key] = value
    return obj


def _reject_constant(name: str):
    raise MalformedJSON(f"JSON 不允许 {name}", f"{name} is not allowed in JSON")


def parse_json(body: bytes):
    """Strict JSON: UTF-8, no NaN/Infinity, no repeated keys. Raises MalformedJSON naming the problem."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedJSON(f"请求体须为 UTF-8 编码（第 {exc.start} 字节）",
                            f"the body is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    try:
        return json.loads(text, object_pairs_hook=_reject_duplicate_keys, parse_constant=_reject_constant)
    except RecursionError:
        raise MalformedJSON("JSON 嵌套层级过深", "the JSON is nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise MalformedJSON(f"第 {exc.lineno} 行第 {exc.colno} 列附近有语法错误", str(exc)) from None
    except MalformedJSON:
        raise
    except ValueError as exc:  # e.g. an integer literal beyond Python's digit limit
        raise MalformedJSON("JSON 中有无法读取的值", str(exc)) from None


class IntakeService:
    def __init__(self, *, accounts: AccountCache, landing: LandingZone, config: IntakeConfig,
                 clock=time.time):
        self.accounts = accounts
        self.landing = landing
        self.config = config
        self.limiter = TokenBuckets(config.rate_per_second, config.rate_burst)
        self._clock = clock

    def submit(self, raw: bytes, *, dry_run: bool, record: dict) -> Reply:
        try:
            body = parse_json(raw)
        except MalformedJSON as exc:
            return Reply(ResultCode.MALFORMED_JSON, message=ResultCode.MALFORMED_JSON.explain(exc.zh, exc.en))
        problems = submission.validate_payload(body, envelope=True)
        if isinstance(body, dict):
            record["access_key"] = submission.shown(body.get("accessKey")) if isinstance(body.get("accessKey"),
                                                                                          str) else None
            if isinstance(body.get("data"), list):
                record["row_count"] = len(body["data"])
        record["problem_count"] = len(problems)
        if any(p.row is None and p.field in (*AUTH_FIELDS, None) for p in problems):
            return self._refuse_content(problems)

        refusal = self.authenticate(body, record)
        if refusal is not None:
            return refusal
        if problems:
            return self._refuse_content(problems)
        record["report_date"] = body["date"]

        payload = {"date": body["date"], "data": body["data"]}
        warnings = [w.to_dict() for w in submission.rule_warnings(payload["data"])]
        record["warning_count"] = len(warnings)
        if dry_run:
            return Reply(ResultCode.SUCCESS, {"dryRun": True, "rowCount": len(payload["data"]), "warnings": warnings})
        try:
            landed = self.landing.land(institution_code=record["institution_code"], access_key=body["accessKey"],
                                       channel="api", payload=payload)
        except OSError:
            log.exception("landing failed")
            return Reply(ResultCode.LANDING_UNAVAILABLE)
        record.update(submission_id=landed.submission_id, version=landed.version, duplicate=landed.duplicate)
        return Reply(ResultCode.SUCCESS, {
            "submissionId": landed.submission_id,
            "version": landed.version,
            "duplicate": landed.duplicate,
            "receivedAt": landed.received_at,
            "warnings": warnings,
        })

    def authenticate(self, body: dict, record: dict) -> Reply | None:
        access_key, timestamp, given = body["accessKey"], body["timestamp"], body["sign"]
        status, account = self.accounts.lookup(access_key)
        if status is KeyStatus.UNAVAILABLE:
            return Reply(ResultCode.ACCOUNTS_UNAVAILABLE, headers={"Retry-After": "5"})
        if status is KeyStatus.UNKNOWN:
            return Reply(ResultCode.UNKNOWN_ACCESS_KEY)
        if status is KeyStatus.REVOKED:
            return Reply(ResultCode.ACCESS_KEY_REVOKED)
        record["institution_code"] = account.institution_code
        if not signing.signature_matches(access_key, account.access_secret, timestamp, given):
            return Reply(ResultCode.BAD_SIGNATURE, message=ResultCode.BAD_SIGNATURE.explain(
                "sign 应为 md5(accessKey + accessSecret + timestamp) 的十六进制字符串",
                "sign must be the hex md5 of accessKey + accessSecret + timestamp"))
        now = self._clock()
        if not signing.within_window(timestamp, now, self.config.replay_window_seconds):
            skew = signing.timestamp_seconds(timestamp) - now
            window = self.config.replay_window_seconds
            return Reply(ResultCode.TIMESTAMP_OUT_OF_WINDOW, message=ResultCode.TIMESTAMP_OUT_OF_WINDOW.explain(
                f"与服务器时间相差 {skew:+.0f} 秒，允许 ±{window:.0f} 秒",
                f"{skew:+.0f} s from the server's clock, allowed ±{window:.0f} s"))
        wait = self.limiter.take(access_key)
        if wait:
            return Reply(ResultCode.RATE_LIMITED, headers={"Retry-After": str(max(1, round(wait + 0.5)))})
        return None

    def _refuse_content(self, problems: list[submission.Problem]) -> Reply:
        shown = [p.to_dict() for p in problems[:MAX_PROBLEMS_SHOWN]]
        count = len(problems)
        listed_zh = f"（仅列出前 {len(shown)} 处）" if count > len(shown) else ""
        listed_en = f" (the first {len(shown)} are listed)" if count > len(shown) else ""
        message = ResultCode.INVALID_PAYLOAD.explain(f"共 {count} 处问题{listed_zh}", f"{count} problem(s){listed_en}")
        return Reply(ResultCode.INVALID_PAYLOAD, {"problemCount": count, "problems": shown}, message=message)
