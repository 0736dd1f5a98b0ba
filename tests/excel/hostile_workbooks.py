"""Hostile workbooks, built at test time from parts written by hand (each builder is a few lines, the files small).

Ordinary parts go through zipfile. zipfile cannot store a deflate stream made elsewhere nor record a size
that is not the part's, so the decompression bombs and the lying headers are written by ``raw_zip``: a
deflate block of 1 MiB of one byte, flushed so that it stands alone, repeated, gives ~1,000:1 in a second.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass
from xml.sax.saxutils import escape

from openpyxl.utils import get_column_letter

from vte.excel.columns import columns
from vte.excel.template import DATA_SHEET

MIB = 1024 * 1024
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE = "http://schemas.openxmlformats.org/package/2006/relationships"
SHEET_PART = "xl/worksheets/sheet1.xml"
STRINGS_PART = "xl/sharedStrings.xml"

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
OFFICE_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml"
CONTENT_TYPES = (
    f'{XML_DECLARATION}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    f'<Override PartName="/xl/workbook.xml" ContentType="{OFFICE_TYPE}.sheet.main+xml"/>'
    f'<Override PartName="/{SHEET_PART}" ContentType="{OFFICE_TYPE}.worksheet+xml"/>'
    f'<Override PartName="/{STRINGS_PART}" ContentType="{OFFICE_TYPE}.sharedStrings+xml"/></Types>').encode()
ROOT_RELS = (f'{XML_DECLARATION}<Relationships xmlns="{PACKAGE}">'
             f'<Relationship Id="rId1" Type="{RELATIONSHIPS}/officeDocument" Target="xl/workbook.xml"/>'
             '</Relationships>').encode()
WORKBOOK = (f'{XML_DECLARATION}<workbook xmlns="{MAIN}" xmlns:r="{RELATIONSHIPS}">'
            f'<sheets><sheet name="{DATA_SHEET}" sheetId="1" r:id="rId1"/></sheets></workbook>').encode()
WORKBOOK_RELS = (f'{XML_DECLARATION}<Relationships xmlns="{PACKAGE}">'
                 f'<Relationship Id="rId1" Type="{RELATIONSHIPS}/worksheet" Target="worksheets/sheet1.xml"/>'
                 f'<Relationship Id="rId2" Type="{RELATIONSHIPS}/sharedStrings" Target="sharedStrings.xml"/>'
                 '</Relationships>').encode()
SHEET_START = f'{XML_DECLARATION}<worksheet xmlns="{MAIN}">'.encode()
SHEET_END = b"</sheetData></worksheet>"
STRINGS_START = f'{XML_DECLARATION}<sst xmlns="{MAIN}" count="1" uniqueCount="1">'.encode()
STRINGS_END = b"</sst>"
EMPTY_STRINGS = STRINGS_START.replace(b'count="1" uniqueCount="1"', b'count="0" uniqueCount="0"') + STRINGS_END


def _text_cell(reference: str, text: str) -> str:
    return f'<c r="{reference}" t="inlineStr"><is><t>{escape(text)}</t></is></c>'


def header_row() -> bytes:
    """Row 1 of the template: the field names, as inline strings."""
    cells = "".join(_text_cell(f"{get_column_letter(i + 1)}1", c.name) for i, c in enumerate(columns()))
    return f'<row r="1">{cells}</row>'.encode()


def data_row(number: int, report_date: str, row: dict) -> bytes:
    """One department row of a payload: numbers as numbers, the rest (the date too) as text."""
    cells = []
    for index, column in enumerate(columns()):
        reference = f"{get_column_letter(index + 1)}{number}"
        value = report_date if column.name == "date" else row[column.name]
        cells.append(f'<c r="{reference}"><v>{value}</v></c>' if isinstance(value, int) else _text_cell(reference, value))
    return f'<row r="{number}">{"".join(cells)}</row>'.encode()


def sheet_xml(rows: bytes, *, dimension: str | None = None) -> bytes:
    declared = f'<dimension ref="{dimension}"/>'.encode() if dimension else b""
    return SHEET_START + declared + b"<sheetData>" + rows + SHEET_END


def workbook(sheet: bytes, *, strings: bytes = EMPTY_STRINGS, workbook_xml: bytes = WORKBOOK) -> bytes:
    """A workbook of one data sheet, the parts written with zipfile."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in (("[Content_Types].xml", CONTENT_TYPES), ("_rels/.rels", ROOT_RELS),
                           ("xl/workbook.xml", workbook_xml), ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS),
                           (SHEET_PART, sheet), (STRINGS_PART, strings)):
            archive.writestr(name, data)
    return buffer.getvalue()


# --- the attacks --------------------------------------------------------------------------------------------


def corner_cell() -> bytes:
    """The header row and one cell at XFD100000: calamine's dense grid would be 100,000 × 16,384 cells."""
    return workbook(sheet_xml(header_row() + b'<row r="100000"><c r="XFD100000"><v>1</v></c></row>'))


def lying_dimension() -> bytes:
    """A sheet that declares the whole grid as its used range while holding one row."""
    return workbook(sheet_xml(header_row(), dimension="A1:XFD1048576"))


def row_bomb(rows: int = 200_000) -> bytes:
    """Many tiny rows, one cell each: twice the rows the platform reads."""
    body = b"".join(b'<row r="%d"><c r="A%d"><v>0</v></c></row>' % (n, n) for n in range(2, rows + 2))
    return workbook(sheet_xml(header_row() + body))


def cells_without_references(count: int = 100) -> bytes:
    """One row of cells without r attributes (each is the next column), as some writers do."""
    return workbook(sheet_xml(header_row() + b'<row>' + b"<c><v>0</v></c>" * count + b"</row>"))


def far_cell_after_a_tricky_attribute() -> bytes:
    """A '>' inside an attribute value ahead of the real reference, in a tag with a namespace prefix."""
    sheet = sheet_xml(header_row() + b'<row r="2"><x:c xmlns:x="' + MAIN.encode()
                      + b'" note="a > b" r="ZZ2"><x:v>1</x:v></x:c></row>')
    return workbook(sheet)


def entity_declaration(part: str = SHEET_PART) -> bytes:
    """The billion laughs' declarations at the top of one part."""
    doctype = (b'<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
               b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>\n')
    sheet, strings, book = sheet_xml(header_row()), EMPTY_STRINGS, WORKBOOK
    if part == SHEET_PART:
        sheet = sheet.replace(b"?>\n", b"?>\n" + doctype, 1)
    elif part == STRINGS_PART:
        strings = strings.replace(b"?>\n", b"?>\n" + doctype, 1)
    else:
        book = book.replace(b"?>\n", b"?>\n" + doctype, 1)
    return workbook(sheet, strings=strings, workbook_xml=book)


def declaration_across_a_chunk_boundary(chunk: int = MIB) -> bytes:
    """'<!DOC' ends one decompressed chunk of the shared strings and 'TYPE' starts the next."""
    lead = STRINGS_START + b"<si><t>"
    padding = b" " * (chunk - len(lead) - len(b"<!DOC"))
    return workbook(sheet_xml(header_row()), strings=lead + padding + b"<!DOCTYPE x></t></si>" + STRINGS_END)


def heavy_within_limits() -> bytes:
    """Within every limit the inspection sets, yet calamine builds a 100,002 × 64 grid (~200 MB) for it."""
    far = b'<row r="100002"><c r="BL100002"><v>1</v></c></row>'
    return workbook(sheet_xml(header_row() + far, dimension="A1:BL100002"))


# --- zips zipfile will not write ----------------------------------------------------------------------------


@dataclass
class RawPart:
    name: str
    deflated: bytes  # a raw deflate stream
    size: int  # the bytes it decompresses to
    crc: int
    recorded_size: int | None = None  # what the headers say, when it is not ``size``
    recorded_crc: int | None = None


def deflated(data: bytes) -> RawPart:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return RawPart("", compressor.compress(data) + compressor.flush(), len(data), zlib.crc32(data))


def repeated(prefix: bytes, unit: bytes, count: int, suffix: bytes) -> RawPart:
    """prefix + unit × count + suffix as one deflate stream, built from the unit compressed once."""
    def alone(data: bytes, mode: int) -> bytes:  # a fresh compressor: no history, starts on a byte boundary
        compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
        return compressor.compress(data) + compressor.flush(mode)

    crc = zlib.crc32(prefix)
    for _ in range(count):
        crc = zlib.crc32(unit, crc)
    stream = alone(prefix, zlib.Z_FULL_FLUSH) + alone(unit, zlib.Z_FULL_FLUSH) * count + alone(suffix, zlib.Z_FINISH)
    return RawPart("", stream, len(prefix) + len(unit) * count + len(suffix), zlib.crc32(suffix, crc))


def raw_zip(parts: list[RawPart]) -> bytes:
    """A zip of deflated parts, each recorded with the size and checksum it asks for."""
    out, directory = bytearray(), bytearray()
    for part in parts:
        name = part.name.encode()
        size = part.size if part.recorded_size is None else part.recorded_size
        crc = part.crc if part.recorded_crc is None else part.recorded_crc
        # UTF-8 names, deflated, dated 1980-01-01
        common = (0x800, 8, 0, 0x21, crc, len(part.deflated), size, len(name))
        out_offset = len(out)
        out += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, *common, 0) + name + part.deflated
        directory += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, *common, 0, 0, 0, 0, 0, out_offset) + name
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(parts), len(parts), len(directory), len(out), 0)
    return bytes(out + directory + end)


def _named(name: str, part: RawPart) -> RawPart:
    part.name = name
    return part


def ordinary_parts(**replaced: RawPart) -> list[RawPart]:
    """The parts of ``workbook``'s workbook, deflated, with the given ones in place of the sheet or strings."""
    plain = {"[Content_Types].xml": CONTENT_TYPES, "_rels/.rels": ROOT_RELS, "xl/workbook.xml": WORKBOOK,
             "xl/_rels/workbook.xml.rels": WORKBOOK_RELS, SHEET_PART: sheet_xml(header_row()),
             STRINGS_PART: EMPTY_STRINGS}
    keys = {"sheet": SHEET_PART, "strings": STRINGS_PART}
    chosen = {keys[k]: v for k, v in replaced.items()}
    return [_named(name, chosen.get(name) or deflated(data)) for name, data in plain.items()]


def whitespace_bomb(mib: int = 1000) -> bytes:
    """A ~1 MB file whose sheet is ~1 GB of whitespace between the header row and the end."""
    return raw_zip(ordinary_parts(sheet=repeated(SHEET_START + b"<sheetData>" + header_row(), b" " * MIB, mib,
                                                 SHEET_END)))


def huge_shared_string(mib: int = 1000) -> bytes:
    """A ~1 MB file whose one shared string is ~1 GB long."""
    return raw_zip(ordinary_parts(strings=repeated(STRINGS_START + b"<si><t>", b"A" * MIB, mib,
                                                   b"</t></si>" + STRINGS_END)))


def understated_size(*, crc_of_what_is_recorded: bool) -> bytes:
    """The sheet's headers record 1 KiB less than it holds; with the checksum of the whole sheet, or of the
    recorded first part only (zipfile then reads that part as the whole sheet without complaint)."""
    sheet = sheet_xml(header_row() + b"".join(b'<row r="%d"><c r="A%d"><v>0</v></c></row>' % (n, n)
                                              for n in range(2, 200)))
    part = deflated(sheet)
    part.recorded_size = len(sheet) - 1024
    if crc_of_what_is_recorded:
        part.recorded_crc = zlib.crc32(sheet[:part.recorded_size])
    return raw_zip(ordinary_parts(sheet=part))
