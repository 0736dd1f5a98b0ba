"""Reading uploaded workbooks: the round trip to the interface's payloads, and every kind of refusal."""

from __future__ import annotations

import csv
import io
import time
import zipfile
from datetime import date, datetime, timedelta

import openpyxl
import pytest
import xlsxwriter
from excel_workbooks import cell_of, edited, filled_template, generated_payloads, interleaved_rows, save
from openpyxl.styles import Font

from vte.domain import count_field_names, fields_by_name
from vte.excel.parser import parse_workbook
from vte.excel.template import DATA_SHEET
from vte.submission import validate_payload


@pytest.fixture(scope="module")
def payloads() -> list[dict]:
    return generated_payloads(days=3)


@pytest.fixture(scope="module")
def good(payloads) -> tuple[bytes, list[str]]:
    return filled_template(interleaved_rows(payloads))


def refused(content: bytes, **kwargs):
    parsed = parse_workbook(content, **kwargs)
    assert not parsed.ok and parsed.submissions == [], "a workbook with any error must yield no submission"
    return parsed.errors


def the_error(content: bytes, **kwargs):
    errors = refused(content, **kwargs)
    assert len(errors) == 1, [e.message for e in errors]
    return errors[0]


# --- the round trip --------------------------------------------------------------------------------


def test_filled_template_reads_back_as_exactly_the_interface_payloads(payloads, good):
    parsed = parse_workbook(good[0])
    assert parsed.ok, [e.message for e in parsed.errors]
    assert parsed.submissions == payloads
    for payload in parsed.submissions:  # the same keys, in the same order, and ints as the JSON carries
        assert validate_payload(payload) == []
        for row in payload["data"]:
            assert list(row) == ["hospital", "dept", *count_field_names()]
            assert all(type(row[name]) is int for name in count_field_names())


def test_sources_point_at_the_sheet_rows(payloads, good):
    parsed = parse_workbook(good[0])
    excel_rows = {(d, r["dept"], r["hospital"]): n for n, (d, r) in enumerate(interleaved_rows(payloads), start=3)}
    for payload, sources in zip(parsed.submissions, parsed.sources):
        for row, source in zip(payload["data"], sources):
            assert source.sheet == DATA_SHEET
            assert source.row == excel_rows[(payload["date"], row["dept"], row["hospital"])]
    assert parsed.cell_of(0, 0, "dept") == (DATA_SHEET, cell_of(good[1], "dept", parsed.sources[0][0].row))


def test_text_numbers_text_dates_chinese_headers_and_trailing_formatting_are_accepted(payloads):
    """A workbook exported by a hospital system rather than typed into the template."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Sheet1"
    labels = ["上报日期", "院区", "科室ID", *(fields_by_name()[n].label_zh for n in count_field_names())]
    sheet.append(labels)  # Chinese labels as the only header row
    for report_date, row in interleaved_rows(payloads):
        sheet.append([report_date, f" {row['hospital']} ", row["dept"], *(str(row[n]) for n in count_field_names())])
    for blank_row in range(sheet.max_row + 1, sheet.max_row + 200):  # formatted but empty rows
        sheet.cell(blank_row, 4).font = Font(bold=True)
    parsed = parse_workbook(save(book))
    assert parsed.ok, [e.message for e in parsed.errors[:5]]
    assert parsed.submissions == payloads


def test_numeric_department_ids_and_datetime_cells_become_the_interface_strings(payloads):
    row = dict(payloads[0]["data"][0], dept="101")
    content, header = filled_template([(payloads[0]["date"], row)])

    def as_number(sheet):
        sheet[cell_of(header, "dept", 3)] = 101
        sheet[cell_of(header, "date", 3)] = datetime.fromisoformat(payloads[0]["date"])
    parsed = parse_workbook(edited(content, as_number))
    assert parsed.submissions == [{"date": payloads[0]["date"], "data": [row]}]


# --- refusals of cells ------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "code"), [
    (None, "blank"),
    (1.5, "not_integer"),
    ("abc", "not_integer"),
    (-3, "negative"),
    ("#DIV/0!", "formula_error"),
    ("#VALUE!", "formula_error"),
    ("#REF!", "formula_error"),
])
def test_a_bad_count_cell_is_refused_with_sheet_cell_and_field(good, value, code):
    content, header = good
    where = cell_of(header, "medicine", 7)
    error = the_error(edited(content, lambda s: s.__setitem__(where, value)))
    assert (error.code, error.sheet, error.cell, error.field) == (code, DATA_SHEET, where, "medicine")
    assert f"工作表「{DATA_SHEET}」单元格 {where}（medicine）" in error.message
    assert f"sheet '{DATA_SHEET}' cell {where} (medicine)" in error.message
    assert error.message.index("：") < error.message.index(" / ")  # Chinese first
    assert error.to_dict()["fieldLabelZh"] == error.field_label_zh == fields_by_name()["medicine"].label_zh
    if code == "formula_error":
        assert value in error.message


@pytest.mark.parametrize("value", ["2025-13-01", "2025/03/01", "yesterday", 45678, "45678",
                                   datetime(2025, 3, 1, 8, 30)])
def test_a_bad_date_is_refused(good, value):
    content, header = good
    where = cell_of(header, "date", 4)

    def write(sheet):
        sheet[where].number_format = "General"  # a bare number, not a date-formatted serial
        sheet[where] = value
    error = the_error(edited(content, write))
    assert (error.code, error.cell, error.field) == ("bad_date", where, "date")


def test_a_future_date_is_refused_by_the_interface_rule_at_its_cell(good):
    content, header = good
    tomorrow = date.today() + timedelta(days=2)
    error = the_error(edited(content, lambda s: s.__setitem__(cell_of(header, "date", 5), tomorrow)))
    assert (error.code, error.cell, error.field) == ("future_date", cell_of(header, "date", 5), "date")
    assert not error.message_zh.startswith("date")  # the JSON location is replaced by the cell


def test_interface_limits_are_mapped_back_to_cells(good):
    content, header = good

    def break_limits(sheet):
        sheet[cell_of(header, "surgery", 6)] = 2**31
        sheet[cell_of(header, "hospital", 8)] = "院" * 101
    errors = refused(edited(content, break_limits))
    assert [(e.code, e.cell, e.field) for e in errors] == [
        ("count_too_large", cell_of(header, "surgery", 6), "surgery"),
        ("bad_text", cell_of(header, "hospital", 8), "hospital"),
    ]


def test_a_blank_hospital_is_refused(good):
    content, header = good
    error = the_error(edited(content, lambda s: s.__setitem__(cell_of(header, "hospital", 3), "  ")))
    assert (error.code, error.cell, error.field) == ("blank", cell_of(header, "hospital", 3), "hospital")


def test_duplicate_rows_name_both_rows(good):
    content, header = good

    def duplicate(sheet):
        sheet.append([c.value for c in sheet[4]])
    duplicated = edited(content, duplicate)
    last = openpyxl.load_workbook(io.BytesIO(duplicated))[DATA_SHEET].max_row
    error = the_error(duplicated)
    assert (error.code, error.cell) == ("duplicate_row", cell_of(header, "dept", last))
    assert f"第 {last} 行" in error.message and "第 4 行" in error.message
    assert f"row {last} repeats row 4" in error.message


def test_every_error_of_the_workbook_is_listed_in_sheet_order(good):
    content, header = good
    bad = {cell_of(header, "newPe", 9): -1, cell_of(header, "dept", 3): None, cell_of(header, "peDie", 5): "x"}
    errors = refused(edited(content, lambda s: [s.__setitem__(k, v) for k, v in bad.items()]))
    assert [e.cell for e in errors] == [cell_of(header, "dept", 3), cell_of(header, "peDie", 5),
                                        cell_of(header, "newPe", 9)]


# --- refusals of the header -----------------------------------------------------------------------


def test_an_unknown_column_is_refused_at_its_header_cell(good):
    content, header = good
    where = f"{openpyxl.utils.get_column_letter(len(header) + 1)}1"
    error = the_error(edited(content, lambda s: s.__setitem__(where, "icuBeds")))
    assert (error.code, error.cell, error.field) == ("unknown_column", where, "icuBeds")


def test_a_missing_column_is_refused_naming_the_field_and_the_header_row(good):
    content, header = good
    error = the_error(edited(content, lambda s: s.delete_cols(header.index("highVteCheck") + 1)))
    last = openpyxl.utils.get_column_letter(len(header) - 1)
    assert (error.code, error.cell, error.field) == ("missing_column", f"A1:{last}1", "highVteCheck")


def test_a_value_under_no_header_is_refused(good):
    content, header = good
    where = f"{openpyxl.utils.get_column_letter(len(header) + 2)}5"
    error = the_error(edited(content, lambda s: s.__setitem__(where, 3)))
    assert (error.code, error.cell) == ("value_without_header", where)


# --- refusals of the file ---------------------------------------------------------------------------


def test_a_csv_is_not_an_xlsx(payloads):
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["date", "hospital", "dept", *count_field_names()])
    error = the_error(text.getvalue().encode())
    assert error.code == "not_xlsx" and "CSV" in error.message


def test_an_old_xls_and_an_encrypted_xlsx_are_told_apart():
    # Both are OLE compound files; Office stores an encrypted .xlsx as its "EncryptedPackage" stream.
    ole_header = bytes.fromhex("d0cf11e0a1b11ae1") + bytes(504)
    xls = the_error(ole_header + "Workbook".encode("utf-16-le") + bytes(512))
    encrypted = the_error(ole_header + "EncryptedPackage".encode("utf-16-le") + bytes(512))
    assert xls.code == "not_xlsx" and ".xls" in xls.message
    assert encrypted.code == "encrypted" and "密码" in encrypted.message


def test_a_zip_that_is_not_a_workbook_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("report.txt", "hello")
    assert the_error(buffer.getvalue()).code == "not_xlsx"


def test_empty_workbooks_and_sheets_without_the_header_are_refused():
    assert the_error(save(openpyxl.Workbook())).code == "empty_workbook"
    book = openpyxl.Workbook()
    book.active.append(["科室", "出院人数"])
    book.active.append(["内科", 3])
    assert the_error(save(book)).code == "no_data_sheet"
    assert the_error(b"").code == "empty_file"


def test_an_oversized_file_or_too_many_rows_are_refused(good):
    content, _ = good
    too_large = the_error(content, max_bytes=len(content) - 1)
    assert too_large.code == "file_too_large" and str(len(content) - 1) in too_large.message
    too_many = the_error(content, max_rows=5)
    assert too_many.code == "too_many_rows" and too_many.sheet == DATA_SHEET


# --- speed --------------------------------------------------------------------------------------------


def test_ten_thousand_rows_parse_and_validate_well_under_three_seconds(tmp_path):
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet(DATA_SHEET)
    names = ["date", "hospital", "dept", *count_field_names()]
    sheet.write_row(0, 0, names)
    date_format = book.add_format({"num_format": "yyyy-mm-dd"})
    for n in range(10_000):
        sheet.write_datetime(n + 1, 0, datetime(2025, 1, 1) + timedelta(days=n // 250), date_format)
        sheet.write_row(n + 1, 1, ["总院", f"D{n % 250:03d}", *([n % 7] * len(count_field_names()))])
    book.close()
    started = time.perf_counter()
    parsed = parse_workbook(buffer.getvalue())
    elapsed = time.perf_counter() - started
    assert parsed.ok and len(parsed.submissions) == 40 and parsed.row_count == 10_000
    print(f"\n10,000 rows parsed and validated in {elapsed:.2f} s")
    assert elapsed < 3
