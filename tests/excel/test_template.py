"""The Excel template: headers, validation, frozen panes, instructions, the example row, pre-filled departments;
and the CLI that writes it."""

from __future__ import annotations

import io
import subprocess
from datetime import date

import openpyxl

from vte.domain import broken_rules, count_fields, rules
from vte.excel import prefill
from vte.excel.columns import EXAMPLE_COUNTS, EXAMPLE_MARKER, example_row
from vte.excel.parser import parse_workbook
from vte.excel.prefill import Prefill
from vte.excel.template import DATA_SHEET, INSTRUCTIONS_SHEET, build_template, filled_workbook
from vte.landing import LandingZone


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
    assert rules[("whole", "greaterThanOrEqual")] == f"{first_count}4:{last_count}50003"  # below the example row
    assert rules[("date", "between")] == "A4:A50003"
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


# --- issue 17 item 4: rules in words, the example row, pre-filled departments -----------------------


def _texts(sheet) -> list[str]:
    return [str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None]


def test_instructions_list_every_consistency_rule_in_words():
    sheet = _book()[INSTRUCTIONS_SHEET]
    by_id = {row[0].value: [c.value for c in row] for row in sheet.iter_rows() if row[0].value}
    for rule in rules():
        _, zh, en, when_broken, indicator = by_id[rule.rule_id][:5]
        assert (zh, en) == (rule.describe_zh(), rule.describe_en())
        assert when_broken.startswith("隔离" if rule.severity == "quarantine" else "提醒")
        assert (indicator or "").startswith(rule.indicator_id or "")


def test_the_example_row_keeps_every_rule_and_the_parser_skips_it():
    sheet = _book()[DATA_SHEET]
    example = dict(zip([c.value for c in sheet[1]], [c.value for c in sheet[3]]))
    assert example["date"] == EXAMPLE_MARKER and example == example_row()
    assert broken_rules(example) == []
    assert [e.code for e in parse_workbook(build_template()).errors] == ["no_rows"]

    payload = {"date": "2025-03-03", "data": [{k: v for k, v in example_row().items() if k != "date"}]}
    parsed = parse_workbook(filled_workbook([payload]))  # the example stays in row 3, the day's row is row 4
    assert parsed.ok and parsed.submissions == [payload] and parsed.sources[0][0].row == 4


def test_a_changed_example_row_is_refused_at_its_date_cell():
    book = _book()
    book[DATA_SHEET]["E3"] = 21  # the example's distinctDischargeHospital
    buffer = io.BytesIO()
    book.save(buffer)
    errors = parse_workbook(buffer.getvalue()).errors
    assert [(e.code, e.cell, e.field) for e in errors] == [("example_row_changed", "A3", "date")]
    assert "示例行" in errors[0].message_zh and "example row" in errors[0].message_en


PREFILL = Prefill("H0000000042", "2025-02", (("总院", "0101"), ("总院", "0102"), ("东院", "心内科")))


def test_a_prefilled_template_lists_the_departments_from_row_4():
    book = openpyxl.load_workbook(io.BytesIO(build_template(PREFILL)))
    sheet = book[DATA_SHEET]
    assert [(r[1].value, r[2].value) for r in sheet.iter_rows(min_row=4, max_row=6)] == list(PREFILL.departments)
    assert all(r[0].value is None and r[3].value is None for r in sheet.iter_rows(min_row=4, max_row=6))
    assert any("H0000000042" in text and "2025-02" in text for text in _texts(book[INSTRUCTIONS_SHEET]))


def test_prefilled_rows_left_empty_are_skipped_and_listed():
    book = openpyxl.load_workbook(io.BytesIO(build_template(PREFILL)))
    sheet = book[DATA_SHEET]
    header = [c.value for c in sheet[1]]
    sheet["A5"] = date(2025, 3, 3)
    for index, name in enumerate(header[3:], start=4):
        sheet.cell(5, index, example_row()[name])
    buffer = io.BytesIO()
    book.save(buffer)
    parsed = parse_workbook(buffer.getvalue())
    assert parsed.ok, [e.message for e in parsed.errors]
    assert [(r["hospital"], r["dept"]) for r in parsed.submissions[0]["data"]] == [("总院", "0102")]
    assert parsed.skipped_rows == [{"sheet": DATA_SHEET, "row": 4, "hospital": "总院", "dept": "0101"},
                                   {"sheet": DATA_SHEET, "row": 6, "hospital": "东院", "dept": "心内科"}]
    assert [e.code for e in parse_workbook(build_template(PREFILL)).errors] == ["no_rows"]


def test_prefill_reads_the_newest_version_of_last_month_newest_date_first(tmp_path):
    landing = LandingZone(tmp_path)
    code = "H0000000042"

    def land(day: str, *departments: tuple[str, str]) -> None:
        rows = [{"hospital": h, "dept": d, **EXAMPLE_COUNTS} for h, d in departments]
        landing.land(institution_code=code, access_key="ak", channel="api", payload={"date": day, "data": rows})

    land("2025-01-31", ("总院", "旧科室"))  # the month before last: not read
    land("2025-02-03", ("总院", "0101"), ("总院", "已撤销"))
    land("2025-02-03", ("总院", "0101"))  # a newer version of the 3rd drops 已撤销
    land("2025-02-20", ("东院", "心内科"), ("总院", "0102"))
    land("2025-03-01", ("总院", "本月新科室"))  # this month: not read
    found = prefill.last_month(landing, code, date(2025, 3, 15))
    assert found.month == "2025-02"
    assert found.departments == (("东院", "心内科"), ("总院", "0102"), ("总院", "0101"))
    assert found.campuses == ("东院", "总院")
    assert prefill.last_month(landing, "H0000000043", date(2025, 3, 15)) is None
    assert prefill.previous_month(date(2025, 1, 10)) == (date(2024, 12, 1), date(2024, 12, 31))
