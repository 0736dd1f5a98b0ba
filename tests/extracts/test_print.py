"""The workbook prints as a report: LibreOffice (Debian's libreoffice-calc-nogui, which `make test` installs)
renders a provincial monthly final and a quarterly preliminary to PDF; each sheet is one page wide with its
header row on every page, the footer names the region and period, a preliminary says so on every page, and no
cell's text is wider than its column.

Set VTE_EXTRACT_PAGES to a directory to also write each sheet's first page there as PNG (poppler's pdftoppm):
that is how docs/extract-pages/ was made.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import openpyxl
import pytest
from pypdf import PdfReader

from vte.extracts.create import create_extract
from vte.extracts.layout import wrapped_lines
from vte.extracts.periods import parse_period
from vte.extracts.workbook import COVER_SHEET, HEADER_ROW, PRELIMINARY_MARK

from extract_support import sheet_records

pytestmark = pytest.mark.slow

FOOTER = re.compile(r"第 (\d+) 页，共 (\d+) 页 Page \d+ of \d+ (.+)")
DEFAULT_ROW_HEIGHT = 15.0
DEFAULT_COLUMN_WIDTH = 8.43
LINE_HEIGHT = 14.0  # the least a line of 11-point text needs


def _soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    assert found, "LibreOffice is missing: `make test` installs Debian's libreoffice-calc-nogui"
    return found


def _pdf(workbook: Path, out: Path) -> Path:
    """The workbook printed to PDF by LibreOffice, with a profile of its own (parallel runs do not share one)."""
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run([_soffice(), f"-env:UserInstallation=file://{out / 'profile'}", "--headless",
                    "--convert-to", "pdf", "--outdir", str(out), str(workbook)],
                   check=True, capture_output=True, timeout=180)
    return out / f"{workbook.stem}.pdf"


def _pages_by_sheet(pdf: Path) -> dict[str, list[tuple[int, str, object]]]:
    """Each sheet's pages (number, text, page) in print order, told apart by the footer's sheet name."""
    sheets: dict[str, list] = {}
    for number, page in enumerate(PdfReader(pdf).pages, start=1):
        text = page.extract_text()
        footer = next((FOOTER.search(line) for line in text.splitlines() if FOOTER.search(line)), None)
        assert footer, f"page {number} has no footer: {text[:200]!r}"
        assert int(footer[1]) == number
        sheets.setdefault(footer[3].strip(), []).append((number, text, page))
    return sheets


def _squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _shown(cell) -> str:
    """The cell's text as displayed with its number format."""
    value = cell.value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if cell.number_format == "#,##0":
            return f"{value:,.0f}"
        if cell.number_format == "0.00":
            return f"{value:,.2f}"
        return str(value)
    return str(value)


def _needed_width(text: str) -> float:
    """Excel units a one-line text needs, measured independently of the writer: a CJK character is about 2.1
    digits wide in the 11-point font, a Latin character at most one, plus the cell's padding."""
    return sum(2.1 if unicodedata.east_asian_width(c) in ("W", "F") else 1.0 for c in text) + 1.0


def _cut_cells(path: Path) -> list[str]:
    """Every cell whose text does not fit: wider than its column (or merged range) on one line, or wrapping
    into more lines than its row is high."""
    book = openpyxl.load_workbook(path)
    cut = []
    for sheet in book.worksheets:
        if sheet.sheet_state != "visible":
            continue
        merged = {(r.min_row, r.min_col): r for r in sheet.merged_cells.ranges}
        # Adjacent columns of the same width are stored as one range (min..max).
        widths = {c: d.width for d in sheet.column_dimensions.values() for c in range(d.min, d.max + 1)}
        for row in sheet.iter_rows():
            for cell in row:
                if cell.value is None or type(cell).__name__ == "MergedCell":
                    continue
                span = merged.get((cell.row, cell.column))
                columns = range(cell.column, (span.max_col if span else cell.column) + 1)
                width = sum(widths.get(c, DEFAULT_COLUMN_WIDTH) for c in columns)
                text = _shown(cell)
                height = sheet.row_dimensions[cell.row].height or DEFAULT_ROW_HEIGHT
                if cell.alignment.wrap_text:
                    if wrapped_lines(text, width) * LINE_HEIGHT > height:
                        cut.append(f"{sheet.title}!{cell.coordinate}: {text!r} needs more lines than its row has")
                elif max(_needed_width(line) for line in text.split("\n")) > width:
                    cut.append(f"{sheet.title}!{cell.coordinate}: {text!r} is wider than its column ({width})")
    return cut


@pytest.fixture(scope="module")
def printed(published_pipeline, province_month, tmp_path_factory):
    """The provincial monthly final and the provincial quarterly preliminary, each with its PDF."""
    quarter = create_extract(parse_period("2026Q1"), kind="preliminary", actor="test",
                             settings=published_pipeline.settings)
    out = tmp_path_factory.mktemp("printed")
    return {name: (extract, _pdf(extract.files[0], out / name))
            for name, extract in (("month-final", province_month), ("quarter-preliminary", quarter))}


@pytest.mark.parametrize("name", ["month-final", "quarter-preliminary"])
def test_every_sheet_prints_one_page_wide_with_its_header_and_footer(printed, name):
    extract, pdf = printed[name]
    workbook = extract.files[0]
    book = openpyxl.load_workbook(workbook)
    visible = [s.title for s in book.worksheets if s.sheet_state == "visible"]
    pages = _pages_by_sheet(pdf)
    assert list(pages) == visible, "every visible sheet prints, in order, and nothing else does"
    region, period = extract.manifest["region"], extract.manifest["period"]["label"]
    preliminary = extract.manifest["kind"] == "preliminary"
    counts = {sheet: len(found) for sheet, found in pages.items()}
    for sheet, found in pages.items():
        worksheet = book[sheet]
        landscape = worksheet.page_setup.orientation == "landscape"
        assert worksheet.sheet_properties.pageSetUpPr.fitToPage and worksheet.page_setup.fitToWidth in (None, 1)
        assert worksheet.page_setup.fitToHeight == 0  # as many pages down as it takes
        for number, text, page in found:
            assert (page.mediabox.width > page.mediabox.height) == landscape, (sheet, number)
            assert f"{region['name']} {region['code']} · {period}" in text, (sheet, number)
            assert (PRELIMINARY_MARK in text) == preliminary, (sheet, number)
        if sheet in (COVER_SHEET, "说明 About"):
            assert counts[sheet] == 1
            continue
        records = sheet_records(workbook, sheet)
        headers = [h for h in next(worksheet.iter_rows(min_row=HEADER_ROW + 1, max_row=HEADER_ROW + 1,
                                                       values_only=True)) if h]
        for number, text, _ in found:
            # Fit to one page wide: every page carries the whole repeated header row, the last column's too.
            assert _squeezed(headers[0]) in _squeezed(text) and _squeezed(headers[-1]) in _squeezed(text), \
                (sheet, number)
        charts = len(worksheet._charts)
        # Printed pages: the table (at least 12 rows, wrapped ones too, fit a page at the scale one page wide gives),
        # then the charts two to a page.
        table_pages = counts[sheet] - math.ceil(charts / 2)
        assert 1 <= table_pages <= max(1, math.ceil(len(records) / 12)), (sheet, counts[sheet], len(records))
    short = {"概览 Overview", "同比环比 Comparison", "趋势 Trend", "区县对比 County comparison"}
    assert all(counts[s] == 1 + math.ceil(len(book[s]._charts) / 2) for s in short & set(counts)), counts
    assert sum(counts.values()) < 80, counts
    if os.environ.get("VTE_EXTRACT_PAGES"):
        _first_pages(pdf, pages, Path(os.environ["VTE_EXTRACT_PAGES"]) / name)


def _first_pages(pdf: Path, pages: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for index, (sheet, found) in enumerate(pages.items(), start=1):
        number = found[0][0]
        stem = f"{index:02d}-{sheet.split(' ', 1)[1].lower().replace(' ', '-')}"
        subprocess.run(["pdftoppm", "-png", "-r", "70", "-singlefile", "-f", str(number), "-l", str(number),
                        str(pdf), str(out / stem)], check=True)


@pytest.mark.parametrize("name", ["month-final", "quarter-preliminary"])
def test_no_cell_text_is_cut(printed, name):
    extract, _ = printed[name]
    assert _cut_cells(extract.files[0]) == []


def test_the_preliminary_is_marked_and_the_quarter_compares_with_the_quarter_before(printed):
    extract, _ = printed["quarter-preliminary"]
    workbook = extract.files[0]
    book = openpyxl.load_workbook(workbook)
    for sheet in book.worksheets:
        if sheet.sheet_state == "visible":
            assert PRELIMINARY_MARK in (sheet.oddHeader.center.text or ""), sheet.title
    comparison = sheet_records(workbook, "同比环比 Comparison")
    assert "上季度(%) Previous quarter (%)" in comparison[0]
