"""Building uploaded workbooks for the tests: the platform's template filled in the way people fill it."""

from __future__ import annotations

import io
from datetime import date, timedelta

import openpyxl
from openpyxl.utils import get_column_letter

from vte.excel.template import DATA_SHEET, build_template
from vte.generator import iter_submissions, synthetic_institutions


def generated_payloads(days: int = 3, seed: int = 7) -> list[dict]:
    """Clean synthetic submissions of one institution (the one with most campuses of a few), in date order."""
    institution = max(synthetic_institutions(5, seed, date(2025, 3, 1)), key=lambda i: len(i.campuses))
    start = institution.joined_on
    end = start + timedelta(days=days - 1)
    return [{"date": s.date, "data": s.data} for s in iter_submissions([institution], start, end, seed)]


def interleaved_rows(payloads: list[dict]) -> list[tuple[str, dict]]:
    """The rows of all payloads, dates interleaved (row 1 of each date, then row 2 ...), as people sort by dept."""
    longest = max(len(p["data"]) for p in payloads)
    return [(p["date"], p["data"][i]) for i in range(longest) for p in payloads if i < len(p["data"])]


def header_of(sheet) -> list[str]:
    return [cell.value for cell in sheet[1]]


def filled_template(rows: list[tuple[str, dict]], *, dates_as_text: bool = False,
                    keep_example: bool = False) -> tuple[bytes, list[str]]:
    """The template with ``rows`` from row 3, the example row deleted as many people do (kept: from row 4);
    returns the workbook and its header (to locate cells)."""
    book = openpyxl.load_workbook(io.BytesIO(build_template()))
    sheet = book[DATA_SHEET]
    header = header_of(sheet)
    if not keep_example:
        sheet.delete_rows(3)
    for report_date, row in rows:
        day = report_date if dates_as_text else date.fromisoformat(report_date)
        sheet.append([day, *(row[name] for name in header[1:])])
    return save(book), header


def save(book: openpyxl.Workbook) -> bytes:
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def edited(content: bytes, edit) -> bytes:
    """The workbook after ``edit(data_sheet)``."""
    book = openpyxl.load_workbook(io.BytesIO(content))
    edit(book[DATA_SHEET])
    return save(book)


def cell_of(header: list[str], field: str, row: int) -> str:
    return f"{get_column_letter(header.index(field) + 1)}{row}"
