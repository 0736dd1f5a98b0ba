"""The Excel template: headers, validation, frozen panes, instructions; and the CLI that writes it."""

from __future__ import annotations

import io
import subprocess

import openpyxl

from vte.domain import count_fields
from vte.excel.parser import parse_workbook
from vte.excel.template import DATA_SHEET, INSTRUCTIONS_SHEET, build_template


def _book():
    return openpyxl.load_workbook(io.BytesIO(build_template()))


def test_data_sheet_headers_are_the_interface_fields_then_their_chinese_labels():
    sheet = _book()[DATA_SHEET]
    names = [c.value for c in sheet[1]]
    labels = [c.value for c in sheet[2]]
    assert names == ["date", "hospital", "dept", *(f.name for f in count_fields())]
    assert labels == ["上报日期", "院区", "科室ID", *(f.label_zh for f in count_fields())]
    assert sheet.freeze_panes == "D3"  # two header rows (and the identifying columns) stay in view


def test_counts_accept_only_whole_numbers_of_at_least_zero_and_dates_only_dates():
    sheet = _book()[DATA_SHEET]
    # "between" is the default operator, which Excel leaves unwritten
    rules = {(v.type, v.operator or "between"): str(v.sqref) for v in sheet.data_validations.dataValidation}
    first_count = openpyxl.utils.get_column_letter(4)
    last_count = openpyxl.utils.get_column_letter(3 + len(count_fields()))
    assert rules[("whole", "greaterThanOrEqual")] == f"{first_count}3:{last_count}50002"
    assert rules[("date", "between")] == "A3:A50002"
    count_rule = next(v for v in sheet.data_validations.dataValidation if v.type == "whole")
    assert count_rule.formula1 == "0"


def test_instructions_explain_every_field_and_the_replacement_rule():
    sheet = _book()[INSTRUCTIONS_SHEET]
    text = "\n".join(str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None)
    rows = {tuple(c.value for c in row)[1]: [c.value for c in row] for row in sheet.iter_rows()}
    for field in count_fields():
        assert rows[field.name][2] == field.label_zh
        assert rows[field.name][3] == field.description_en
        assert rows[field.name][4] == ("是 yes" if field.excludes_non_assessable else "否 no")
    assert "替换该日期此前的上报" in text and "replacing any earlier submission" in text
    assert "整个文件的所有行都不会被接收" in text and "no row of the file is accepted" in text


def test_empty_template_is_read_as_a_workbook_without_rows():
    parsed = parse_workbook(build_template())
    assert [e.code for e in parsed.errors] == ["no_rows"]


def test_cli_writes_the_template(tmp_path):
    out = tmp_path / "template.xlsx"
    done = subprocess.run(["vte", "excel-template", "--out", str(out)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    written = openpyxl.load_workbook(out)
    assert written.sheetnames == [DATA_SHEET, INSTRUCTIONS_SHEET]
    assert [c.value for c in written[DATA_SHEET][1]] == [c.value for c in _book()[DATA_SHEET][1]]
