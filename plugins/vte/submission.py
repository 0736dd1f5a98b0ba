"""What a submission must look like: the checks shared by the JSON interface and the Excel channel.

``validate_payload`` returns every problem of a submission at once, each naming the row
(``data[3]``), the field and what was expected, in Chinese and English. It knows nothing of HTTP, so
the Excel channel refuses exactly what the interface refuses. ``rule_warnings`` reports the
consistency rules (``vte.domain.rules``) a well-formed submission breaks; those rows are accepted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from functools import cache
from operator import itemgetter
from zoneinfo import ZoneInfo

from vte import domain

INT4_MAX = 2**31 - 1  # the warehouse stores counts as PostgreSQL integer
# Department rows in one day's submission: the largest hospitals report a few hundred departments across
# their campuses; ten times that is still a report, more is not.
MAX_ROWS = 3000
# Validation stops at this many problems: enough to correct a file, and a bound on the work any body causes.
MAX_PROBLEMS = 1000
# No report date before this is accepted, whatever an institution's joining date says (documented floor).
EARLIEST_REPORT_DATE = date(2020, 1, 1)
# Epoch seconds or milliseconds: anything with more digits is not a clock reading (10^14 ms is year 5138).
TIMESTAMP_LIMIT = 10**14
TEXT_MAX_LENGTH = 100  # hospital, dept and accessKey
REPORT_TIMEZONE = ZoneInfo("Asia/Shanghai")  # report dates are days in China Standard Time
DATE_PATTERN = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
ENVELOPE_FIELDS = ("accessKey", "date", "timestamp", "sign", "data")
CREDENTIAL_FIELDS = ("accessKey", "timestamp", "sign")
PAYLOAD_FIELDS = ("date", "data")
ROW_TEXT_FIELDS = ("hospital", "dept")
ROW_TEXT_LABELS = {"hospital": "院区", "dept": "科室id"}


class ProblemCode(StrEnum):
    WRONG_TYPE = "wrong_type"
    MISSING_FIELD = "missing_field"
    UNKNOWN_FIELD = "unknown_field"
    NOT_AN_INTEGER = "not_an_integer"
    NEGATIVE_COUNT = "negative_count"
    COUNT_TOO_LARGE = "count_too_large"
    BAD_DATE = "bad_date"
    FUTURE_DATE = "future_date"
    DATE_TOO_EARLY = "date_too_early"
    TOO_MANY_ROWS = "too_many_rows"
    BAD_TIMESTAMP = "bad_timestamp"
    EMPTY_DATA = "empty_data"
    EMPTY_TEXT = "empty_text"
    BAD_TEXT = "bad_text"
    DUPLICATE_DEPARTMENT = "duplicate_department"


@dataclass(frozen=True)
class Problem:
    code: str
    row: int | None  # 0-based index into data, None for the envelope
    field: str | None
    expected: str
    message_zh: str
    message_en: str

    def to_dict(self) -> dict:
        return {
            "code": str(self.code),
            "row": self.row,
            "field": self.field,
            "expected": self.expected,
            "message": f"{self.message_zh} / {self.message_en}",
        }


@dataclass(frozen=True)
class RuleWarning:
    row: int
    rule_id: str
    severity: str  # 'quarantine' or 'warning'
    lesser: str
    greater: str
    message_zh: str
    message_en: str

    def to_dict(self) -> dict:
        return {
            "row": self.row,
            "ruleId": self.rule_id,
            "severity": self.severity,
            "fields": [self.lesser, self.greater],
            "message": f"{self.message_zh} / {self.message_en}",
        }


def shown(name: object) -> str:
    """A client-supplied name made safe to echo: printable, valid UTF-8, bounded."""
    text = "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in str(name))
    return text if len(text) <= 60 else text[:57] + "..."


def json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number with a fraction or exponent"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


_TYPE_ZH = {"null": "null", "boolean": "布尔值", "integer": "整数", "string": "字符串", "array": "数组",
            "object": "对象", "number with a fraction or exponent": "小数"}


def _where(row: int | None, field: str | None) -> str:
    if row is None:
        return shown(field) if field else "请求体"
    return f"data[{row}]" + (f".{shown(field)}" if field else "")


def _where_en(row: int | None, field: str | None) -> str:
    if row is None:
        return shown(field) if field else "request body"
    return f"data[{row}]" + (f".{shown(field)}" if field else "")


class _Enough(Exception):
    """The problem limit is reached: stop looking."""


class _Collector:
    def __init__(self, limit: int):
        self.problems: list[Problem] = []
        self.limit = limit

    def add(self, code: ProblemCode, row: int | None, field: str | None, expected: str, zh: str, en: str) -> None:
        self.problems.append(Problem(code, row, shown(field) if field is not None else None, expected,
                                     f"{_where(row, field)}：{zh}", f"{_where_en(row, field)}: {en}"))
        if len(self.problems) >= self.limit:
            raise _Enough

    def wrong_type(self, row: int | None, field: str | None, expected: str, expected_zh: str, value) -> None:
        got = json_type(value)
        self.add(ProblemCode.WRONG_TYPE, row, field, expected,
                 f"应为{expected_zh}，实际为{_TYPE_ZH.get(got, got)}", f"expected {expected}, got {got}")

    def check_fields(self, obj: dict, row: int | None, allowed: tuple[str, ...]) -> list[str]:
        """Report missing and unknown keys; return the allowed keys present."""
        for name in allowed:
            if name not in obj:
                self.add(ProblemCode.MISSING_FIELD, row, name, "a value (every field is required)",
                         "缺少必填字段", "required field is missing")
        for name in obj:
            if name not in allowed:
                self.add(ProblemCode.UNKNOWN_FIELD, row, name, "no such field",
                         "未知字段（接口未定义此字段，请删除或更正字段名）",
                         "unknown field (not part of the interface: remove it or correct its name)")
        return [name for name in allowed if name in obj]

    def text(self, obj: dict, row: int | None, field: str, label_zh: str) -> str | None:
        value = obj[field]
        if not isinstance(value, str):
            self.wrong_type(row, field, "a non-empty string", f"非空字符串（{label_zh}）", value)
            return None
        if not value.strip():
            self.add(ProblemCode.EMPTY_TEXT, row, field, "a non-empty string",
                     f"{label_zh}不能为空", "must not be empty")
            return None
        if len(value) > TEXT_MAX_LENGTH or not value.isprintable():
            self.add(ProblemCode.BAD_TEXT, row, field,
                     f"at most {TEXT_MAX_LENGTH} printable characters",
                     f"{label_zh}最多{TEXT_MAX_LENGTH}个字符，且不能含控制字符",
                     f"must be at most {TEXT_MAX_LENGTH} printable characters (no control characters)")
            return None
        return value

    def count(self, obj: dict, row: int, field: str) -> None:
        value = obj[field]
        expected = f"an integer from 0 to {INT4_MAX}"
        if isinstance(value, float):
            self.add(ProblemCode.NOT_AN_INTEGER, row, field, expected,
                     f"应为整数（人数/例数），实际为 {shown(repr(value))}",
                     f"expected an integer count, got {shown(repr(value))} (write counts without a decimal point)")
        elif isinstance(value, bool) or not isinstance(value, int):
            self.wrong_type(row, field, expected, f"0到{INT4_MAX}之间的整数", value)
        elif value < 0:
            self.add(ProblemCode.NEGATIVE_COUNT, row, field, expected,
                     f"例数不能为负数，实际为 {value}", f"a count cannot be negative, got {value}")
        elif value > INT4_MAX:
            self.add(ProblemCode.COUNT_TOO_LARGE, row, field, expected,
                     f"超出允许的最大值 {INT4_MAX}", f"exceeds the largest allowed count {INT4_MAX}")


def report_today() -> date:
    return datetime.now(REPORT_TIMEZONE).date()


def _check_date(c: _Collector, value, today: date, earliest: date) -> None:
    expected = f"a calendar date yyyy-MM-dd, not after {today.isoformat()} (Asia/Shanghai)"
    if not isinstance(value, str):
        c.wrong_type(None, "date", expected, "yyyy-MM-dd 格式的日期字符串", value)
        return
    try:
        if not DATE_PATTERN.match(value):
            raise ValueError
        day = date.fromisoformat(value)
    except ValueError:
        c.add(ProblemCode.BAD_DATE, None, "date", expected,
              f"上报日期应为 yyyy-MM-dd 格式的真实日期，实际为 {shown(repr(value))}",
              f"expected a real calendar date as yyyy-MM-dd, got {shown(repr(value))}")
        return
    if day > today:
        c.add(ProblemCode.FUTURE_DATE, None, "date", expected,
              f"上报日期 {value} 晚于今天（{today.isoformat()}，北京时间）",
              f"report date {value} is in the future (today is {today.isoformat()}, Asia/Shanghai)")
    elif day < earliest:
        c.add(ProblemCode.DATE_TOO_EARLY, None, "date", f"a report date from {earliest.isoformat()} on",
              f"上报日期 {value} 早于本机构可上报的最早日期 {earliest.isoformat()}（机构加入平台的日期，"
              f"且不早于 {EARLIEST_REPORT_DATE.isoformat()}）；如需补报更早的数据，请联系平台调整加入日期",
              f"report date {value} is before {earliest.isoformat()}, the first date accepted from this institution"
              f" (its joining date, never before {EARLIEST_REPORT_DATE.isoformat()}): to back-fill earlier days, ask"
              " the platform to move the joining date")


@cache
def _row_shape() -> tuple[frozenset[str], Callable[[dict], tuple]]:
    names = domain.count_field_names()
    return frozenset((*ROW_TEXT_FIELDS, *names)), itemgetter(*names)


def _is_good_text(value) -> bool:
    return type(value) is str and 0 < len(value) <= TEXT_MAX_LENGTH and value.isprintable() and not value.isspace()


_ONLY_INT = frozenset({int})  # type(True) is bool: a boolean count is not well formed


def _well_formed(row: dict) -> bool:
    """True when a row has exactly the standard's fields, good texts and counts in range: the rows of almost
    every submission, checked at once so that only a row with a problem is walked field by field."""
    fields, counts_of = _row_shape()
    if row.keys() != fields or not (_is_good_text(row["hospital"]) and _is_good_text(row["dept"])):
        return False
    counts = counts_of(row)
    return _ONLY_INT.issuperset(map(type, counts)) and 0 <= min(counts) and max(counts) <= INT4_MAX


def _check_rows(c: _Collector, data) -> None:
    if not isinstance(data, list):
        c.wrong_type(None, "data", "a non-empty array of department rows", "科室数据数组", data)
        return
    if not data:
        c.add(ProblemCode.EMPTY_DATA, None, "data", "a non-empty array of department rows",
              "上报数据不能为空（至少一个科室）", "must hold at least one department row")
        return
    if len(data) > MAX_ROWS:
        c.add(ProblemCode.TOO_MANY_ROWS, None, "data", f"at most {MAX_ROWS} department rows",
              f"科室行数过多：{len(data)} 行，上限 {MAX_ROWS} 行（每个院区的每个科室一行）",
              f"too many department rows: {len(data)}, at most {MAX_ROWS} (one row per department of each campus)")
        return
    row_fields = (*ROW_TEXT_FIELDS, *domain.count_field_names())
    first_seen: dict[tuple[str, str], int] = {}
    for index, row in enumerate(data):
        if not isinstance(row, dict):
            c.wrong_type(index, None, "an object (one department row)", "对象（一个科室的数据）", row)
            continue
        if _well_formed(row):
            texts = {"hospital": row["hospital"], "dept": row["dept"]}
        else:  # find and name each problem, field by field
            present = c.check_fields(row, index, row_fields)
            texts = {name: c.text(row, index, name, ROW_TEXT_LABELS[name])
                     for name in ROW_TEXT_FIELDS if name in present}
            for name in present:
                if name not in ROW_TEXT_FIELDS:
                    c.count(row, index, name)
        if texts.get("hospital") is not None and texts.get("dept") is not None:
            key = (texts["hospital"], texts["dept"])
            if key in first_seen:
                c.add(ProblemCode.DUPLICATE_DEPARTMENT, index, "dept",
                      "each hospital + dept at most once per submission",
                      f"院区“{shown(key[0])}”的科室“{shown(key[1])}”与 data[{first_seen[key]}] 重复",
                      f"hospital {shown(key[0])!r} dept {shown(key[1])!r} repeats data[{first_seen[key]}]")
            else:
                first_seen[key] = index


def _check_credentials(c: _Collector, payload: dict) -> None:
    if "accessKey" in payload:
        c.text(payload, None, "accessKey", "accessKey")
    if "timestamp" in payload:
        value = payload["timestamp"]
        expected = "an integer: epoch seconds, or milliseconds when at least 10^12"
        if isinstance(value, bool) or not isinstance(value, int):
            c.wrong_type(None, "timestamp", expected, "整数时间戳（秒或毫秒）", value)
        elif not 0 < value < TIMESTAMP_LIMIT:
            c.add(ProblemCode.BAD_TIMESTAMP, None, "timestamp", expected,
                  "时间戳应为当前的 Unix 时间（秒或毫秒）", "must be the current Unix time in seconds or milliseconds")
    if "sign" in payload:
        if not isinstance(payload["sign"], str):
            c.wrong_type(None, "sign", "a non-empty string (md5 hex)", "非空字符串（md5 十六进制）", payload["sign"])
        elif not payload["sign"]:
            c.add(ProblemCode.EMPTY_TEXT, None, "sign", "a non-empty string (md5 hex)", "签名不能为空",
                  "must not be empty")


def credential_problems(body, *, limit: int = MAX_PROBLEMS) -> list[Problem]:
    """What stops a request from being authenticated: not an object, accessKey, timestamp or sign absent or malformed.

    It looks at nothing else, so a request nobody has signed costs no validation of its rows.
    """
    c = _Collector(limit)
    try:
        if not isinstance(body, dict):
            c.wrong_type(None, None, "a JSON object", "JSON 对象", body)
            return c.problems
        for name in CREDENTIAL_FIELDS:
            if name not in body:
                c.add(ProblemCode.MISSING_FIELD, None, name, "a value (every field is required)",
                      "缺少必填字段", "required field is missing")
        _check_credentials(c, body)
    except _Enough:
        pass
    return c.problems


def validate_payload(payload: dict, *, envelope: bool = False, today: date | None = None,
                     earliest: date | None = None, limit: int = MAX_PROBLEMS) -> list[Problem]:
    """The problems of a submission ``{"date": ..., "data": [...]}`` (empty list: well-formed), at most ``limit``.

    With ``envelope=True`` the interface's signed envelope is checked too (accessKey, timestamp, sign).
    ``today`` is the reporting day in Asia/Shanghai (a later report date is refused); ``earliest`` is the
    institution's first report date (an earlier one is refused, as is one before EARLIEST_REPORT_DATE).
    Validation stops at ``limit`` problems, so the work is bounded whatever the body holds.
    """
    c = _Collector(limit)
    try:
        _check_payload(c, payload, envelope, today or report_today(), max(earliest or EARLIEST_REPORT_DATE,
                                                                         EARLIEST_REPORT_DATE))
    except _Enough:
        pass
    return c.problems


def _check_payload(c: _Collector, payload, envelope: bool, today: date, earliest: date) -> None:
    if not isinstance(payload, dict):
        c.wrong_type(None, None, "a JSON object", "JSON 对象", payload)
        return
    present = c.check_fields(payload, None, ENVELOPE_FIELDS if envelope else PAYLOAD_FIELDS)
    if envelope:
        _check_credentials(c, payload)
    if "date" in present:
        _check_date(c, payload["date"], today, earliest)
    if "data" in present:
        _check_rows(c, payload["data"])


def rule_warnings(data: list[dict]) -> list[RuleWarning]:
    """The consistency rules broken by the rows of a well-formed submission, row by row."""
    out = []
    for index, row in enumerate(data):
        for rule in domain.broken_rules(row):
            values = f"{row[rule.lesser]} > {row[rule.greater]}"
            where = f"data[{index}]（{row['hospital']} / {row['dept']}）"
            if rule.severity == "quarantine":
                zh = "该行已接收，但在提交更正版本之前不计入指标（隔离）"
                en = ("the row is accepted but held out of the indicators (quarantined)"
                      " until a corrected version arrives")
            else:
                zh = "该行计入指标并标记提醒"
                en = "the row is published with a warning flag"
            out.append(RuleWarning(
                index, rule.rule_id, rule.severity, rule.lesser, rule.greater,
                f"{where}：{rule.describe_zh()}（{values}）；{zh}",
                f"data[{index}] ({row['hospital']} / {row['dept']}): {rule.describe_en()} ({values}); {en}",
            ))
    return out
