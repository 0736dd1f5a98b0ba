"""Handling one submission, independent of the web framework: parse, authenticate, validate, land.

The order is fixed so that nobody can make the service work for a request it has not authenticated: the
body must be JSON; accessKey, timestamp and sign must be well-formed (nothing else is looked at before the
signature is checked); then the key, the signature, the optional body signature, the replay window, the
single use of the signature and the rate limit; then the content, stopping at MAX_PROBLEMS problems; only
then is anything stored.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import date

from vte import submission
from vte.intake import signing
from vte.intake.accounts import AccountCache, Found, KeyStatus, status_refusal, well_formed_date
from vte.intake.config import IntakeConfig
from vte.intake.locks import LockBook
from vte.intake.ratelimit import TokenBuckets
from vte.intake.responses import ResultCode
from vte.intake.signatures import UsedSignatures
from vte.landing import LandingZone

log = logging.getLogger(__name__)

MAX_PROBLEMS_SHOWN = submission.MAX_PROBLEMS


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
    obj = dict(pairs)
    if len(obj) == len(pairs):  # the usual case, decided in C
        return obj
    seen = set()
    for key, _ in pairs:
        if key in seen:
            name = submission.shown(key)
            raise MalformedJSON(f"同一对象中键“{name}”重复", f"duplicate key {name!r} in one object")
        seen.add(key)
    raise AssertionError("unreachable: fewer keys than pairs means one repeats")


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


def _month_of(value: object) -> date | None:
    """The month of the envelope's ``date`` when it is one (the content check names a malformed one later)."""
    day = well_formed_date(value)
    return day.replace(day=1) if day else None


class IntakeService:
    def __init__(self, *, accounts: AccountCache, landing: LandingZone, config: IntakeConfig,
                 used_signatures: UsedSignatures, locks: LockBook | None = None, clock=time.time,
                 sandbox: LandingZone | None = None):
        self.accounts = accounts
        self.locks = locks or LockBook(None)
        self.landing = landing
        self.sandbox = sandbox  # where test accounts' submissions land (vte.sandbox); never the ingest's
        self.config = config
        self.used_signatures = used_signatures
        self.limiter = TokenBuckets(config.rate_per_second, config.rate_burst)
        self._clock = clock

    def submit(self, raw: bytes, *, dry_run: bool, record: dict, body_sign: str | None = None) -> Reply:
        try:
            body = parse_json(raw)
        except MalformedJSON as exc:
            return Reply(ResultCode.MALFORMED_JSON, message=ResultCode.MALFORMED_JSON.explain(exc.zh, exc.en))
        if isinstance(body, dict):
            key = body.get("accessKey")
            record["access_key"] = submission.shown(key) if isinstance(key, str) else None
            if isinstance(body.get("data"), list):
                record["row_count"] = len(body["data"])
        problems = submission.credential_problems(body)
        if problems:
            record["problem_count"] = len(problems)
            return self._refuse_content(problems)

        refusal, found = self._authenticate(body, record, raw=raw, body_sign=body_sign)
        if refusal is not None:
            return refusal
        problems = submission.validate_payload(body, envelope=True, earliest=record["joined_on"])
        record["problem_count"] = len(problems)
        if problems:
            return self._refuse_content(problems)
        record["report_date"] = body["date"]
        refusal = self.lock_refusal(record["institution_code"], date.fromisoformat(body["date"]), found)
        if refusal is not None:
            return refusal

        payload = {"date": body["date"], "data": body["data"]}
        warnings = [w.to_dict() for w in submission.rule_warnings(payload["data"])]
        record["warning_count"] = len(warnings)
        if dry_run:
            return Reply(ResultCode.SUCCESS, {"dryRun": True, "rowCount": len(payload["data"]), "warnings": warnings})
        try:
            landed = self.landing_for(record).land(institution_code=record["institution_code"],
                                                   access_key=body["accessKey"], channel="api", payload=payload)
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
            **({"sandbox": True} if record.get("sandbox") else {}),
        })

    def landing_for(self, record: dict) -> LandingZone:
        """The landing zone of the authenticated request's account: the sandbox's for a test account."""
        if not record.get("sandbox"):
            return self.landing
        if self.sandbox is None:
            raise OSError("this service has no sandbox landing zone")
        return self.sandbox

    def authenticate(self, credentials: dict, record: dict, *, raw: bytes | None = None,
                     body_sign: str | None = None) -> Reply | None:
        """Check well-formed ``accessKey``, ``timestamp`` and ``sign``; None when the request may go on.

        ``body_sign``, when the client sent one, is the optional signature over the whole body (``raw``).
        On success ``record`` names the institution, its first report date (``joined_on``), the dates it is
        suspended or closed (``status_periods``) and whether the account is a sandbox (test) one (``sandbox``);
        a ``date`` among the credentials (the JSON envelope's) that falls on one of those is refused with the
        status's own code.
        """
        return self._authenticate(credentials, record, raw=raw, body_sign=body_sign)[0]

    def _authenticate(self, credentials: dict, record: dict, *, raw: bytes | None,
                      body_sign: str | None) -> tuple[Reply | None, Found]:
        """``authenticate``, and what the registry said: the account and, read with it, the lock of the month
        of the envelope's ``date`` when that is a date."""
        found = self.accounts.find(credentials["accessKey"], _month_of(credentials.get("date")))
        return self._check_credentials(credentials, record, found, raw=raw, body_sign=body_sign), found

    def _check_credentials(self, credentials: dict, record: dict, found: Found, *, raw: bytes | None,
                           body_sign: str | None) -> Reply | None:
        access_key, timestamp, given = credentials["accessKey"], credentials["timestamp"], credentials["sign"]
        status, account = found.status, found.account
        if status is KeyStatus.UNAVAILABLE:
            return Reply(ResultCode.ACCOUNTS_UNAVAILABLE, headers={"Retry-After": "5"})
        if status is KeyStatus.UNKNOWN:
            return Reply(ResultCode.UNKNOWN_ACCESS_KEY)
        if status is KeyStatus.REVOKED:
            return Reply(ResultCode.ACCESS_KEY_REVOKED)
        record["institution_code"] = account.institution_code
        record["joined_on"] = account.joined_on
        record["status_periods"] = account.status_periods
        record["sandbox"] = account.is_test
        if not signing.signature_matches(access_key, account.access_secret, timestamp, given):
            return Reply(ResultCode.BAD_SIGNATURE, message=ResultCode.BAD_SIGNATURE.explain(
                "sign 应为 md5(accessKey + accessSecret + timestamp) 的十六进制字符串",
                "sign must be the hex md5 of accessKey + accessSecret + timestamp"))
        if body_sign is not None and not signing.body_signature_matches(account.access_secret, raw or b"", body_sign):
            return Reply(ResultCode.BAD_BODY_SIGNATURE, message=ResultCode.BAD_BODY_SIGNATURE.explain(
                f"{signing.BODY_SIGN_HEADER} 应为以 accessSecret 为密钥、对请求体原始字节计算的 HMAC-SHA256 十六进制值",
                f"{signing.BODY_SIGN_HEADER} must be the hex HMAC-SHA256 of the exact body bytes, keyed with the"
                " accessSecret"))
        now = self._clock()
        window = self.config.replay_window_seconds
        if not signing.within_window(timestamp, now, window):
            skew = signing.timestamp_seconds(timestamp) - now
            return Reply(ResultCode.TIMESTAMP_OUT_OF_WINDOW, message=ResultCode.TIMESTAMP_OUT_OF_WINDOW.explain(
                f"与服务器时间相差 {skew:+.0f} 秒，允许 ±{window:.0f} 秒",
                f"{skew:+.0f} s from the server's clock, allowed ±{window:.0f} s"))
        try:
            first_use = self.used_signatures.claim(access_key, given, signing.timestamp_seconds(timestamp) + window)
        except OSError:
            log.exception("the used-signature store cannot be written")
            return Reply(ResultCode.LANDING_UNAVAILABLE)
        if not first_use:
            return Reply(ResultCode.SIGNATURE_REUSED)
        wait = self.limiter.take(access_key)
        if wait:
            return Reply(ResultCode.RATE_LIMITED, headers={"Retry-After": str(max(1, round(wait + 0.5)))})
        refused = status_refusal(account, credentials.get("date"))
        if refused is not None:
            record["report_date"] = refused.report_date.isoformat()
            return Reply(refused.code, refused.data, message=refused.message())
        return None

    def lock_refusal(self, institution_code: str, report_date: date, found: Found | None = None) -> Reply | None:
        """The refusal of a report for a date of a locked month (no open exception); None when it may land.
        ``found`` is the account's read, which answers for the month it read."""
        lock = self.locks.refusing_lock(institution_code, report_date, found)
        if lock is None:
            return None
        return Reply(ResultCode.MONTH_LOCKED, {"reportDate": report_date.isoformat(), "month": f"{lock.month:%Y-%m}",
                                               "lockedAt": lock.locked_at.isoformat(), "reason": lock.reason},
                     message=ResultCode.MONTH_LOCKED.explain(
                         f"{report_date.isoformat()} 属于 {lock.month:%Y-%m}，已于{lock.describe_zh()}锁定；如需更正，"
                         "请联系卫健委开放例外",
                         f"{report_date.isoformat()} is in {lock.month:%Y-%m}, locked ({lock.describe_en()}); to"
                         " correct it, ask the commission for an exception"))

    def _refuse_content(self, problems: list[submission.Problem]) -> Reply:
        shown = [p.to_dict() for p in problems]
        count = len(problems)
        stopped = count >= submission.MAX_PROBLEMS
        stopped_zh = f"（校验在前 {count} 处问题后停止）" if stopped else ""
        stopped_en = f" (validation stopped after the first {count})" if stopped else ""
        message = ResultCode.INVALID_PAYLOAD.explain(f"共 {count} 处问题{stopped_zh}", f"{count} problem(s){stopped_en}")
        return Reply(ResultCode.INVALID_PAYLOAD, {"problemCount": count, "validationStopped": stopped,
                                                  "problems": shown}, message=message)
