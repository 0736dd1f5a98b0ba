"""The Excel template hospitals fill in when their interface is down (standard §7.2.2).

One data sheet, headed by the field names of Table A.1 (row 1) and their Chinese labels (row 2), then an
example row (row 3) the parser skips while it is unchanged, with Excel's own data validation so most
mistakes are caught while typing; and an instructions sheet explaining each field, every consistency rule
and the rules of the upload. Downloaded after signing in, the data sheet is pre-filled from row 4 with the
hospital's campuses and last month's departments (``vte.excel.prefill``).
"""

from __future__ import annotations

import io
from datetime import date

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

from vte.domain import indicators, rules
from vte.excel.columns import EXAMPLE_MARKER, columns, example_row
from vte.excel.prefill import Prefill

DATA_SHEET = "上报数据"
INSTRUCTIONS_SHEET = "填写说明 Instructions"
HEADER_ROWS = 2
EXAMPLE_ROW = HEADER_ROWS  # 0-based: row 3
FIRST_DATA_ROW = EXAMPLE_ROW + 1  # 0-based: row 4
# Excel validates only the cells a rule covers: enough rows for a year of a large hospital's departments.
VALIDATED_ROWS = 50_000
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2099, 12, 31)

RULES = (
    ("每行是一个院区一个科室一天的统计数；第 1 行为字段名，第 2 行为中文名称，请勿修改；第 3 行是示例，从第 4 行起填写。",
     "Each row holds one campus, one department and one day. Row 1 holds the field names and row 2 their "
     "Chinese labels: leave both as they are. Row 3 is an example; fill in from row 4."),
    (f"示例行（上报日期列为「{EXAMPLE_MARKER}」）不必删除：只要未改动，上传时会被忽略；改动过的示例行会被拒收，请删除它或填写真实日期。",
     f"The example row (the date column reads '{EXAMPLE_MARKER}') need not be deleted: while unchanged it is "
     "ignored. A changed example row is refused: delete it or enter a real date."),
    ("登录上传页面后下载的模板已预填本院上月上报过的院区和科室：只填写了院区和科室、其余各列均为空的行在上传时被忽略，并在结果中列出。",
     "A template downloaded after signing in to the upload page is pre-filled with the campuses and departments "
     "the hospital reported last month. A row with only hospital and dept filled in is ignored on upload and "
     "listed in the result."),
    ("一个文件可以包含多个上报日期；每个日期的全部行构成该日期的一次完整上报，并替换该日期此前的上报。",
     "One workbook may hold several dates. All rows of one date form one complete submission of that date, "
     "replacing any earlier submission of that date."),
    ("上报日期填写日期格式或 yyyy-mm-dd 文本；院区、科室ID 必填；31 项统计数均必填，为不小于 0 的整数（无病例填 0）。",
     "The date is an Excel date or yyyy-mm-dd text; hospital and dept are required; all 31 counts are "
     "required whole numbers of at least 0 (enter 0 when there were no cases)."),
    ("同一日期、院区、科室只能有一行。",
     "A date, hospital and dept may appear in one row only."),
    ("各项统计数之间须满足下方的一致性规则：违反隔离规则的行会被接收但在更正前不计入指标，违反提醒规则的行计入指标并被标记；两者都会在上传结果中列出。",
     "The counts must keep the consistency rules listed below. A row that breaks a quarantine rule is accepted "
     "but held out of the indicators until corrected; one that breaks a warning rule is published with a flag. "
     "The upload's result lists both."),
    ("只要有任何一个单元格有误，整个文件的所有行都不会被接收；平台会列出每个错误的工作表、单元格和原因，改正后请重新上传整个文件。",
     "If any cell is wrong, no row of the file is accepted: the platform lists the sheet, cell and reason of "
     "every error. Correct them and upload the whole file again."),
    ("只接收 .xlsx 文件（不接收 .xls、.csv 或加密文件）。",
     "Only .xlsx files are accepted (not .xls, .csv or password-protected files)."),
)


def _write_data_sheet(book: xlsxwriter.Workbook, prefill: Prefill | None) -> None:
    sheet = book.add_worksheet(DATA_SHEET)
    name_format = book.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1, "align": "center"})
    label_format = book.add_format({"text_wrap": True, "bg_color": "#F2F2F2", "border": 1,
                                    "valign": "top", "font_size": 9})
    date_format = book.add_format({"num_format": "yyyy-mm-dd"})
    text_format = book.add_format({"num_format": "@"})  # keeps department ids such as 0101 as typed
    count_format = book.add_format({"num_format": "0"})
    example_format = book.add_format({"italic": True, "font_color": "#7F7F7F", "bg_color": "#FFF2CC"})
    last_row = FIRST_DATA_ROW + VALIDATED_ROWS - 1

    for index, column in enumerate(columns()):
        sheet.write_string(0, index, column.name, name_format)
        sheet.write_string(1, index, column.label_zh, label_format)
        if column.name == "date":
            sheet.set_column(index, index, 12, date_format)
        elif not column.is_count:
            sheet.set_column(index, index, 14, text_format)
        else:
            sheet.set_column(index, index, max(12, min(len(column.name) + 2, 24)), count_format)

    example = example_row()
    for index, column in enumerate(columns()):
        value = example[column.name]
        if column.is_count:
            sheet.write_number(EXAMPLE_ROW, index, value, example_format)
        else:
            sheet.write_string(EXAMPLE_ROW, index, value, example_format)
    sheet.write_comment(EXAMPLE_ROW, 0, "示例行：未改动时上传会忽略。\nExample row: ignored on upload while unchanged.")
    if prefill is not None:
        for offset, (hospital, dept) in enumerate(prefill.departments):
            sheet.write_string(FIRST_DATA_ROW + offset, 1, hospital)
            sheet.write_string(FIRST_DATA_ROW + offset, 2, dept)

    count_columns = [i for i, c in enumerate(columns()) if c.is_count]
    sheet.data_validation(FIRST_DATA_ROW, count_columns[0], last_row, count_columns[-1], {
        "validate": "integer", "criteria": ">=", "value": 0,
        "error_title": "统计数 Count",
        "error_message": "请填写不小于 0 的整数。\nEnter a whole number of at least 0.",
    })
    sheet.data_validation(FIRST_DATA_ROW, 0, last_row, 0, {
        "validate": "date", "criteria": "between", "minimum": EARLIEST_DATE, "maximum": LATEST_DATE,
        "error_title": "上报日期 Date",
        "error_message": "请填写日期，例如 2025-03-01。\nEnter a date, e.g. 2025-03-01.",
    })
    sheet.set_row(1, 60)
    sheet.freeze_panes(HEADER_ROWS, 3)


SEVERITY_WORDS = {
    "quarantine": "隔离：该行接收，但在提交更正之前不计入指标\nQuarantine: accepted, held out of the indicators until corrected",
    "warning": "提醒：计入指标并标记\nWarning: published with a flag",
}


def _write_instructions_sheet(book: xlsxwriter.Workbook, prefill: Prefill | None) -> None:
    sheet = book.add_worksheet(INSTRUCTIONS_SHEET)
    title = book.add_format({"bold": True, "font_size": 14})
    heading = book.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1, "text_wrap": True})
    wrapped = book.add_format({"text_wrap": True, "valign": "top", "border": 1})
    sheet.set_column(0, 0, 8)
    sheet.set_column(1, 1, 30)
    sheet.set_column(2, 2, 44)
    sheet.set_column(3, 3, 56)
    sheet.set_column(4, 5, 18)

    sheet.write_string(0, 0, "VTE 质控数据 Excel 上报模板：填写说明 / Excel reporting template: instructions", title)
    row = 2
    if prefill is not None:
        sheet.merge_range(1, 0, 1, 3, f"本模板已为机构 {prefill.institution_code} 预填 {prefill.month} 上报过的 "
                          f"{len(prefill.campuses)} 个院区、{len(prefill.departments)} 个科室（第 4 行起）。 / "
                          f"Pre-filled for institution {prefill.institution_code} with the {len(prefill.campuses)} "
                          f"campus(es) and {len(prefill.departments)} department(s) it reported in {prefill.month} "
                          "(from row 4).", wrapped)
        sheet.set_row(1, 32)
    sheet.write_string(row, 0, "规则 Rules", heading)
    for number, (rule_zh, rule_en) in enumerate(RULES, start=1):
        row += 1
        sheet.write_number(row, 0, number, wrapped)
        sheet.merge_range(row, 1, row, 3, f"{rule_zh}\n{rule_en}", wrapped)
        sheet.set_row(row, 48)

    row += 2
    for index, text in enumerate(("列 Column", "字段名 Field", "中文名称 Label", "说明 Description",
                                  "排除不评估患者 Excludes non-assessable", "数据类型 Type")):
        sheet.write_string(row, index, text, heading)
    for index, column in enumerate(columns()):
        row += 1
        excluded = ("是 yes" if column.excludes_non_assessable else "否 no") if column.is_count else ""
        kind = "整数 ≥ 0 integer" if column.is_count else ("日期 date" if column.name == "date" else "文本 text")
        values = (xl_col_to_name(index), column.name, column.label_zh, column.description_en, excluded, kind)
        for position, value in enumerate(values):
            sheet.write_string(row, position, value, wrapped)

    row += 2
    sheet.merge_range(row, 0, row, 3,
                      "排除不评估患者：年龄小于 13 周岁、日间患者（24 小时内出院）、入院诊断中包含 VTE 的患者。\n"
                      "Non-assessable patients (excluded where marked): under 13 years old, day patients "
                      "(discharged within 24 h), and patients with VTE in the admission diagnosis.", wrapped)
    sheet.set_row(row, 48)

    row += 2
    sheet.merge_range(row, 0, row, 4, "一致性规则 Consistency rules：同一行的两个统计数之间 / between two counts of one row",
                      heading)
    row += 1
    for index, text in enumerate(("编号 Rule", "规则 Rule", "Rule", "违反时 When broken", "相关指标 Indicator")):
        sheet.write_string(row, index, text, heading)
    names = {i.indicator_id: f"{i.indicator_id} {i.name_zh}\n{i.name_en}" for i in indicators()}
    for rule in rules():
        row += 1
        values = (rule.rule_id, rule.describe_zh(), rule.describe_en(), SEVERITY_WORDS[rule.severity],
                  names.get(rule.indicator_id, ""))
        for position, value in enumerate(values):
            sheet.write_string(row, position, value, wrapped)


def build_template(prefill: Prefill | None = None) -> bytes:
    """The template workbook, as the bytes of an .xlsx file; pre-filled with ``prefill``'s departments if given."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    _write_data_sheet(book, prefill)
    _write_instructions_sheet(book, prefill)
    book.close()
    return buffer.getvalue()


def filled_workbook(payloads: list[dict]) -> bytes:
    """The template filled with submissions ({"date", "data"}), as a hospital's export would be."""
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(build_template()))
    sheet = book[DATA_SHEET]
    header = [cell.value for cell in sheet[1]]
    for payload in payloads:
        for row in payload["data"]:
            sheet.append([date.fromisoformat(payload["date"]), *(row[name] for name in header[1:])])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
