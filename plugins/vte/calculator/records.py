"""The patient CSV: its columns, and reading it into episodes with every bad cell named.

One row per patient episode discharged on the report day (see docs/calculator.md for the column
reference). ``read_records`` either returns every episode, or raises ``RecordsError`` carrying every
problem found (up to ``MAX_PROBLEMS``), each naming the row, the column, the value and what is expected,
in Chinese and English; nothing is computed from a file with errors.

Nothing here logs or prints: a patient id stays in memory (and out of every ``repr`` and message).
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from vte.submission import TEXT_MAX_LENGTH, shown

MAX_PROBLEMS = 1000  # enough to correct a file; a bound on the work a broken file causes
MAX_AGE = 150
ITEM_SEPARATOR = ";"  # between the items of a list cell
ASSESSMENT_SEPARATOR = "="  # between an assessment's time and its result

VTE_LEVELS = ("low", "mid", "high")  # VTE risk (Caprini / Padua …): 低 / 中 / 高风险
BLEEDING_LEVELS = ("low", "high")  # bleeding risk: 低 / 高风险
PROPHYLAXIS_KINDS = ("basic", "mechanical", "drug")  # 基础 / 机械 / 药物预防
VTE_TEST_KINDS = ("CTPA", "US", "VQ")  # Table 1, highVteCheck: "VTE 相关检查(CTPA,US,VQ)"

_DATETIME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(:[0-9]{2})?$")
_INTEGER = re.compile(r"^[0-9]{1,3}$")


@dataclass(frozen=True)
class Assessment:
    at: datetime
    level: str  # one of VTE_LEVELS


@dataclass(frozen=True)
class Episode:
    """One discharged patient episode, as read from one CSV row."""

    row: int  # the row of the file (the header is row 1), for messages
    hospital: str
    dept: str
    patient_id: str = field(repr=False)  # opaque; only compared, never shown
    age: int
    admitted_at: datetime
    discharged_at: datetime
    vte_on_admission: bool
    vte_assessments: tuple[Assessment, ...]
    bleeding_assessments: tuple[str, ...]  # each one of BLEEDING_LEVELS
    prophylaxis: frozenset[str]  # subset of PROPHYLAXIS_KINDS
    vte_tests: frozenset[str]  # subset of VTE_TEST_KINDS
    surgery: bool
    vte_diagnosis: bool
    new_dvt: bool
    new_pte: bool
    principal_pte: bool
    died: bool


@dataclass(frozen=True)
class Records:
    episodes: tuple[Episode, ...]
    date: date  # the day every episode was discharged on


@dataclass(frozen=True)
class CsvProblem:
    row: int | None  # row of the file (header = 1); None for the file as a whole
    column: str | None
    value: str | None  # as shown (bounded, printable); None when not shown (patient ids, whole rows)
    expected: str
    message_zh: str
    message_en: str

    def __str__(self) -> str:
        return f"{self.message_zh} / {self.message_en}"


class RecordsError(ValueError):
    """The file has problems; ``problems`` lists them (at most MAX_PROBLEMS)."""

    def __init__(self, problems: list[CsvProblem]):
        self.problems = problems
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{problems[0]}{more}")


class _Bad(Exception):
    """A cell's value is wrong: what is wrong with it, in Chinese and English."""

    def __init__(self, zh: str, en: str):
        super().__init__(en)
        self.zh, self.en = zh, en


# --- cell parsers -------------------------------------------------------------------------------------


def _text(value: str) -> str:
    if not value:
        raise _Bad("不能为空", "must not be empty")
    if len(value) > TEXT_MAX_LENGTH or not value.isprintable():
        raise _Bad(f"超过 {TEXT_MAX_LENGTH} 个字符或含控制字符",
                   f"is longer than {TEXT_MAX_LENGTH} characters or holds control characters")
    return value


def _age(value: str) -> int:
    if not _INTEGER.match(value):
        raise _Bad("不是整数周岁", "is not a whole number of years")
    age = int(value)
    if age > MAX_AGE:
        raise _Bad(f"大于 {MAX_AGE}", f"is more than {MAX_AGE}")
    return age


def _datetime(value: str) -> datetime:
    if not _DATETIME.match(value):
        raise _Bad("不是 yyyy-MM-dd HH:mm 格式的时间", "is not a time written yyyy-MM-dd HH:mm")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise _Bad("不是真实存在的日期时间", "is not a real date and time") from None


def _yes_no(value: str) -> bool:
    upper = value.upper()
    if upper not in ("Y", "N"):
        raise _Bad("不是 Y 或 N", "is not Y or N")
    return upper == "Y"


def _items(value: str) -> list[str]:
    return [item.strip() for item in value.split(ITEM_SEPARATOR) if item.strip()]


def _one_of(item: str, allowed: tuple[str, ...]) -> str:
    for word in allowed:
        if item.lower() == word.lower():
            return word
    raise _Bad(f"其中“{shown(item)}”不是 {' / '.join(allowed)} 之一",
               f"holds {shown(item)!r}, which is not one of {', '.join(allowed)}")


def _assessments(value: str) -> tuple[Assessment, ...]:
    out = []
    for item in _items(value):
        when, sep, level = item.rpartition(ASSESSMENT_SEPARATOR)
        if not sep:
            raise _Bad(f"其中“{shown(item)}”缺少“=风险等级”", f"holds {shown(item)!r}, which lacks '=<risk level>'")
        try:
            at = _datetime(when.strip())
        except _Bad as bad:
            raise _Bad(f"其中“{shown(item)}”的时间{bad.zh}", f"holds {shown(item)!r}, whose time {bad.en}") from None
        out.append(Assessment(at, _one_of(level.strip(), VTE_LEVELS)))
    times = Counter(a.at for a in out)
    repeated = [t for t, n in times.items() if n > 1]
    if repeated:
        text = repeated[0].isoformat(sep=" ", timespec="minutes")
        raise _Bad(f"在同一时间 {text} 有两次评估（重复记录？请删去重复项）",
                   f"holds two assessments at the same time {text} (a duplicate record? remove it)")
    return tuple(sorted(out, key=lambda a: a.at))


def _levels(allowed: tuple[str, ...]) -> Callable[[str], tuple[str, ...]]:
    return lambda value: tuple(_one_of(item, allowed) for item in _items(value))


def _kinds(allowed: tuple[str, ...]) -> Callable[[str], frozenset[str]]:
    return lambda value: frozenset(_one_of(item, allowed) for item in _items(value))


# --- the columns --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    label_zh: str
    expected_en: str
    expected_zh: str
    parse: Callable[[str], object]
    show_value: bool = True  # False for the patient id: never echoed


_DT_EN = "a local time yyyy-MM-dd HH:mm (seconds optional, 'T' or a space between date and time)"
_DT_ZH = "本地时间 yyyy-MM-dd HH:mm（秒可选，日期与时间之间为空格或 T）"
_YN_EN, _YN_ZH = "Y or N", "Y 或 N"

COLUMNS: tuple[Column, ...] = (
    Column("hospital", "院区", f"the campus, 1-{TEXT_MAX_LENGTH} printable characters (the submission's hospital)",
           f"院区名称，1-{TEXT_MAX_LENGTH} 个字符（即上报数据的 hospital）", _text),
    Column("dept", "科室id", f"the discharging department's id, 1-{TEXT_MAX_LENGTH} printable characters",
           f"出院科室 id，1-{TEXT_MAX_LENGTH} 个字符", _text),
    Column("patient_id", "患者标识", f"an opaque (e.g. hashed) patient id, 1-{TEXT_MAX_LENGTH} printable characters",
           f"不可识别身份的患者标识（如哈希值），1-{TEXT_MAX_LENGTH} 个字符", _text, show_value=False),
    Column("age", "年龄", f"the age at admission in completed years (周岁), an integer from 0 to {MAX_AGE}",
           f"入院时年龄（周岁），0 到 {MAX_AGE} 的整数", _age),
    Column("admitted_at", "入院时间", _DT_EN, _DT_ZH, _datetime),
    Column("discharged_at", "出院时间", f"{_DT_EN}, on the report day", f"{_DT_ZH}，且为上报日期当天", _datetime),
    Column("vte_on_admission", "入院时已有VTE", f"{_YN_EN}: Y when a VTE diagnosis (DVT or PTE) has 入院病情 有",
           f"{_YN_ZH}：VTE 相关诊断（DVT 或 PTE）的入院病情为“有”时填 Y", _yes_no),
    Column("vte_assessments", "VTE风险评估",
           "empty, or ';'-separated assessments <time>=<low|mid|high>, each within the stay, "
           "e.g. '2025-03-01 09:30=mid;2025-03-04 10:00=high'",
           "空，或以“;”分隔的评估记录“时间=low|mid|high”，时间须在住院期间内，"
           "如“2025-03-01 09:30=mid;2025-03-04 10:00=high”", _assessments),
    Column("bleeding_assessments", "出血风险评估", "empty, or ';'-separated results, each low or high, e.g. 'high;low'",
           "空，或以“;”分隔的评估结果，每项为 low 或 high，如“high;low”", _levels(BLEEDING_LEVELS)),
    Column("prophylaxis", "预防措施", "empty, or ';'-separated kinds among basic, mechanical, drug, e.g. 'basic;drug'",
           "空，或以“;”分隔的预防措施类别：basic（基础）、mechanical（机械）、drug（药物），如“basic;drug”",
           _kinds(PROPHYLAXIS_KINDS)),
    Column("vte_tests", "VTE相关检查", "empty, or ';'-separated tests among CTPA, US, VQ, e.g. 'US;CTPA' (other "
           "tests, such as D-dimer, do not count: leave them out)", "空，或以“;”分隔的检查类别：CTPA、US（超声）、"
           "VQ（通气/灌注扫描），如“US;CTPA”（D-二聚体等其他检查不计，请不要填写）", _kinds(VTE_TEST_KINDS)),
    Column("surgery", "手术", f"{_YN_EN}: Y when the stay has an operation record", f"{_YN_ZH}：住院期间有手术记录时填 Y",
           _yes_no),
    Column("vte_diagnosis", "VTE诊断", f"{_YN_EN}: Y when the episode has a VTE diagnosis or is marked as VTE in the "
           "VTE quality-control module", f"{_YN_ZH}：有 VTE 相关诊断或在 VTE 质控模块中标记为有 VTE 时填 Y", _yes_no),
    Column("new_dvt", "医院相关性DVT", f"{_YN_EN}: Y when a DVT diagnosis has 入院病情 无, or the VTE module marks a "
           "hospital-associated DVT", f"{_YN_ZH}：DVT 诊断的入院病情为“无”，或在 VTE 质控模块中标记为院内发生 DVT 时填 Y",
           _yes_no),
    Column("new_pte", "医院相关性PTE", f"{_YN_EN}: Y when a PTE diagnosis has 入院病情 无, or the VTE module marks a "
           "hospital-associated PTE", f"{_YN_ZH}：PTE 诊断的入院病情为“无”，或在 VTE 质控模块中标记为院内发生 PTE 时填 Y",
           _yes_no),
    Column("principal_pte", "主诊断为PTE", f"{_YN_EN}: Y when the principal diagnosis (主要诊断) is PTE",
           f"{_YN_ZH}：病案首页主要诊断为 PTE 时填 Y", _yes_no),
    Column("died", "死亡", f"{_YN_EN}: Y when the discharge outcome (离院方式/转归) is death",
           f"{_YN_ZH}：病案首页离院方式（转归）为死亡时填 Y", _yes_no),
)
COLUMNS_BY_NAME = {c.name: c for c in COLUMNS}
COLUMN_NAMES = tuple(c.name for c in COLUMNS)


# --- reading ------------------------------------------------------------------------------------------


class _Enough(Exception):
    pass


class _Collector:
    def __init__(self, limit: int):
        self.problems: list[CsvProblem] = []
        self.limit = limit

    def add(self, problem: CsvProblem) -> None:
        self.problems.append(problem)
        if len(self.problems) >= self.limit:
            raise _Enough

    def file(self, expected: str, zh: str, en: str) -> None:
        self.add(CsvProblem(None, None, None, expected, zh, en))

    def header(self, column: str, expected: str, zh: str, en: str) -> None:
        self.add(CsvProblem(1, shown(column), None, expected, f"第 1 行（表头）{zh}", f"row 1 (header): {en}"))

    def cell(self, row: int, column: Column, value: str, zh: str, en: str, *,
             expected_en: str | None = None, expected_zh: str | None = None) -> None:
        if column.show_value:
            value_zh, value_en, value_shown = f"值“{shown(value)}”", f"value {shown(value)!r}", shown(value)
        else:
            value_zh, value_en, value_shown = "该值（不显示患者标识）", "the value (patient ids are not shown)", None
        expected_en = expected_en or column.expected_en
        self.add(CsvProblem(
            row, column.name, value_shown, expected_en,
            f"第 {row} 行 {column.name}（{column.label_zh}）列：{value_zh}{zh}；应为{expected_zh or column.expected_zh}",
            f"row {row}, column {column.name}: {value_en} {en}; expected {expected_en}",
        ))


def read_file(path: Path | str, report_date: date | None = None, *, limit: int = MAX_PROBLEMS) -> Records:
    """Read and check a patient CSV file; raises RecordsError naming every problem (up to ``limit``)."""
    return read_records(Path(path).read_bytes(), report_date, limit=limit)


def read_records(data: bytes | str, report_date: date | None = None, *, limit: int = MAX_PROBLEMS) -> Records:
    """Read and check the CSV text (UTF-8 bytes, BOM allowed, or str).

    ``report_date``: the day every episode must be discharged on; by default the day most rows give (the
    rows discharged on other days are then errors).
    """
    c = _Collector(limit)
    records = None
    try:
        records = _read(c, data, report_date)
    except _Enough:
        pass
    if c.problems:
        raise RecordsError(sorted(c.problems, key=_position))
    assert records is not None
    return records


def _position(problem: CsvProblem) -> tuple[int, int]:
    """File problems first, then by row and by column (whole-row problems first, unknown columns last)."""
    if problem.column is None:
        column = -1
    else:
        column = COLUMN_NAMES.index(problem.column) if problem.column in COLUMN_NAMES else len(COLUMN_NAMES)
    return (problem.row or 0, column)


def _decode(c: _Collector, data: bytes | str) -> str | None:
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        row = data[:exc.start].count(b"\n") + 1
        c.file("a UTF-8 text file",
               f"文件不是 UTF-8 编码（第 {row} 行，第 {exc.start} 字节）：请另存为“CSV UTF-8”，"
               "或用 iconv -f GBK -t UTF-8 转换",
               f"the file is not UTF-8 (row {row}, byte {exc.start}): save it as 'CSV UTF-8' or convert it, e.g. "
               "iconv -f GBK -t UTF-8")
        return None


def _read(c: _Collector, data: bytes | str, report_date: date | None) -> Records | None:
    text = _decode(c, data)
    if text is None:
        return None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            c.file("a header row naming the columns, then one row per episode",
                   f"文件为空：第 1 行应为表头（{', '.join(COLUMN_NAMES)}），其后每行一个出院患者",
                   f"the file is empty: row 1 must be the header ({', '.join(COLUMN_NAMES)}), then one row per "
                   "discharged episode")
            return None
        names = [cell.strip() for cell in header]
        if not _check_header(c, names):
            return None
        episodes: list[Episode] = []
        stays: list[_Stay] = []  # also from rows with other bad cells, for the checks across rows
        start = reader.line_num + 1
        for cells in reader:
            row, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue  # a blank line
            values = _row_values(c, row, names, cells)
            if values is None:
                continue
            if len(values) == len(COLUMNS):
                episodes.append(Episode(row=row, **values))
            stays.append(_Stay(row, values.get("patient_id"), values.get("admitted_at"),
                               values.get("discharged_at")))
    except csv.Error as exc:
        c.file("well-formed CSV (quotes closed)", f"第 {reader.line_num} 行 CSV 格式错误：{exc}（引号未闭合？）",
               f"row {reader.line_num}: malformed CSV: {exc} (an unclosed quote?)")
        return None
    if not stays and not c.problems:
        c.file("at least one patient row", "文件只有表头，没有出院患者记录：上报数据至少需要一个科室",
               "the file holds the header only, no patient rows: a submission needs at least one department")
        return None
    day = _check_discharge_day(c, stays, report_date)
    _check_overlaps(c, stays)
    return None if c.problems else Records(tuple(episodes), day)


def _check_header(c: _Collector, names: list[str]) -> bool:
    before = len(c.problems)
    seen = Counter(names)
    for name in COLUMN_NAMES:
        if name not in seen:
            c.header(name, "every documented column",
                     f"缺少列“{name}”（{COLUMNS_BY_NAME[name].label_zh}）：请添加该列（见 docs/calculator.md）",
                     f"column {name!r} is missing: add it (see docs/calculator.md)")
    for name, n in seen.items():
        if name in COLUMNS_BY_NAME and n > 1:
            c.header(name, "each column once", f"列“{name}”出现了 {n} 次：只保留一列",
                     f"column {name!r} appears {n} times: keep one")
        elif name not in COLUMNS_BY_NAME:
            c.header(name, "only the documented columns",
                     f"未知列“{shown(name)}”：计算器只读取文档列出的列，请删除该列（不要导出多余的患者信息）",
                     f"unknown column {shown(name)!r}: the calculator reads only the documented columns; remove it "
                     "(export no more patient data than needed)")
    return len(c.problems) == before


@dataclass(frozen=True)
class _Stay:
    """What the checks across rows need of a row: None where the cell is bad."""

    row: int
    patient_id: str | None = field(repr=False)
    admitted_at: datetime | None
    discharged_at: datetime | None


def _row_values(c: _Collector, row: int, names: list[str], cells: list[str]) -> dict[str, object] | None:
    """The row's good values by column (a bad cell is reported and left out); None for a row of the wrong width."""
    if len(cells) != len(names):
        c.add(CsvProblem(row, None, None, f"{len(names)} cells, as the header",
                         f"第 {row} 行有 {len(cells)} 个单元格，表头有 {len(names)} 列（逗号未加引号？）",
                         f"row {row} has {len(cells)} cells but the header has {len(names)} columns "
                         "(an unquoted comma?)"))
        return None
    raw = {name: cell.strip() for name, cell in zip(names, cells)}
    values: dict[str, object] = {}
    for column in COLUMNS:
        try:
            values[column.name] = column.parse(raw[column.name])
        except _Bad as bad:
            c.cell(row, column, raw[column.name], bad.zh, bad.en)
    _check_within_episode(c, row, raw, values)
    return values


def _check_within_episode(c: _Collector, row: int, raw: dict[str, str], values: dict[str, object]) -> None:
    """What one row's cells must agree on; a bad cell is named once (cells already wrong are not checked)."""
    admitted, discharged = values.get("admitted_at"), values.get("discharged_at")
    if admitted is not None and discharged is not None and discharged <= admitted:
        column = COLUMNS_BY_NAME["discharged_at"]
        c.cell(row, column, raw[column.name], f"不晚于入院时间 {raw['admitted_at']}",
               f"is not after admitted_at {raw['admitted_at']}")
        values.pop("discharged_at")
        discharged = None
    assessments = values.get("vte_assessments")
    if assessments and admitted is not None and discharged is not None:
        outside = [a for a in assessments if not admitted <= a.at <= discharged]
        if outside:
            column = COLUMNS_BY_NAME["vte_assessments"]
            text = outside[0].at.isoformat(sep=" ", timespec="minutes")
            c.cell(row, column, raw[column.name], f"中的评估时间 {text} 不在住院期间（入院至出院）内",
                   f"holds an assessment at {text}, outside the stay (admission to discharge)")
            values.pop("vte_assessments")
    implied = [name for name in ("vte_on_admission", "new_dvt", "new_pte", "principal_pte") if values.get(name)]
    if values.get("vte_diagnosis") is False and implied:
        column = COLUMNS_BY_NAME["vte_diagnosis"]
        listed = ", ".join(f"{name}=Y" for name in implied)
        c.cell(row, column, raw[column.name], f"与本行的 {listed} 矛盾（这些都是 VTE 诊断）",
               f"contradicts {listed} in the same row (each of those is a VTE diagnosis)",
               expected_en="Y whenever vte_on_admission, new_dvt, new_pte or principal_pte is Y",
               expected_zh="Y（vte_on_admission、new_dvt、new_pte 或 principal_pte 为 Y 时）")
        values.pop("vte_diagnosis")


def _check_discharge_day(c: _Collector, stays: list[_Stay], report_date: date | None) -> date | None:
    """Every episode discharged on one day: ``report_date``, or the day most rows give."""
    discharged = [s for s in stays if s.discharged_at is not None]
    if not discharged:
        return report_date
    days = Counter(s.discharged_at.date() for s in discharged)
    day = report_date or min(days, key=lambda d: (-days[d], d))
    column = COLUMNS_BY_NAME["discharged_at"]
    for s in discharged:
        if s.discharged_at.date() != day:
            value = s.discharged_at.isoformat(sep=" ", timespec="minutes")
            if report_date is not None:
                why_zh, why_en = f"不在上报日期 {day} 当天", f"is not on the report date {day}"
            else:
                why_zh = f"不在 {day}（文件中 {days[day]} 行的出院日期）：一个文件只含一天的出院患者，可用 --date 指定日期"
                why_en = (f"is not on {day}, the discharge day of {days[day]} rows of the file: a file holds one "
                          "day's discharges (--date names the day)")
            c.cell(s.row, column, value, why_zh, why_en,
                   expected_en=f"a discharge time on {day}", expected_zh=f"{day} 当天的出院时间")
    return day


def _check_overlaps(c: _Collector, stays: list[_Stay]) -> None:
    """One patient's stays must not overlap (a repeated row, or two ids merged into one)."""
    by_patient: dict[str, list[_Stay]] = defaultdict(list)
    for s in stays:
        if s.patient_id is not None and s.admitted_at is not None and s.discharged_at is not None:
            by_patient[s.patient_id].append(s)
    column = COLUMNS_BY_NAME["admitted_at"]
    for same in by_patient.values():
        same.sort(key=lambda s: (s.admitted_at, s.row))
        for before, after in zip(same, same[1:]):
            if after.admitted_at < before.discharged_at:
                c.cell(after.row, column, after.admitted_at.isoformat(sep=" ", timespec="minutes"),
                       f"与第 {before.row} 行同一 patient_id 的住院时间重叠（重复的行？）",
                       f"overlaps the stay in row {before.row} of the same patient_id (a repeated row?)",
                       expected_en="stays of one patient that do not overlap",
                       expected_zh="同一患者的各次住院时间互不重叠")
