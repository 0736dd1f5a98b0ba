"""Looking inside an uploaded workbook before any reader opens it, in bounded memory.

The readers cannot be given a hostile file as it is: python-calamine sizes a dense grid by a sheet's extent
(one cell at XFD100000 asks for ~52 GB, and a failed Rust allocation aborts the whole process, past any
``except``), and both readers decompress whatever the zip holds. So every member of the zip is first
decompressed here in chunks, counting the bytes it really holds (a zip's headers can lie), and:

- all of them together may hold at most max(MIN_DECOMPRESSED_BUDGET, MAX_RATIO × the file's size) bytes;
- no XML may declare a document type or entity (Excel never writes one; XML bombs are made of them);
- each worksheet's declared ``<dimension>`` and the rows and cells it really holds must fit in
  MAX_ROWS data rows (+2 header rows) and MAX_COLUMNS columns.

A refusal is one CellError saying what is wrong and what to do. Passing is not enough to parse in the server:
uploads are parsed in a child process with its own memory and time limits as well (``vte.excel.isolation``).
"""

from __future__ import annotations

import io
import logging
import posixpath
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from xml.parsers import expat

from openpyxl.utils.cell import column_index_from_string, get_column_letter

from vte.excel.columns import columns
from vte.excel.parser import MAX_BYTES, MAX_ROWS, CellError, file_refusal

# Decompressed size over file size, measured on real workbooks: the template as downloaded 3.5 (11 KB);
# filled by openpyxl with 10,000 generated rows 11.5 (1.0 MB → 11.4 MB); written by xlsxwriter with 10,000
# rows 11.7, all counts zero 12.2; 100,000 rows of zeros by xlsxwriter 12.6 and by openpyxl 14.7 (7.9 MB →
# 117 MB); the template with 20,000 formatted empty rows 14.7. Every cell carries its reference (A1, B1 ...),
# which keeps sheet XML from compressing much further. 40 is 2.7 times the highest; a decompression bomb
# runs to 1,000. The floor lets small files whose fixed parts (theme, styles) dominate through, and files
# from writers that leave out the references; streaming 16 MiB costs a few milliseconds.
MAX_RATIO = 40
MIN_DECOMPRESSED_BUDGET = 16 * 1024 * 1024
# The template has 34 columns and any value beyond them is refused by the parser anyway; 64 (to BL) leaves
# room for formatting that strays to the right. The dense grid calamine builds is then at most
# 100,002 × 64 cells (~200 MB), inside the child's memory limit.
MAX_COLUMNS = 64
MAX_PARTS = 10_000  # a workbook has a few dozen parts; each costs a ZipInfo to list
MAX_INDEX_PART = 16 * 1024 * 1024  # xl/workbook.xml and its relationships: Excel writes a few kilobytes
MAX_TAG = 64 * 1024  # a <row>, <c> or <dimension> tag: Excel's are under 200 bytes
CHUNK = 1024 * 1024  # decompressed bytes looked at at a time
INPUT_CHUNK = 64 * 1024

WORKBOOK = "xl/workbook.xml"
WORKBOOK_RELS = "xl/_rels/workbook.xml.rels"
CENTRAL_DIRECTORY_ENTRY = b"PK\x01\x02"
LOCAL_HEADER = b"PK\x03\x04"

log = logging.getLogger(__name__)

# Any XML a reader may decode (UTF-8 or UTF-16); quick-xml, used by calamine, takes DOCTYPE in any case.
_DECLARATION = re.compile(b"|".join(re.escape(word.encode(encoding)) for word in ("<!DOCTYPE", "<!ENTITY")
                                    for encoding in ("utf-8", "utf-16-le", "utf-16-be")), re.IGNORECASE)
_DECLARATION_TAIL = 2 * len("<!DOCTYPE") - 1

# Sheet XML, as bytes. Elements may carry a namespace prefix (<x:c>); attribute values may hold '>'.
_PREFIX = rb"(?:[A-Za-z_][\w.-]{0,31}:)?"
_ATTRIBUTES = rb"((?:[^>\"']++|\"[^\"]*+\"|'[^']*+')*+)>"
_START = re.compile(b"<" + _PREFIX + rb"(?:row|c|dimension)(?=[\s/>])")
_LONGEST_START = 64
_ROW_OR_CELL = re.compile(b"<" + _PREFIX + rb"(row|c)(?=[\s/>])" + _ATTRIBUTES)
_DIMENSION = re.compile(b"<" + _PREFIX + rb"dimension(?=[\s/>])" + _ATTRIBUTES)
_REFERENCE = re.compile(rb"(?<![\w:.-])(r|ref)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_CELL = re.compile(r"\s*([A-Za-z]{1,10})(\d{1,15})\s*")
_ROW = re.compile(r"\s*(\d{1,15})\s*")
# Excel, openpyxl and xlsxwriter write every row and cell as <row r="12" ...> and <c r="B12" ...>: a stretch
# holding nothing else is measured by C-speed regular expressions instead of a Python step per cell.
_NOT_PLAIN = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,31}:(?:row|c)(?=[\s/>])|row(?=[\s/>])(?! r=\"\d{1,7}\")"
                        rb"|c(?=[\s/>])(?! r=\"[A-Z]{1,3}\d{1,7}\"))")
_PLAIN_ROW = re.compile(rb'<row r="(\d{1,7})"')
_PLAIN_CELL_COLUMN = re.compile(rb'<c r="([A-Z]{1,3})\d')


class _Refused(Exception):
    def __init__(self, error: CellError):
        self.error = error


def inspect_workbook(content: bytes, *, max_bytes: int = MAX_BYTES, max_rows: int = MAX_ROWS,
                     max_columns: int = MAX_COLUMNS) -> CellError | None:
    """Why the upload must not be opened by a reader, or None. Memory stays within a few chunks."""
    refusal = file_refusal(content, max_bytes)
    if refusal is not None:
        return refusal
    try:
        _inspect(content, max_rows, max_columns)
    except _Refused as refused:
        return refused.error
    except Exception:  # a case this code did not foresee: refuse rather than hand the file to a reader
        log.exception("inspecting an uploaded workbook failed")
        return _damaged("无法检查其结构", "its structure could not be checked").error
    return None


def decompressed_budget(file_size: int) -> int:
    return max(MIN_DECOMPRESSED_BUDGET, MAX_RATIO * file_size)


def _inspect(content: bytes, max_rows: int, max_columns: int) -> None:
    # zipfile lists the whole central directory at once; every entry there starts with this signature.
    if content.count(CENTRAL_DIRECTORY_ENTRY) > MAX_PARTS:
        raise _damaged(f"包含 {MAX_PARTS} 个以上的部分，而工作簿通常只有几十个",
                       f"it holds more than {MAX_PARTS} parts where a workbook has a few dozen")
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = archive.infolist()
    except Exception as exc:  # zipfile raises BadZipFile, ValueError, struct.error ... for a broken directory
        raise _damaged(f"无法读取其压缩结构（{_shown(str(exc))}）",
                       f"its zip structure cannot be read ({_shown(str(exc))})") from None
    seen: set[str] = set()
    for member in members:
        if member.filename in seen:
            raise _damaged(f"包含两个同名的部分 {_shown(member.filename)}",
                           f"it holds two parts named {_shown(member.filename)}")
        seen.add(member.filename)

    view = memoryview(content)
    budget = _Budget(decompressed_budget(len(content)), len(content))
    index = {m.filename: _read_index_part(view, m, budget) for m in members if m.filename in (WORKBOOK, WORKBOOK_RELS)}
    sheets = _worksheet_parts(index, seen)
    for member in members:
        if member.filename in index:
            continue
        sheet = sheets.get(member.filename)
        scan = _SheetScan(sheet, member.filename, max_rows, max_columns) if sheet is not None else None
        for chunk in _chunks(view, member, budget):
            if scan is not None:
                scan.feed(chunk)
        if scan is not None:
            scan.close()


class _Budget:
    """The decompressed bytes all parts may hold together; counted as they come out, not as headers say."""

    def __init__(self, limit: int, file_size: int):
        self.limit, self.file_size, self.used = limit, file_size, 0

    def take(self, size: int) -> None:
        self.used += size
        if self.used > self.limit:
            raise _Refused(CellError(
                "file_too_large",
                f"文件解压后过大：这个 {self.file_size:,} 字节的文件解压后超过 {self.limit:,} 字节"
                f"（上报工作簿解压后不超过文件大小的 {MAX_RATIO} 倍），可能是压缩炸弹或夹带了大量其他内容。"
                "请把数据复制到平台模板中，另存为 .xlsx 后上传",
                f"the file is too large once decompressed: this {self.file_size:,}-byte file holds more than "
                f"{self.limit:,} bytes (a report workbook decompresses to at most {MAX_RATIO} times its size), "
                "so it is a decompression bomb or carries much else besides the report. Copy the data into the "
                "platform's template, save it as .xlsx and upload that"))


def _chunks(view: memoryview, member: zipfile.ZipInfo, budget: _Budget) -> Iterator[bytes]:
    """The member's decompressed bytes, CHUNK at a time, refusing XML declarations on the way."""
    name = member.filename
    if member.flag_bits & 0x1:
        raise _damaged(f"{_shown(name)} 部分以 zip 密码加密", f"the part {_shown(name)} is encrypted with a zip password")
    start = _data_offset(view, member)
    if member.compress_type == zipfile.ZIP_STORED:
        end = start + member.compress_size
        if end > len(view):
            raise _truncated(name)
        stream = _Stored(view, start, end)
    elif member.compress_type == zipfile.ZIP_DEFLATED:
        stream = _Inflated(view, start, name)
    else:
        raise _damaged(f"{_shown(name)} 部分使用了 Excel 不使用的压缩方式",
                       f"the part {_shown(name)} is compressed with a method Excel does not use")
    size = crc = 0
    tail = b""
    for piece in stream:
        budget.take(len(piece))
        size += len(piece)
        crc = zlib.crc32(piece, crc)
        if _declares(piece) or _declares(tail + piece[:_DECLARATION_TAIL]):
            raise _Refused(CellError(
                "xml_entities",
                f"文件的 {_shown(name)} 部分含有 XML 文档类型或实体声明（<!DOCTYPE / <!ENTITY）。Excel 从不写入这类"
                "声明，它们可被用来攻击服务器，因此拒收。请在 Excel 中打开文件，另存为 .xlsx 后重新上传",
                f"the part {_shown(name)} of the file holds an XML document type or entity declaration "
                "(<!DOCTYPE / <!ENTITY). Excel never writes these and they can be used to attack the server, "
                "so the file is refused: open it in Excel, save it as .xlsx and upload it again"))
        tail = (tail + piece)[-_DECLARATION_TAIL:] if len(piece) < _DECLARATION_TAIL else piece[-_DECLARATION_TAIL:]
        yield piece
    if (size, stream.consumed, crc) != (member.file_size, member.compress_size, member.CRC):
        raise _damaged(f"{_shown(name)} 部分的实际内容与压缩目录记载的大小或校验值不符",
                       f"the part {_shown(name)} does not match the size or checksum its zip directory records")


def _declares(data: bytes) -> bool:
    return (b"<!" in data or b"<\x00!" in data) and _DECLARATION.search(data) is not None


class _Stored:
    def __init__(self, view: memoryview, start: int, end: int):
        self.view, self.start, self.end, self.consumed = view, start, end, end - start

    def __iter__(self) -> Iterator[bytes]:
        for position in range(self.start, self.end, CHUNK):
            yield bytes(self.view[position:min(position + CHUNK, self.end)])


class _Inflated:
    """A deflate stream decompressed until it ends by itself, whatever the directory says: a part longer than
    its recorded size is caught here, not cut short as zipfile would (while another reader reads it all)."""

    def __init__(self, view: memoryview, start: int, name: str):
        self.view, self.start, self.name, self.consumed = view, start, name, 0

    def __iter__(self) -> Iterator[bytes]:
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        position, pending = self.start, b""
        try:
            while not inflater.eof:
                if not pending:
                    if position >= len(self.view):
                        raise _truncated(self.name)
                    pending = self.view[position:position + INPUT_CHUNK]
                    position += len(pending)
                piece = inflater.decompress(pending, CHUNK)
                pending = inflater.unconsumed_tail
                if piece:
                    yield piece
        except zlib.error:
            raise _damaged(f"{_shown(self.name)} 部分的压缩数据已损坏",
                           f"the compressed data of the part {_shown(self.name)} is corrupt") from None
        self.consumed = position - self.start - len(inflater.unused_data)


def _data_offset(view: memoryview, member: zipfile.ZipInfo) -> int:
    header = member.header_offset
    if header < 0 or header + 30 > len(view) or bytes(view[header:header + 4]) != LOCAL_HEADER:
        raise _damaged(f"找不到 {_shown(member.filename)} 部分的数据",
                       f"the data of the part {_shown(member.filename)} is missing")
    name_length, extra_length = struct.unpack_from("<HH", view, header + 26)
    return header + 30 + name_length + extra_length


def _read_index_part(view: memoryview, member: zipfile.ZipInfo, budget: _Budget) -> bytes:
    content = bytearray()
    for chunk in _chunks(view, member, budget):
        content += chunk
        if len(content) > MAX_INDEX_PART:
            raise _damaged(f"{_shown(member.filename)} 部分解压后超过 {MAX_INDEX_PART // 1024 // 1024} MiB，而 Excel 写入的只有几 KB",
                           f"the part {_shown(member.filename)} exceeds {MAX_INDEX_PART // 1024 // 1024} MiB once "
                           "decompressed where Excel writes a few kilobytes")
    return bytes(content)


def _worksheet_parts(index: dict[str, bytes], names: set[str]) -> dict[str, str]:
    """Each part a reader may read as a sheet → the sheet's name (its part name when the workbook does not say)."""
    targets = {e.get("Id"): e.get("Target", "") for e in _elements(index.get(WORKBOOK_RELS), "Relationship")
               if e.get("TargetMode") != "External"}
    parts: dict[str, str] = {}
    for sheet in _elements(index.get(WORKBOOK), "sheet"):
        target = targets.get(sheet.get("id"))
        if target:
            parts.setdefault(_resolve(target), sheet.get("name") or _resolve(target))
    for name in names:
        if name.startswith("xl/worksheets/") and name.endswith(".xml"):
            parts.setdefault(name, name)
    return parts


def _elements(xml: bytes | None, local_name: str) -> list[dict[str, str]]:
    """The attributes (by local name) of every element of that local name; what parses before an XML error."""
    found: list[dict[str, str]] = []
    if not xml:
        return found

    def start(name, attributes):
        if name.rpartition("}")[2] == local_name:
            found.append({key.rpartition("}")[2]: value for key, value in attributes.items()})

    parser = expat.ParserCreate(namespace_separator="}")
    parser.StartElementHandler = start
    try:
        parser.Parse(xml, True)
    except expat.ExpatError:
        pass  # the reader refuses the workbook; the parts found so far are still inspected
    return found


def _resolve(target: str) -> str:
    target = target.replace("\\", "/")
    return posixpath.normpath(target[1:] if target.startswith("/") else posixpath.join("xl", target))


class _SheetScan:
    """The extent of one sheet: its declared dimension and every row and cell, as the XML streams by."""

    def __init__(self, sheet: str, part: str, max_rows: int, max_columns: int):
        self.sheet, self.part = sheet, part
        self.last_row, self.max_columns, self.max_rows = max_rows + 2, max_columns, max_rows
        self.max_cells = self.last_row * max_columns
        self.row = 0  # the current row: a <row> without r is the one after it
        self.column = 0  # the current row's last cell: a <c> without r is the one after it
        self.cells = 0
        self.carry = b""
        self.wide_cells = re.compile(rb'<c r="([A-Z]{%d,3})\d' % len(get_column_letter(max_columns)))
        self.deep_rows = re.compile(rb'<row r="(\d{%d,7})"' % len(str(self.last_row)))
        self.deep_cells = re.compile(rb'<c r="([A-Z]{1,3}(\d{%d,7}))"' % len(str(self.last_row)))

    def feed(self, data: bytes) -> None:
        buffer = self.carry + data if self.carry else data
        # Keep back a tag of interest that may continue in the next chunk ('<' occurs only where markup starts).
        cut = buffer.rfind(b"<")
        if cut < 0 or (len(buffer) - cut >= _LONGEST_START and not _START.match(buffer, cut)):
            cut = len(buffer)
        elif len(buffer) - cut > MAX_TAG:
            raise _damaged(f"{_shown(self.part)} 部分有一个超过 64 KiB 的行或单元格标记",
                           f"the part {_shown(self.part)} holds a row or cell tag longer than 64 KiB")
        self._scan(buffer[:cut])
        self.carry = buffer[cut:]

    def close(self) -> None:
        self._scan(self.carry)
        self.carry = b""

    def _scan(self, text: bytes) -> None:
        if not text:
            return
        if b"dimension" in text:
            for match in _DIMENSION.finditer(text):
                self._dimension(match.group(1))
        if _NOT_PLAIN.search(text):
            self._scan_each(text)
        else:
            self._scan_plain(text)

    def _scan_plain(self, text: bytes) -> None:
        self._count(text.count(b'<c r="'))
        # Only references as long as the limit's can pass it: these patterns skip the rest without a copy.
        wide = set(self.wide_cells.findall(text))
        if wide:
            widest = max(wide, key=lambda letters: (len(letters), letters))
            if column_index_from_string(widest.decode()) > self.max_columns:
                self._too_many_columns(re.search(rb'<c r="(' + widest + rb'\d{1,7})"', text).group(1).decode())
        deep = [(int(number), None) for number in self.deep_rows.findall(text)]
        deep += [(int(number), reference.decode()) for reference, number in self.deep_cells.findall(text)]
        if deep:
            row, cell = max(deep, key=lambda found: found[0])
            if row > self.last_row:
                self._too_many_rows(row, cell)
        last_row, last_cell = text.rfind(b'<row r="'), text.rfind(b'<c r="')
        if last_row >= 0:
            self.row, self.column = int(_PLAIN_ROW.match(text, last_row).group(1)), 0
        if last_cell > last_row:
            self.column = column_index_from_string(_PLAIN_CELL_COLUMN.match(text, last_cell).group(1).decode())

    def _scan_each(self, text: bytes) -> None:
        for match in _ROW_OR_CELL.finditer(text):
            # Several r attributes are not XML; should one come, the farthest counts.
            references = [(a or b).decode("latin-1") for key, a, b in _REFERENCE.findall(match.group(2))
                          if key == b"r"]
            if match.group(1) == b"row":
                self.row = max(self._row_number(r) for r in references) if references else self.row + 1
                self.column = 0
                if self.row > self.last_row:
                    self._too_many_rows(self.row, None)
                continue
            self._count(1)
            if references:
                positions = [self._cell_position(r) for r in references]
                column, row = max(c for c, _ in positions), max(r for _, r in positions)
                shown = _shown(max(references, key=self._cell_position).strip())
            else:
                column, row = self.column + 1, max(self.row, 1)
                shown = f"{get_column_letter(column)}{row}"
            self.column = column
            if column > self.max_columns:
                self._too_many_columns(shown)
            if row > self.last_row:
                self._too_many_rows(row, shown)

    def _dimension(self, attributes: bytes) -> None:
        for key, a, b in _REFERENCE.findall(attributes):
            if key != b"ref":
                continue
            ref = (a or b).decode("latin-1")
            corners = [self._cell_position(corner) for corner in ref.split(":")]
            column, row = max(c for c, _ in corners), max(r for _, r in corners)
            shown = _shown(ref)
            if row > self.last_row:
                raise _Refused(CellError(
                    "too_many_rows",
                    f"行数过多：工作表声明的使用范围是 {shown}，到第 {row} 行；上限为 {self.max_rows} 行数据"
                    f"（到第 {self.last_row} 行）。请删除数据下方多余的行（连同格式），或把数据分成几个文件上传",
                    f"too many rows: the sheet declares its used range as {shown}, down to row {row}; the limit is "
                    f"{self.max_rows} data rows (down to row {self.last_row}). Delete the rows below the data "
                    "(formatting too) or split the data into several files", sheet=self.sheet))
            if column > self.max_columns:
                limit = get_column_letter(self.max_columns)
                raise _Refused(CellError(
                    "too_many_columns",
                    f"列数过多：工作表声明的使用范围是 {shown}，到第 {column} 列；模板有 {len(columns())} 列，"
                    f"上限为 {self.max_columns} 列（到 {limit} 列）。请删除 {limit} 列右侧的内容和格式，或把数据复制到新的模板中",
                    f"too many columns: the sheet declares its used range as {shown}, out to column {column}; the "
                    f"template has {len(columns())} columns and the limit is {self.max_columns} (up to column "
                    f"{limit}). Delete everything right of column {limit}, or copy the data into a fresh template",
                    sheet=self.sheet))

    def _count(self, cells: int) -> None:
        self.cells += cells
        if self.cells > self.max_cells:
            raise _damaged("工作表中的单元格多于其行和列所能容纳的数量（单元格重复）",
                           "the sheet holds more cells than its rows and columns can (cells repeat)", sheet=self.sheet)

    def _row_number(self, reference: str) -> int:
        match = _ROW.fullmatch(reference)
        if match is None:
            self._bad_reference(reference)
        return int(match.group(1))

    def _cell_position(self, reference: str) -> tuple[int, int]:
        match = _CELL.fullmatch(reference)
        if match is None:
            self._bad_reference(reference)
        letters, digits = match.groups()
        column = 0
        for letter in letters.upper():
            column = column * 26 + ord(letter) - 64
        return column, int(digits)

    def _bad_reference(self, reference: str):
        raise _damaged(f"单元格引用「{_shown(reference)}」无效", f"the cell reference '{_shown(reference)}' is not valid",
                       sheet=self.sheet)

    def _too_many_rows(self, row: int, cell: str | None):
        raise _Refused(CellError(
            "too_many_rows",
            f"行数过多：第 {row} 行有内容或格式；上限为 {self.max_rows} 行数据（到第 {self.last_row} 行）。"
            "请删除多余的行（连同格式），或把数据分成几个文件上传",
            f"too many rows: row {row} holds content or formatting; the limit is {self.max_rows} data rows "
            f"(down to row {self.last_row}). Delete the extra rows (formatting too) or split the data into "
            "several files", sheet=self.sheet, cell=cell))

    def _too_many_columns(self, cell: str):
        limit = get_column_letter(self.max_columns)
        raise _Refused(CellError(
            "too_many_columns",
            f"列数过多：此单元格有内容或格式，超出了第 {self.max_columns} 列（{limit} 列）；模板有 {len(columns())} 列。"
            f"请删除 {limit} 列右侧的内容和格式，或把数据复制到新的模板中",
            f"too many columns: this cell holds content or formatting beyond column {self.max_columns} ({limit}); "
            f"the template has {len(columns())} columns. Delete everything right of column {limit}, or copy "
            "the data into a fresh template", sheet=self.sheet, cell=cell))


def _damaged(zh: str, en: str, *, sheet: str | None = None) -> _Refused:
    return _Refused(CellError("damaged_file", f"文件已损坏：{zh}。请在 Excel 中打开文件，另存为 .xlsx 后重新上传",
                              f"the file is damaged: {en}. Open it in Excel, save it as .xlsx and upload it again",
                              sheet=sheet))


def _truncated(name: str) -> _Refused:
    return _damaged(f"{_shown(name)} 部分不完整（文件被截断）", f"the part {_shown(name)} is cut short (the file is truncated)")


def _shown(text: str, limit: int = 80) -> str:
    """Text from the file, fit to be shown: printable and short."""
    text = "".join(ch for ch in text if ch.isprintable())
    return text if len(text) <= limit else text[:limit] + "…"
