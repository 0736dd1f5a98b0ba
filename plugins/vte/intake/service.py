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


def _reject_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate key {submission.shown(key)!r} in one object (对象中存在重复的键)")
        obj[key] = value
    return obj


def _reject_constant(name: str):
    raise ValueError(f"{name} is not allowed in JSON (不允许 {name})")


def parse_json(body: bytes):
    """Strict JSON: UTF-8, no NaN/Infinity, no repeated keys. Raises ValueError naming the problem."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"the body is not UTF-8 (请求体须为 UTF-8 编码): {exc.reason} at byte {exc.start}") from None
    try:
        return json.loads(text, object_pairs_hook=_reject_duplicate_keys, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("the JSON is nested too deeply (JSON 嵌套层级过深)") from None


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
        except ValueError as exc:
            return Reply(ResultCode.MALFORMED_JSON, message=f"{ResultCode.MALFORMED_JSON.message}: {exc}")
        problems = submission.validate_payload(body, envelope=True)
        if isinstance(body, dict):
            record["access_key"] = submission.shown(body.get("accessKey")) if isinstance(body.get("accessKey"),
                                                                                          str) else None
            if isinstance(body.get("data"), list):
                record["row_count"] = len(body["data"])
        record["problem_count"] = len(problems)
        if any(p.row is None and p.field in (*AUTH_FIELDS, None) for p in problems):
            return self._refuse_content(problems)

        refusal = self._authenticate(body, record)
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

    def _authenticate(self, body: dict, record: dict) -> Reply | None:
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
            return Reply(ResultCode.BAD_SIGNATURE, message=(
                f"{ResultCode.BAD_SIGNATURE.message}（sign 应为 md5(accessKey + accessSecret + timestamp) 的十六进制小写"
                f" / sign must be the hex md5 of accessKey + accessSecret + timestamp)"))
        now = self._clock()
        if not signing.within_window(timestamp, now, self.config.replay_window_seconds):
            skew = signing.timestamp_seconds(timestamp) - now
            return Reply(ResultCode.TIMESTAMP_OUT_OF_WINDOW, message=(
                f"{ResultCode.TIMESTAMP_OUT_OF_WINDOW.message}: 与服务器时间相差 {skew:+.0f} 秒，允许 ±"
                f"{self.config.replay_window_seconds:.0f} 秒 / {skew:+.0f} s from the server's clock, "
                f"allowed ±{self.config.replay_window_seconds:.0f} s"))
        wait = self.limiter.take(access_key)
        if wait:
            return Reply(ResultCode.RATE_LIMITED, headers={"Retry-After": str(max(1, round(wait + 0.5)))})
        return None

    def _refuse_content(self, problems: list[submission.Problem]) -> Reply:
        shown = [p.to_dict() for p in problems[:MAX_PROBLEMS_SHOWN]]
        count = len(problems)
        message = f"{ResultCode.INVALID_PAYLOAD.message}：共 {count} 处问题 / {count} problem(s)"
        if count > len(shown):
            message += f"（仅列出前 {len(shown)} 处 / the first {len(shown)} are listed）"
        return Reply(ResultCode.INVALID_PAYLOAD, {"problemCount": count, "problems": shown}, message=message)
