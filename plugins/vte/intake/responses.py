"""The interface's result codes: one table, used by every answer and documented in docs/intake-api.md.

A code is the HTTP status followed by two digits, so a reader of either can tell the other.
"""

from __future__ import annotations

from enum import IntEnum


class ResultCode(IntEnum):
    SUCCESS = 0
    MALFORMED_JSON = 40001
    BAD_QUERY = 40002
    BAD_SIGNATURE = 40101
    TIMESTAMP_OUT_OF_WINDOW = 40102
    UNKNOWN_ACCESS_KEY = 40103
    SIGNATURE_REUSED = 40104
    BAD_BODY_SIGNATURE = 40105
    ACCESS_KEY_REVOKED = 40301
    INSTITUTION_SUSPENDED = 40302
    INSTITUTION_CLOSED = 40303
    NOT_FOUND = 40401
    METHOD_NOT_ALLOWED = 40501
    REQUEST_TIMEOUT = 40801
    BODY_TOO_LARGE = 41301
    UNSUPPORTED_MEDIA_TYPE = 41501
    INVALID_PAYLOAD = 42201
    MONTH_LOCKED = 42301
    RATE_LIMITED = 42901
    INTERNAL_ERROR = 50001
    ACCOUNTS_UNAVAILABLE = 50301
    LANDING_UNAVAILABLE = 50302

    @property
    def http_status(self) -> int:
        return 200 if self is ResultCode.SUCCESS else self.value // 100

    @property
    def message(self) -> str:
        """The code's standing message, Chinese first, then English."""
        zh, en = MESSAGES[self]
        return zh if self is ResultCode.SUCCESS else f"{zh} / {en}"

    def explain(self, detail_zh: str, detail_en: str) -> str:
        """The standing message with the particulars of one request, still Chinese first."""
        zh, en = MESSAGES[self]
        return f"{zh}：{detail_zh} / {en}: {detail_en}"


MESSAGES = {
    ResultCode.SUCCESS: ("成功", "Success"),
    ResultCode.MALFORMED_JSON: ("请求体不是合法的 JSON", "The request body is not valid JSON"),
    ResultCode.BAD_QUERY: ("查询参数不正确", "Bad query parameter"),
    ResultCode.BAD_SIGNATURE: ("签名错误", "The signature does not match"),
    ResultCode.TIMESTAMP_OUT_OF_WINDOW: ("时间戳超出允许范围（请求过期或时钟不准）",
                                         "The timestamp is outside the allowed window"),
    ResultCode.UNKNOWN_ACCESS_KEY: ("未知的 accessKey", "Unknown accessKey"),
    ResultCode.SIGNATURE_REUSED: ("该签名已使用过（每个请求须用新的时间戳重新签名）",
                                  "This signature was already used: sign every request anew with a fresh timestamp"),
    ResultCode.BAD_BODY_SIGNATURE: ("请求体签名错误", "The body signature does not match"),
    ResultCode.ACCESS_KEY_REVOKED: ("该 accessKey 已停用", "This accessKey has been revoked"),
    ResultCode.INSTITUTION_SUSPENDED: ("该机构在此上报日期处于暂停状态，不接收上报",
                                       "The institution is suspended on this report date: no report is accepted"),
    ResultCode.INSTITUTION_CLOSED: ("该机构已关闭，自关闭日期起不接收上报",
                                    "The institution is closed: no report is accepted from its closing date on"),
    ResultCode.NOT_FOUND: ("接口地址不存在", "No such endpoint"),
    ResultCode.METHOD_NOT_ALLOWED: ("不支持该请求方法", "Method not allowed"),
    ResultCode.REQUEST_TIMEOUT: ("请求发送过慢，连接已关闭", "The request was sent too slowly: the connection was closed"),
    ResultCode.BODY_TOO_LARGE: ("请求体过大", "The request body is too large"),
    ResultCode.UNSUPPORTED_MEDIA_TYPE: ("Content-Type 须为 application/json", "Content-Type must be application/json"),
    ResultCode.INVALID_PAYLOAD: ("上报数据校验未通过", "The submission was refused"),
    ResultCode.MONTH_LOCKED: ("该月数据已审核锁定，不再接收上报", "The month is locked after review: no more reports for it"),
    ResultCode.RATE_LIMITED: ("请求过于频繁，请稍后重试", "Too many requests: retry later"),
    ResultCode.INTERNAL_ERROR: ("服务内部错误，请稍后重试", "Internal error: retry later"),
    ResultCode.ACCOUNTS_UNAVAILABLE: ("账户信息暂不可用，请稍后重试", "Accounts are not available yet: retry later"),
    ResultCode.LANDING_UNAVAILABLE: ("数据暂时无法保存，请稍后重试", "The submission could not be stored: retry later"),
}


def body(code: ResultCode, data: dict | None = None, message: str | None = None) -> dict:
    """The Appendix A result: ``{"code", "message", "data"}``."""
    return {"code": int(code), "message": message or code.message, "data": data}


# What the sender should do about each answer, Chinese then English: served by the intake (/codes and the
# OpenAPI document), so a vendor on an intranet needs no other document.
ADVICE = {
    ResultCode.SUCCESS: ("无需处理", "nothing"),
    ResultCode.MALFORMED_JSON: ("修正 JSON 编码（语法、UTF-8、重复键、NaN、嵌套过深）", "fix the JSON encoder"),
    ResultCode.BAD_QUERY: ("修正 URL（dryRun 只能是 true 或 false）", "fix the URL"),
    ResultCode.BAD_SIGNATURE: ("核对 accessSecret 与签名规则 md5(accessKey + accessSecret + timestamp)",
                               "check the secret and the sign rule"),
    ResultCode.TIMESTAMP_OUT_OF_WINDOW: ("校准服务器时钟（NTP），每个请求重新签名", "synchronise the clock (NTP); sign each request anew"),
    ResultCode.UNKNOWN_ACCESS_KEY: ("核对 accessKey；如无账户请向平台申请", "check the key; ask the platform for an account"),
    ResultCode.SIGNATURE_REUSED: ("每个请求用新的时间戳重新签名（每秒多于一个请求时用毫秒）",
                                  "sign every request anew with a fresh timestamp (milliseconds if more than one a second)"),
    ResultCode.BAD_BODY_SIGNATURE: ("以 accessSecret 为密钥，对发送的原始字节计算 HMAC-SHA256",
                                    "compute the HMAC over the exact bytes sent, keyed with the accessSecret"),
    ResultCode.ACCESS_KEY_REVOKED: ("向平台索取新的凭证", "ask the platform for the new credentials"),
    ResultCode.INSTITUTION_SUSPENDED: ("暂停期间的日期无需上报，也不计入上报完整性；恢复日期起可再上报；如有误请联系平台",
                                       "nothing: dates of a suspension are not expected; report again from the"
                                       " date it resumes; if it is wrong, ask the platform"),
    ResultCode.INSTITUTION_CLOSED: ("关闭日期起无需上报；此前的日期仍可上报或更正；如有误请联系平台",
                                    "nothing: no report is expected from the closing date on; earlier dates may"
                                    " still be reported; if it is wrong, ask the platform"),
    ResultCode.NOT_FOUND: ("使用 POST /xt/api/submit", "use POST /xt/api/submit"),
    ResultCode.METHOD_NOT_ALLOWED: ("使用 POST", "use POST"),
    ResultCode.REQUEST_TIMEOUT: ("检查网络后重试", "check the network; retry"),
    ResultCode.BODY_TOO_LARGE: ("一次上报为一整天的数据，不能拆分：请联系平台调高上限",
                                "a submission is a whole day and cannot be split: ask the platform to raise the limit"),
    ResultCode.UNSUPPORTED_MEDIA_TYPE: ("发送 Content-Type: application/json", "send Content-Type: application/json"),
    ResultCode.INVALID_PAYLOAD: ("逐条更正列出的问题后重新上报", "correct every listed problem and resubmit"),
    ResultCode.MONTH_LOCKED: ("未保存任何数据；如需更正已锁定的月份，请联系卫健委开放限时例外",
                              "nothing is stored; to correct a locked month ask the commission for a time-boxed exception"),
    ResultCode.RATE_LIMITED: ("按 Retry-After 等待后重试", "wait for Retry-After, then retry"),
    ResultCode.INTERNAL_ERROR: ("稍后重试，并向平台提供 requestId", "retry later; report the requestId"),
    ResultCode.ACCOUNTS_UNAVAILABLE: ("按 Retry-After 等待后重试", "retry after Retry-After"),
    ResultCode.LANDING_UNAVAILABLE: ("稍后重试", "retry later"),
}

# An example of the data each refusal carries (the answer's ``data``; requestId is added to every answer).
EXAMPLE_DATA = {
    ResultCode.SUCCESS: {"submissionId": "0b6d3c1e-…", "version": 1, "duplicate": False,
                         "receivedAt": "2026-03-02T00:05:12+08:00", "warnings": []},
    ResultCode.INVALID_PAYLOAD: {"problemCount": 1, "validationStopped": False, "problems": [
        {"code": "negative_count", "row": 0, "field": "newPe", "expected": "an integer from 0 to 2147483647",
         "message": "data[0].newPe 应为 0 到 2147483647 的整数 / data[0].newPe must be an integer from 0 to 2147483647"}]},
    ResultCode.INSTITUTION_SUSPENDED: {"reportDate": "2026-03-05", "status": "suspended", "fromDate": "2026-03-01",
                                       "resumedOn": "2026-04-01"},
    ResultCode.INSTITUTION_CLOSED: {"reportDate": "2026-03-05", "status": "closed", "fromDate": "2026-03-01",
                                    "resumedOn": None},
    ResultCode.MONTH_LOCKED: {"reportDate": "2026-03-05", "month": "2026-03", "reason": "province_accepted",
                              "lockedAt": "2026-04-12T10:30:00+08:00"},
}
