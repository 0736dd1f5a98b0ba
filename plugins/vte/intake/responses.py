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
