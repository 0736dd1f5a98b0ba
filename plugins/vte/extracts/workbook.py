"""The extract workbook (xlsxwriter): a cover, one sheet per table laid out as a report, native charts,
byte-reproducible.

Every sheet has a title row (the region and period, and 初步 PRELIMINARY on a preliminary extract), a units row
and a source row above the table's header; columns are as wide as their text (a Chinese character counts two,
``vte.extracts.layout``), counts carry thousands separators and rates two decimals, and whether a value met its
target is coloured by a conditional format. Every sheet prints on A4, one page wide (landscape when wide), with
the header row repeated, the region, the period and the page number in the footer.

The writer only lays out what the inputs hold: a chart's target line and sorted bars are copies of published
values on a hidden sheet, never values computed here.

Reproducible: the document properties carry the publication's time instead of the clock, the package is
built in memory (xlsxwriter then stamps every part with a fixed 1980 date), and nothing in the sheets
depends on when the extract ran: the same inputs give the same bytes.
"""

from __future__ import annotations

import math
from datetime import timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell

from vte.extracts import charts
from vte.extracts.inputs import ExtractInputs
from vte.extracts.layout import LINE_HEIGHT, column_width, display_width, longest_word, wrapped_lines
from vte.extracts.restatement import basis_text
from vte.extracts.tables import FUNNEL_METHOD, MET, NOT_MET, PARTIAL_NOTE, SMALL_NOTE, Table

HEADER_ROW = 3  # under the title, units and source rows
RATE_FORMAT = "0.00"
COUNT_FORMAT = "#,##0"
MAX_TEXT_WIDTH = 44  # display width beyond which a text column wraps
MAX_HEADER_LINES = 3
LANDSCAPE_FROM = 100  # total column width (Excel units) above which a sheet prints landscape
LOCAL_TZ = ZoneInfo("Asia/Shanghai")
KIND_NAMES = {"preliminary": "初步 preliminary", "final": "正式 final"}
PRELIMINARY_MARK = "初步 PRELIMINARY"
PERIOD_NAMES = {"month": "月 month", "quarter": "季度 quarter", "year": "年 year"}
COVER_SHEET = "封面 Cover"
ABOUT_SHEET = "说明 About"


def _text(value, kind: str) -> str:
    """The cell as it is displayed: counts with thousands separators, rates with two decimals."""
    if value is None:
        return ""
    if kind == "count" and isinstance(value, (int, Decimal)):
        return f"{value:,}"
    if kind == "rate" and isinstance(value, (int, Decimal)):
        return f"{value:,.2f}"
    return str(value)


def _column_widths(table: Table) -> list[float]:
    widths = []
    for index, column in enumerate(table.columns):
        data = max((display_width(_text(row[index], column.kind)) for row in table.rows), default=0)
        header = max(display_width(column.zh), longest_word(column.en),
                     math.ceil(display_width(column.header) / MAX_HEADER_LINES))
        widths.append(column_width(max(min(data, MAX_TEXT_WIDTH), header, 6)))
    return widths


def _merged_text(sheet, row: int, last_column: int, text: str, cell_format, width: float,
                 line_height: float = LINE_HEIGHT) -> None:
    """A line of text across the table's columns, as high as its wrapped lines need."""
    if last_column > 0:
        sheet.merge_range(row, 0, row, last_column, text, cell_format)
    else:
        sheet.write_string(row, 0, text, cell_format)
    sheet.set_row(row, wrapped_lines(text, width) * line_height + 3)


class Formats:
    def __init__(self, book: xlsxwriter.Workbook, preliminary: bool):
        border = {"border": 1, "border_color": "#BFBFBF", "valign": "top"}
        self.title = book.add_format({"bold": True, "font_size": 14, "text_wrap": True, "valign": "top",
                                      **({"font_color": "#C00000"} if preliminary else {})})
        self.note = book.add_format({"font_color": "#595959", "text_wrap": True, "valign": "top"})
        self.header = book.add_format({"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#DDEBF7",
                                       "border": 1})
        self.text = book.add_format(border)
        self.wrap = book.add_format({**border, "text_wrap": True})
        self.count = book.add_format({**border, "num_format": COUNT_FORMAT})
        self.rate = book.add_format({**border, "num_format": RATE_FORMAT})
        self.met = book.add_format({"bg_color": "#C6EFCE", "font_color": "#006100"})
        self.not_met = book.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006", "bold": True})
        self.banner = book.add_format({"bold": True, "font_size": 14, "font_color": "#FFFFFF", "bg_color": "#C00000",
                                       "align": "center", "valign": "vcenter"})
        self.label = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "valign": "top",
                                      "text_wrap": True})
        self.value = book.add_format({"border": 1, "valign": "top", "text_wrap": True})


class Report:
    """What every sheet shows around its table: the region, the period, the kind, the publication."""

    def __init__(self, inputs: ExtractInputs, formats: Formats):
        snapshot = inputs.snapshot
        self.inputs = inputs
        self.formats = formats
        self.preliminary = inputs.kind == "preliminary"
        self.place = f"{snapshot.region.name} {snapshot.region.code} · {snapshot.period.label}"
        self.publication = (f"发布 publication {snapshot.publication.publication_id}, "
                            f"{_published_at(snapshot.publication.published_at)}")

    def title(self, sheet_title: str) -> str:
        mark = f" 【{PRELIMINARY_MARK}】" if self.preliminary else ""
        return f"{sheet_title} — {self.place}{mark}"

    def print_setup(self, sheet, total_width: float, repeat_row: int | None) -> None:
        sheet.set_paper(9)  # A4
        if total_width > LANDSCAPE_FROM:
            sheet.set_landscape()
        else:
            sheet.set_portrait()
        sheet.fit_to_pages(1, 0)
        sheet.set_margins(left=0.4, right=0.4, top=0.7, bottom=0.7)
        if repeat_row is not None:
            sheet.repeat_rows(repeat_row)
        if self.preliminary:
            sheet.set_header(f'&C&"-,Bold"&14&KC00000{PRELIMINARY_MARK} — 数据未最终确认 figures not final')
        sheet.set_footer(f"&L{self.place.replace('&', '&&')}&C第 &P 页，共 &N 页 Page &P of &N&R&A")


def _published_at(value) -> str:
    return f"{value.astimezone(LOCAL_TZ):%Y-%m-%d %H:%M} (UTC+8)"


def _write_cell(sheet, row: int, col: int, value, kind: str, formats: Formats, wraps: bool) -> None:
    if value is None:
        sheet.write_blank(row, col, None, formats.wrap if wraps else formats.text)
    elif isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        sheet.write_number(row, col, float(value) if isinstance(value, Decimal) else value,
                           formats.rate if kind == "rate" else formats.count)
    else:
        sheet.write_string(row, col, str(value), formats.wrap if wraps else formats.text)


def _conditional_formats(sheet, table: Table, formats: Formats) -> None:
    """Whether each value met its target: the 是否达标 column coloured, and the rate red where it did not."""
    keys = [c.key for c in table.columns]
    if "met" not in keys or not table.rows:
        return
    first, last = HEADER_ROW + 1, HEADER_ROW + len(table.rows)
    met = keys.index("met")
    sheet.conditional_format(first, met, last, met, {"type": "cell", "criteria": "==", "value": f'"{MET}"',
                                                     "format": formats.met})
    sheet.conditional_format(first, met, last, met, {"type": "cell", "criteria": "==", "value": f'"{NOT_MET}"',
                                                     "format": formats.not_met})
    if "rate" in keys:
        rate = keys.index("rate")
        flag = xl_rowcol_to_cell(first, met, col_abs=True)
        sheet.conditional_format(first, rate, last, rate, {"type": "formula", "criteria": f'={flag}="{NOT_MET}"',
                                                           "format": formats.not_met})


def write_table(sheet, table: Table, report: Report) -> tuple[list[float], int]:
    """Title, units, source, header and rows; returns the column widths and the first row after the table."""
    formats = report.formats
    widths = _column_widths(table)
    last_column = len(table.columns) - 1
    total = sum(widths)
    for col, width in enumerate(widths):
        sheet.set_column(col, col, width)
    _merged_text(sheet, 0, last_column, report.title(table.sheet), formats.title, total, 20)
    _merged_text(sheet, 1, last_column, table.unit or "", formats.note, total)
    _merged_text(sheet, 2, last_column, f"来源 Source: {table.source or 'marts'}; {report.publication}",
                 formats.note, total)
    for col, column in enumerate(table.columns):
        sheet.write_string(HEADER_ROW, col, column.header, formats.header)
    sheet.set_row(HEADER_ROW, max(wrapped_lines(c.header, w) for c, w in zip(table.columns, widths))
                  * LINE_HEIGHT + 3)
    for r, row in enumerate(table.rows, start=HEADER_ROW + 1):
        lines = 1
        for col, (value, column) in enumerate(zip(row, table.columns)):
            text = _text(value, column.kind)
            wraps = column.kind == "text" and display_width(text) > MAX_TEXT_WIDTH
            if wraps:
                lines = max(lines, wrapped_lines(text, widths[col]))
            _write_cell(sheet, r, col, value, column.kind, formats, wraps)
        if lines > 1:
            sheet.set_row(r, lines * LINE_HEIGHT + 3)
    sheet.freeze_panes(HEADER_ROW + 1, 0)
    if table.rows:
        sheet.autofilter(HEADER_ROW, 0, HEADER_ROW + len(table.rows), last_column)
    elif table.note:
        _merged_text(sheet, HEADER_ROW + 1, last_column, table.note, formats.note, total)
    _conditional_formats(sheet, table, formats)
    return widths, HEADER_ROW + 1 + max(len(table.rows), 1) + 1


class ChartPlacer:
    """Charts stacked under the table, two to a printed page."""

    def __init__(self, sheet, first_row: int):
        self.sheet, self.row, self.count = sheet, first_row, 0

    def insert(self, chart) -> None:
        if self.count % 2 == 0:
            self.breaks.append(self.row)
        self.sheet.insert_chart(self.row, 0, chart, charts.CHART_SIZE)
        self.row += charts.CHART_ROWS
        self.count += 1

    def __enter__(self):
        self.breaks: list[int] = []
        return self

    def __exit__(self, *exc) -> None:
        if self.breaks:
            self.sheet.set_h_pagebreaks(self.breaks)


def _indicator_blocks(table: Table) -> list[tuple[str, str, int, int]]:
    """(indicator id, name, first row, last row) of each indicator's consecutive rows of the funnel table."""
    ids, names = table.column_index("indicator_id"), table.column_index("name_zh")
    blocks: list[tuple[str, str, int, int]] = []
    for r, row in enumerate(table.rows, start=HEADER_ROW + 1):
        if blocks and blocks[-1][0] == row[ids]:
            blocks[-1] = (*blocks[-1][:3], r)
        else:
            blocks.append((row[ids], row[names], r, r))
    return blocks


def _charts(book, sheet, table: Table, inputs: ExtractInputs, data: charts.ChartData, first_row: int) -> None:
    snapshot = inputs.snapshot
    targets = snapshot.target_indicators
    with ChartPlacer(sheet, first_row) as place:
        if table.key == "trend" and table.rows:
            for indicator in targets:
                place.insert(charts.trend_chart(book, data, table.sheet, HEADER_ROW, len(table.rows),
                                                table.column_index(indicator["indicator_id"]), indicator))
        elif table.key == "county_comparison" and table.rows:
            for indicator in targets:
                column = table.column_index(indicator["indicator_id"])
                values = [(row[1], row[column]) for row in table.rows]
                place.insert(charts.sorted_comparison_chart(book, data, ("区县对比 ", "Counties"), indicator, values))
        elif table.key == "cities" and len({r["city_code"] for r in snapshot.cities}) > 1:
            for indicator in targets:
                values = [(r["city_name"], r["rate"]) for r in snapshot.cities
                          if r["indicator_id"] == indicator["indicator_id"]]
                place.insert(charts.sorted_comparison_chart(book, data, ("地市对比 ", "Cities"), indicator, values))
        elif table.key == "comparison" and table.rows:
            keys = [c.key for c in table.columns]
            first, last = keys.index("rate_same_period_last_year"), keys.index("rate")
            for indicator in targets:
                row = HEADER_ROW + 1 + [r[0] for r in table.rows].index(indicator["indicator_id"])
                place.insert(charts.period_comparison_chart(book, data, table.sheet, row, first, last, HEADER_ROW,
                                                            indicator))
        elif table.key == "funnel" and table.rows:
            columns = {c.key: i for i, c in enumerate(table.columns)}
            # Rows are sorted by denominator within an indicator, so the limit series draw the funnel's curves.
            for indicator, name, first, last in _indicator_blocks(table):
                place.insert(charts.funnel_chart(book, table.sheet, columns, indicator, name, first, last))


def _revision(inputs: ExtractInputs) -> str:
    text = f"r{inputs.revision:03d}"
    if inputs.previous:
        text += (f"（上一修订 r{inputs.previous.revision:03d}，发布 {inputs.previous.publication_id}）"
                 f" (previous revision r{inputs.previous.revision:03d}, publication {inputs.previous.publication_id})")
    return text


def _completeness_line(inputs: ExtractInputs) -> str:
    """The region's reporting completeness in one line, as fct_reporting_completeness published it."""
    region = inputs.snapshot.region
    row = next((r for r in inputs.snapshot.completeness
                if r["level"] == region.level and r["entity_code"] == region.code), None)
    if row is None:
        return "-"
    rate = "-" if row["completeness_rate"] is None else f"{row['completeness_rate']:.2f}%"
    timely = "-" if row["timeliness_rate"] is None else f"{row['timeliness_rate']:.2f}%"
    return (f"应报 {row['days_expected']:,} 机构日，已报 {row['days_received']:,}（完整率 {rate}），"
            f"迟报 {row['days_late']:,}，缺报 {row['days_missing']:,}，及时率 {timely} / "
            f"{row['days_received']:,} of {row['days_expected']:,} institution-days reported ({rate}), "
            f"{row['days_late']:,} late, {row['days_missing']:,} missing, timeliness {timely}")


def _about(inputs: ExtractInputs) -> list[tuple[str, str]]:
    snapshot = inputs.snapshot
    publication, region, period = snapshot.publication, snapshot.region, snapshot.period
    newest = snapshot.submissions["newest_received_at"]
    restated = [("修订说明 Restatement", basis_text(inputs.restatement, publication.publication_id))] \
        if inputs.restatement else []
    return [
        ("期间 Period", f"{period.label} ({PERIOD_NAMES[period.period_type]}, {period.start} – {period.end})"),
        ("区域 Region", f"{region.code} {region.name}"),
        ("类型 Kind", KIND_NAMES[inputs.kind]),
        ("修订 Revision", _revision(inputs)),
        *restated,
        ("数据发布 Publication", f"{publication.publication_id} ({publication.run_id})"),
        ("发布时间 Published at", publication.published_at.astimezone(timezone.utc).isoformat()),
        ("计入指标的提交数 Submissions counted", f"{snapshot.submissions['counted_submissions']:,}"),
        ("最新接收时间 Newest submission received", newest.astimezone(timezone.utc).isoformat() if newest else "-"),
        ("说明 Note", "指标值 = Σ分子 / Σ分母 × 100；隔离行不计入 rate = Σ numerator / Σ denominator × 100; "
                    "quarantined rows are held out"),
        ("部分期间 Partial period", ("是 yes" if any(r.get("is_partial_period") for r in snapshot.overview)
                                     else "否 no") + "；" + PARTIAL_NOTE),
        ("分母过小标记 Small-denominator mark", SMALL_NOTE),
        ("漏斗图与排名 Funnel plot and ranking",
         FUNNEL_METHOD + "；排名先按漏斗图位置（优于区域在前），再按指标值 / ranked by the funnel position "
                         "(better than the region first), then by rate"),
    ]


def _cover_items(inputs: ExtractInputs) -> list[tuple[str, str]]:
    snapshot = inputs.snapshot
    region, period, publication = snapshot.region, snapshot.period, snapshot.publication
    return [
        ("区域 Region", f"{region.name}（{region.code}）"),
        ("期间 Period", f"{period.label}（{PERIOD_NAMES[period.period_type]}，{period.start} – {period.end}）"),
        ("类型 Kind", KIND_NAMES[inputs.kind] + ("：数据未最终确认，正式版于期间结束后第10日发布 figures not final; the "
                                                "final extract follows on the 10th after the period"
                                                if inputs.kind == "preliminary" else "")),
        ("修订 Revision", _revision(inputs)),
        ("数据发布 Publication", f"{publication.publication_id}（{publication.run_id}）"),
        ("发布时间 Published at", _published_at(publication.published_at)),
        ("数据完整性 Completeness", _completeness_line(inputs)),
    ]


def _write_label_sheet(sheet, report: Report, title: str, items: list[tuple[str, str]], first_row: int,
                       widths: tuple[float, float]) -> int:
    formats = report.formats
    sheet.set_column(0, 0, widths[0])
    sheet.set_column(1, 1, widths[1])
    for r, (item, value) in enumerate(items, start=first_row):
        sheet.write_string(r, 0, item, formats.label)
        sheet.write_string(r, 1, value, formats.value)
        sheet.set_row(r, max(wrapped_lines(item, widths[0]), wrapped_lines(value, widths[1])) * LINE_HEIGHT + 3)
    return first_row + len(items)


def _cover(book, report: Report, tables: list[Table]) -> None:
    inputs, formats = report.inputs, report.formats
    snapshot = inputs.snapshot
    sheet = book.add_worksheet(COVER_SHEET)
    widths = (24.0, 72.0)
    title = (f"{snapshot.region.name} VTE防治质控指标报告 {snapshot.period.label}\n"
             f"VTE prevention quality indicators, {snapshot.region.name} ({snapshot.region.code}), "
             f"{snapshot.period.label}")
    sheet.merge_range(0, 0, 0, 1, title, formats.title)
    sheet.set_row(0, wrapped_lines(title, sum(widths)) * 20 + 4)
    row = 1
    if report.preliminary:
        sheet.merge_range(1, 0, 1, 1, f"{PRELIMINARY_MARK} — 数据未最终确认 figures not final", formats.banner)
        sheet.set_row(1, 26)
        row = 2
    row = _write_label_sheet(sheet, report, title, _cover_items(inputs), row + 1, widths)
    contents = [(t.sheet, t.source or "") for t in tables] + [(ABOUT_SHEET, "来源与方法 Sources and methods")]
    sheet.merge_range(row + 1, 0, row + 1, 1, "目录 Contents", formats.header)
    _write_label_sheet(sheet, report, title, contents, row + 2, widths)
    report.print_setup(sheet, sum(widths), None)


def write_workbook(path: Path, inputs: ExtractInputs, tables: list[Table]) -> None:
    """Write the workbook: the cover, the tables in order with their charts, the About sheet."""
    snapshot = inputs.snapshot
    book = xlsxwriter.Workbook(str(path), {"in_memory": True, "strings_to_numbers": False,
                                           "strings_to_formulas": False, "strings_to_urls": False})
    published = snapshot.publication.published_at.astimezone(timezone.utc).replace(tzinfo=None)
    book.set_properties({
        "title": f"VTE质控指标 {snapshot.period.label} {snapshot.region.name}",
        "subject": f"VTE quality indicators, {snapshot.period.label}, {snapshot.region.code}",
        "author": "VTE regional data warehouse",
        "created": published,
    })
    book.set_custom_property("publication_id", str(snapshot.publication.publication_id))
    book.set_custom_property("revision", str(inputs.revision))
    book.set_custom_property("kind", inputs.kind)
    report = Report(inputs, Formats(book, inputs.kind == "preliminary"))
    _cover(book, report, tables)
    sheets = [(book.add_worksheet(table.sheet), table) for table in tables]
    about = book.add_worksheet(ABOUT_SHEET)
    data = charts.ChartData(book.add_worksheet(charts.CHART_DATA_SHEET))
    data.sheet.hide()
    for sheet, table in sheets:
        widths, after = write_table(sheet, table, report)
        _charts(book, sheet, table, inputs, data, after)
        report.print_setup(sheet, sum(widths), HEADER_ROW)
    about_widths = (36.0, 90.0)
    about.merge_range(0, 0, 0, 1, report.title(ABOUT_SHEET), report.formats.title)
    about.set_row(0, wrapped_lines(report.title(ABOUT_SHEET), sum(about_widths)) * 20 + 3)
    _write_label_sheet(about, report, ABOUT_SHEET, _about(inputs), 1, about_widths)
    report.print_setup(about, sum(about_widths), None)
    book.close()
