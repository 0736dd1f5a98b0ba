"""Reading an uploaded workbook into the payloads the JSON interface would have received.

Every date in the workbook becomes one payload ``{"date": ..., "data": [rows]}``, rows in sheet order,
each row ``hospital``, ``dept`` and the 31 counts as ints. Anything wrong is reported with its sheet,
cell, field and reason; a workbook with any error yields no payload at all (all or nothing).

Two kinds of row are not data: the template's example row while unchanged (a changed one is refused, since
whoever changed it meant something by it), and a pre-filled row with nothing but its hospital and dept
(listed in ``skipped_rows``, so the hospital sees which departments it left out).

python-calamine reads the values (fast); it shows formula errors (#VALUE!, #REF!, ...) as blank cells,
so openpyxl is consulted only for the cells calamine reported blank, to tell the two apart.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from functools import cache

import openpyxl
import python_calamine
from openpyxl.utils.cell import get_column_letter

from vte.excel.columns import (EXAMPLE_MARKER, Column, columns, columns_by_header, example_row, header_key,
                               is_example_marker, label_zh)
from vte.submission import validate_payload

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Office writes password-protected .xlsx as an OLE compound file holding this stream.
ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class CellError:
    """One reason the workbook is refused; ``sheet``/``cell``/``field`` are None where they do not apply."""

    code: str
    message_zh: str
    message_en: str
    sheet: str | None = None
    cell: str | None = None
    field: str | None = None

    @property
    def location_zh(self) -> str:
        parts = []
        if self.sheet is not None:
            parts.append(f"工作表「{self.sheet}」")
        if self.cell is not None:
            parts.append(f"单元格 {self.cell}")
        if self.field is not None:
            parts.append(f"（{self.field}）")
        return "".join(parts)

    @property
    def location_en(self) -> str:
        parts = []
        if self.sheet is not None:
            parts.append(f"sheet '{self.sheet}'")
        if self.cell is not None:
            parts.append(f"cell {self.cell}")
        if self.field is not None:
            parts.append(f"({self.field})")
        return " ".join(parts)

    @property
    def message(self) -> str:
        """Both languages, Chinese first, each with the location: what a person reads."""
        zh = f"{self.location_zh}：{self.message_zh}" if self.location_zh else self.message_zh
        en = f"{self.location_en}: {self.message_en}" if self.location_en else self.message_en
        return f"{zh} / {en}"

    @property
    def field_label_zh(self) -> str | None:
        """The field's Chinese label, shown beside its name (the template's second header row)."""
        return label_zh(self.field)

    def to_dict(self) -> dict:
        return {**asdict(self), "fieldLabelZh": self.field_label_zh, "message": self.message}


@dataclass(frozen=True)
class RowSource:
    """Where a payload row came from."""

    sheet: str
    row: int  # Excel's 1-based row number

    def cell(self, column_index: int) -> str:
        return f"{get_column_letter(column_index + 1)}{self.row}"


@dataclass
class ParsedWorkbook:
    submissions: list[dict] = field(default_factory=list)  # payloads {"date", "data"}, ordered by date
    errors: list[CellError] = field(default_factory=list)
    sources: list[list[RowSource]] = field(default_factory=list)  # sources[i][j]: row j of submissions[i]
    field_columns: dict[str, dict[str, int]] = field(default_factory=dict)  # sheet → field → column index
    row_count: int = 0
    skipped_rows: list[dict] = field(default_factory=list)  # pre-filled rows left empty: sheet, row, hospital, dept

    @property
    def ok(self) -> bool:
        return not self.errors

    def cell_of(self, submission: int, row: int, field_name: str) -> tuple[str, str]:
        """The sheet and cell a payload value came from: ``data[row][field_name]`` of ``submissions[submission]``."""
        source = self.sources[submission][row]
        return source.sheet, source.cell(self.field_columns[source.sheet][field_name])


class _Refused(Exception):
    """The workbook as a whole cannot be read; carries the one error that says why."""

    def __init__(self, error: CellError):
        self.error = error


@dataclass
class _Blank:
    """A cell calamine read as blank: either really blank or a formula error (decided by openpyxl)."""

    sheet: str
    row: int  # 1-based
    column: int  # 0-based
    field: str


@dataclass
class _SheetLayout:
    name: str
    columns: dict[int, Column]  # sheet column index → column
    first_data_row: int  # 0-based index into the sheet's rows


@dataclass
class _Row:
    source: RowSource
    values: dict[str, object]
    cells: dict[str, int]  # field → sheet column index, to name cells in later errors


def parse_workbook(content: bytes, *, max_bytes: int = MAX_BYTES, max_rows: int = MAX_ROWS,
                   today: date | None = None, earliest: date | None = None) -> ParsedWorkbook:
    """Read an uploaded .xlsx into one payload per report date, or every reason it is refused.

    ``today`` is the reporting day (Asia/Shanghai) the payloads are validated against and ``earliest`` the
    first report date allowed for the institution, as in ``vte.submission.validate_payload``.
    Uploads are inspected first (``vte.excel.inspection``) and parsed in a child process
    (``vte.excel.isolation``): called directly, this is for workbooks of known origin.
    """
    try:
        book = _open(content, max_bytes)
        sheets = _read_sheets(book, max_rows)
    except _Refused as refused:
        return ParsedWorkbook(errors=[refused.error])

    errors: list[CellError] = []
    blanks: list[_Blank] = []
    rows: list[_Row] = []
    row_count = 0  # every data row, including those refused
    parsed = ParsedWorkbook()
    for name, cells in sheets:
        layout = _layout(name, cells, errors)
        if layout is not None:
            parsed.field_columns[name] = {column.name: index for index, column in layout.columns.items()}
            for row in _read_rows(layout, cells, errors, blanks, parsed.skipped_rows):
                row_count += 1
                if row is not None:
                    rows.append(row)
    if blanks:
        errors.extend(_explain_blanks(content, blanks))
    if not parsed.field_columns and not errors:
        errors.append(CellError(
            "no_data_sheet", "找不到数据表：没有任何工作表的第 1 行是字段名（请使用平台模板）",
            "no data sheet: no sheet has the field names in row 1 (use the platform's template)"))
    elif not row_count and not errors:
        errors.append(CellError("no_rows", "没有数据行：请在表头和示例行下方（第 4 行起）填写数据",
                                "no data rows: fill in data below the headers and the example row (from row 4)"))

    _group_by_date(parsed, _without_duplicates(rows, errors))
    errors.extend(_validate(parsed, today, earliest))
    parsed.row_count = row_count
    if errors:
        return ParsedWorkbook(errors=sorted(errors, key=_error_order), row_count=row_count)
    return parsed


def file_refusal(content: bytes, max_bytes: int = MAX_BYTES) -> CellError | None:
    """Why the file as a whole is not an .xlsx workbook the platform reads (size, empty, .xls, not a zip), or None."""
    if len(content) > max_bytes:
        return CellError(
            "file_too_large",
            f"文件过大：{len(content)} 字节，上限 {max_bytes} 字节",
            f"the file is too large: {len(content)} bytes, the limit is {max_bytes}")
    if not content:
        return CellError("empty_file", "文件为空", "the file is empty")
    if content.startswith(OLE_MAGIC):
        if ENCRYPTED_STREAM in content:
            return CellError(
                "encrypted", "文件已加密（设置了密码）：请取消密码后另存为 .xlsx 再上传",
                "the file is password-protected: remove the password, save as .xlsx and upload again")
        return CellError(
            "not_xlsx", "这是旧版 Excel 97-2003（.xls）文件：请在 Excel 中另存为 .xlsx 再上传",
            "this is an old Excel 97-2003 (.xls) file: save it as .xlsx in Excel and upload again")
    if not content.startswith(ZIP_MAGIC):
        return CellError(
            "not_xlsx", "不是 Excel .xlsx 文件（如 CSV 或文本文件）：请使用平台提供的模板，另存为 .xlsx",
            "not an Excel .xlsx file (a CSV or text file?): use the platform's template and save as .xlsx")
    return None


def _open(content: bytes, max_bytes: int) -> python_calamine.CalamineWorkbook:
    """The workbook opened by calamine. Its size once decompressed, its XML and the extent of its sheets are
    bounded beforehand by ``vte.excel.inspection`` (uploads run it, then parse in a child process)."""
    refusal = file_refusal(content, max_bytes)
    if refusal is not None:
        raise _Refused(refusal)
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = set(archive.namelist())
    except zipfile.BadZipFile as exc:
        raise _Refused(CellError("not_xlsx", f"文件已损坏，无法打开：{exc}",
                                 f"the file is damaged and cannot be opened: {exc}")) from exc
    if "xl/workbook.xml" not in names:
        raise _Refused(CellError(
            "not_xlsx", "不是 Excel .xlsx 工作簿（可能是 .xlsb、.ods 或其他压缩文件）：请另存为 .xlsx",
            "not an Excel .xlsx workbook (.xlsb, .ods or another zip file?): save it as .xlsx"))
    try:
        return python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(content))
    except Exception as exc:  # calamine raises several unrelated types for unreadable files
        raise _Refused(CellError("not_xlsx", f"无法读取工作簿：{exc}",
                                 f"the workbook cannot be read: {exc}")) from exc


def _read_sheets(book: python_calamine.CalamineWorkbook, max_rows: int) -> list[tuple[str, list[list]]]:
    """Every worksheet's cells from A1, refusing before conversion when a sheet holds too many rows."""
    sheets = []
    for meta in book.sheets_metadata:
        if meta.typ != python_calamine.SheetTypeEnum.WorkSheet:
            continue
        sheet = book.get_sheet_by_name(meta.name)
        last_row = sheet.end[0] + 1 if sheet.end else 0
        if last_row > max_rows + 2:
            raise _Refused(CellError(
                "too_many_rows", f"行数过多：有内容的最后一行是第 {last_row} 行，上限 {max_rows} 行数据",
                f"too many rows: the last row with content is row {last_row}, the limit is {max_rows} data rows",
                sheet=meta.name))
        sheets.append((meta.name, sheet.to_python(skip_empty_area=False)))
    if not any(_nonblank(value) for _, cells in sheets for row in cells for value in row):
        raise _Refused(CellError("empty_workbook", "工作簿是空的", "the workbook is empty"))
    return sheets


def _nonblank(value) -> bool:
    return not (value is None or (isinstance(value, str) and not value.strip()))


def _layout(name: str, cells: list[list], errors: list[CellError]) -> _SheetLayout | None:
    """Read a sheet's header row; None when row 1 names no field (the sheet is not a data sheet)."""
    if not cells:
        return None
    header = cells[0]
    known = columns_by_header()
    if not any(isinstance(v, str) and header_key(v) in known for v in header):
        return None
    layout = _SheetLayout(name, {}, 1)
    seen: dict[str, int] = {}
    header_errors = []
    for index, value in enumerate(header):
        if not _nonblank(value):
            continue
        cell = f"{get_column_letter(index + 1)}1"
        column = known.get(header_key(str(value)))
        if column is None:
            header_errors.append(CellError(
                "unknown_column", f"未知的列「{value}」：表头应为字段名或中文名称",
                f"unknown column '{value}': headers are the field names or their Chinese labels",
                sheet=name, cell=cell, field=str(value)))
        elif column.name in seen:
            header_errors.append(CellError(
                "duplicate_column", f"列重复：与 {get_column_letter(seen[column.name] + 1)}1 是同一字段",
                f"duplicate column: the same field as {get_column_letter(seen[column.name] + 1)}1",
                sheet=name, cell=cell, field=column.name))
        else:
            seen[column.name] = index
            layout.columns[index] = column
    header_range = f"A1:{get_column_letter(max(len(header), 1))}1"
    for column in columns():
        if column.name not in seen:
            header_errors.append(CellError(
                "missing_column", f"缺少列「{column.name}」（{column.label_zh}）",
                f"missing column '{column.name}' ({column.label_zh})",
                sheet=name, cell=header_range, field=column.name))
    if header_errors:
        errors.extend(header_errors)
        return None
    if len(cells) > 1 and _is_label_row(cells[1], layout.columns):
        layout.first_data_row = 2
    return layout


def _is_label_row(row: list, by_index: dict[int, Column]) -> bool:
    """Row 2 repeats each column's name or Chinese label (the template's second header row)."""
    present = [(i, v) for i, v in enumerate(row) if _nonblank(v)]
    return bool(present) and all(
        i in by_index and isinstance(v, str) and header_key(v) in (header_key(by_index[i].name),
                                                                  header_key(by_index[i].label_zh))
        for i, v in present
    )


IDENTITY_TEXT = ("hospital", "dept")


def _read_rows(layout: _SheetLayout, cells: list[list], errors: list[CellError], blanks: list[_Blank],
               skipped: list[dict]) -> Iterator[_Row | None]:
    """Each data row: a _Row when every cell is right, else None (its errors are recorded). Blank rows, the
    unchanged example row and pre-filled rows holding only hospital and dept (added to ``skipped``) are no data."""
    date_index = next(i for i, c in layout.columns.items() if c.name == "date")
    identity = {i for i, c in layout.columns.items() if c.name in IDENTITY_TEXT}
    for index in range(layout.first_data_row, len(cells)):
        row = cells[index]
        if not any(_nonblank(v) for v in row):
            continue
        source = RowSource(layout.name, index + 1)
        report_date = row[date_index] if date_index < len(row) else None
        if is_example_marker(report_date):
            if not _is_unchanged_example(layout, row):
                errors.append(CellError(
                    "example_row_changed",
                    f"示例行（上报日期为「{EXAMPLE_MARKER}」）已被改动：请删除此行，或填写真实的上报日期",
                    f"the example row (date '{EXAMPLE_MARKER}') was changed: delete it, or enter a real report date",
                    sheet=layout.name, cell=source.cell(date_index), field="date"))
                yield None
            continue
        if not _nonblank(report_date) and all(i in identity for i, v in enumerate(row) if _nonblank(v)):
            shown = {layout.columns[i].name: _show(v) for i, v in enumerate(row) if i in identity and _nonblank(v)}
            skipped.append({"sheet": layout.name, "row": source.row, "hospital": shown.get("hospital"),
                            "dept": shown.get("dept")})
            continue
        values: dict[str, object] = {}
        positions: dict[str, int] = {}
        complete = True
        for column_index, value in enumerate(row):
            column = layout.columns.get(column_index)
            if column is None:
                if _nonblank(value):
                    errors.append(CellError(
                        "value_without_header", f"此列没有表头，却填有内容「{value}」",
                        f"this column has no header but holds '{value}'",
                        sheet=layout.name, cell=source.cell(column_index)))
                    complete = False
                continue
            positions[column.name] = column_index
            if not _nonblank(value):
                blanks.append(_Blank(layout.name, source.row, column_index, column.name))
                complete = False
                continue
            converted = _convert(column, value)
            if isinstance(converted, _Invalid):
                errors.append(CellError(converted.code, converted.message_zh, converted.message_en,
                                        sheet=layout.name, cell=source.cell(column_index), field=column.name))
                complete = False
            else:
                values[column.name] = converted
        yield _Row(source, values, positions) if complete else None


def _is_unchanged_example(layout: _SheetLayout, row: list) -> bool:
    """Every cell of the row as the template wrote it (the date cell holds the marker), nothing beside them."""
    example = example_row()
    if any(i >= len(row) for i in layout.columns):
        return False
    for i, value in enumerate(row):
        column = layout.columns.get(i)
        if column is None:
            if _nonblank(value):
                return False
        elif column.name != "date" and (not _nonblank(value) or _convert(column, value) != example[column.name]):
            return False
    return True


@dataclass(frozen=True)
class _Invalid:
    code: str
    message_zh: str
    message_en: str


def _convert(column: Column, value):
    if column.is_count:
        return _to_count(value)
    if column.name == "date":
        return _to_date(value)
    return _to_text(value)


def _to_count(value) -> int | _Invalid:
    if type(value) is float and value >= 0 and value.is_integer():  # the common case, kept fast
        return int(value)
    number: Decimal | None = None
    if isinstance(value, bool) or isinstance(value, (date, time)):
        number = None
    elif isinstance(value, (int, float)):
        number = Decimal(value)
    elif isinstance(value, str):
        try:
            number = Decimal(unicodedata.normalize("NFKC", value).strip())
        except InvalidOperation:
            number = None
    if number is None or not number.is_finite() or number != number.to_integral_value():
        return _Invalid("not_integer", f"应为整数，实为「{_show(value)}」",
                        f"expected a whole number, found '{_show(value)}'")
    if number < 0:
        return _Invalid("negative", f"不能为负数：{_show(value)}", f"must not be negative: {_show(value)}")
    return int(number)


def _to_date(value) -> str | _Invalid:
    if isinstance(value, datetime):
        if value.time() != time(0, 0):
            return _Invalid("bad_date", f"上报日期不应包含时间：{value.isoformat(sep=' ')}",
                            f"the report date must not carry a time of day: {value.isoformat(sep=' ')}")
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        text = value.strip()
        if ISO_DATE.match(text):
            try:
                return date.fromisoformat(text).isoformat()
            except ValueError:
                pass
    return _Invalid("bad_date", f"上报日期无效「{_show(value)}」：应为日期或 yyyy-mm-dd 文本",
                    f"invalid report date '{_show(value)}': expected a date or yyyy-mm-dd text")


def _to_text(value) -> str | _Invalid:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a department id typed as a number: 101, not 101.0
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return _Invalid("not_text", f"应为文本，实为「{_show(value)}」", f"expected text, found '{_show(value)}'")


def _show(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _explain_blanks(content: bytes, blanks: list[_Blank]) -> list[CellError]:
    """Blank cells are refused; those openpyxl shows as formula errors are reported as such."""
    spans: dict[str, tuple[int, int]] = {}
    for blank in blanks:
        low, high = spans.get(blank.sheet, (blank.row, blank.row))
        spans[blank.sheet] = (min(low, blank.row), max(high, blank.row))
    error_values = _formula_errors(content, spans)
    found = []
    for blank in blanks:
        cell = f"{get_column_letter(blank.column + 1)}{blank.row}"
        error_value = error_values.get((blank.sheet, cell))
        if error_value is not None:
            found.append(CellError(
                "formula_error", f"公式出错：{error_value}", f"formula error value {error_value}",
                sheet=blank.sheet, cell=cell, field=blank.field))
        else:
            is_count = columns_by_header()[header_key(blank.field)].is_count
            found.append(CellError(
                "blank", "必填，不能为空" + ("（无病例请填 0）" if is_count else ""),
                "required, must not be blank" + (" (enter 0 when there were no cases)" if is_count else ""),
                sheet=blank.sheet, cell=cell, field=blank.field))
    return found


def _formula_errors(content: bytes, spans: dict[str, tuple[int, int]]) -> dict[tuple[str, str], str]:
    """The error values (#REF! ...) of the given rows of each sheet, by (sheet, cell)."""
    book = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    try:
        found = {}
        for name, (first, last) in spans.items():
            for row in book[name].iter_rows(min_row=first, max_row=last):
                for cell in row:
                    if getattr(cell, "data_type", None) == "e":
                        found[(name, cell.coordinate)] = str(cell.value)
        return found
    finally:
        book.close()


def _without_duplicates(rows: list[_Row], errors: list[CellError]) -> list[_Row]:
    """The rows with a (date, hospital, dept) not seen before; each repeat is reported naming both rows."""
    first: dict[tuple, _Row] = {}
    unique = []
    for row in rows:
        key = (row.values["date"], row.values["hospital"], row.values["dept"])
        earlier = first.setdefault(key, row)
        if earlier is row:
            unique.append(row)
            continue
        where_zh = f"工作表「{earlier.source.sheet}」第 {earlier.source.row} 行"
        where_en = f"row {earlier.source.row} of sheet '{earlier.source.sheet}'"
        errors.append(CellError(
            "duplicate_row",
            f"第 {row.source.row} 行与{where_zh}重复（日期 {key[0]}、院区「{key[1]}」、科室「{key[2]}」）",
            f"row {row.source.row} repeats {where_en} (date {key[0]}, hospital '{key[1]}', dept '{key[2]}')",
            sheet=row.source.sheet, cell=row.source.cell(row.cells["dept"]), field="dept"))
    return unique


@cache
def _row_keys() -> tuple[str, ...]:
    return tuple(c.name for c in columns() if c.name != "date")


def _group_by_date(parsed: ParsedWorkbook, rows: list[_Row]) -> None:
    by_date: dict[str, list[_Row]] = {}
    for row in rows:
        by_date.setdefault(row.values["date"], []).append(row)
    for report_date in sorted(by_date):
        dated = by_date[report_date]
        parsed.submissions.append({
            "date": report_date,
            "data": [{key: row.values[key] for key in _row_keys()} for row in dated],
        })
        parsed.sources.append([row.source for row in dated])


def _validate(parsed: ParsedWorkbook, today: date | None, earliest: date | None) -> list[CellError]:
    """The interface's own checks on each payload, their rows and fields turned into cells."""
    found = []
    for index, payload in enumerate(parsed.submissions):
        for problem in validate_payload(payload, today=today, earliest=earliest):
            row = 0 if problem.row is None else problem.row  # a date problem: the date cell of its first row
            located = "date" if problem.field == "data" else problem.field  # the date's rows as a whole
            sheet, cell = parsed.cell_of(index, row, located)
            found.append(CellError(str(problem.code), _without_location(problem.message_zh, "："),
                                   _without_location(problem.message_en, ": "),
                                   sheet=sheet, cell=cell, field=problem.field))
    return found


def _without_location(message: str, separator: str) -> str:
    """A Problem's message starts with its place in the JSON (``data[3].medicine：``); a cell replaces it."""
    return message.partition(separator)[2] or message


def _error_order(error: CellError) -> tuple:
    return (error.sheet or "", _cell_sort_key(error.cell), error.field or "")


def _cell_sort_key(cell: str | None) -> tuple[int, int]:
    if not cell:
        return (0, 0)
    match = re.match(r"^([A-Z]*)(\d+)", cell)
    if not match:
        return (0, 0)
    letters, number = match.groups()
    column = 0
    for letter in letters:
        column = column * 26 + ord(letter) - 64
    return (int(number), column)
