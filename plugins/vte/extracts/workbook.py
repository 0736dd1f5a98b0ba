"""The extract workbook (xlsxwriter): one sheet per table, native Excel charts, byte-reproducible.

Reproducible: the document properties carry the publication's time instead of the clock, the package is
built in memory (xlsxwriter then stamps every part with a fixed 1980 date), and nothing in the sheets
depends on when the extract ran: the same inputs give the same bytes.
"""

from __future__ import annotations

from datetime import timezone
from decimal import Decimal
from pathlib import Path

import xlsxwriter

from vte.extracts.inputs import ExtractInputs
from vte.extracts.restatement import basis_text
from vte.extracts.tables import FUNNEL_METHOD, PARTIAL_NOTE, SMALL_NOTE, Table

RATE_FORMAT = "0.00"
CHART_SIZE = {"x_scale": 2.0, "y_scale": 1.6}
KIND_NAMES = {"preliminary": "初步 preliminary", "final": "正式 final"}
PERIOD_NAMES = {"month": "月 month", "quarter": "季度 quarter", "year": "年 year"}


def _width(table: Table, index: int) -> float:
    longest = max([len(table.columns[index].header), *(len(str(row[index] or "")) for row in table.rows)])
    return min(max(10, longest * 1.2), 60)


def _write_table(sheet, table: Table, formats: dict) -> None:
    for col, column in enumerate(table.columns):
        sheet.write_string(0, col, column.header, formats["header"])
        sheet.set_column(col, col, _width(table, col), formats.get(column.kind))
    for r, row in enumerate(table.rows, start=1):
        for col, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
                sheet.write_number(r, col, float(value) if isinstance(value, Decimal) else value)
            else:
                sheet.write_string(r, col, str(value))
    sheet.freeze_panes(1, 0)
    if table.rows:
        sheet.autofilter(0, 0, len(table.rows), len(table.columns) - 1)
    elif table.note:
        sheet.write_string(1, 0, table.note)


def _rate_columns(table: Table) -> list[int]:
    """The columns a chart draws: the rates, not the marks beside them."""
    return [i for i, column in enumerate(table.columns) if column.kind == "rate"]


def _trend_chart(book: xlsxwriter.Workbook, table: Table):
    chart = book.add_chart({"type": "line"})
    last_row = len(table.rows)
    for col in _rate_columns(table):
        chart.add_series({
            "name": [table.sheet, 0, col],
            "categories": [table.sheet, 1, 0, last_row, 0],
            "values": [table.sheet, 1, col, last_row, col],
            "marker": {"type": "circle"},
        })
    chart.set_title({"name": "目标指标近12个月趋势 Target indicators, last 12 months"})
    chart.set_x_axis({"name": "月份 Month"})
    chart.set_y_axis({"name": "指标值(%) Rate (%)"})
    chart.set_legend({"position": "bottom"})
    chart.show_blanks_as("gap")
    return chart


def _county_chart(book: xlsxwriter.Workbook, table: Table):
    chart = book.add_chart({"type": "bar"})
    last_row = len(table.rows)
    for col in _rate_columns(table):
        chart.add_series({
            "name": [table.sheet, 0, col],
            "categories": [table.sheet, 1, 1, last_row, 1],
            "values": [table.sheet, 1, col, last_row, col],
        })
    chart.set_title({"name": "区县目标指标对比 Target indicators by county"})
    chart.set_x_axis({"name": "指标值(%) Rate (%)"})
    chart.set_legend({"position": "bottom"})
    return chart


# The funnel plot's series: (column, name, line style); the institutions are markers, the rest lines along n.
_FUNNEL_LINES = (
    ("regional_rate", "区域值 regional rate", {"color": "#404040", "width": 1.5}),
    ("lower_95_limit", "95%控制限 95% limits", {"color": "#E46C0A", "width": 1.25, "dash_type": "dash"}),
    ("upper_95_limit", None, {"color": "#E46C0A", "width": 1.25, "dash_type": "dash"}),
    ("lower_998_limit", "99.8%控制限 99.8% limits", {"color": "#C00000", "width": 1.25}),
    ("upper_998_limit", None, {"color": "#C00000", "width": 1.25}),
)


def _indicator_blocks(table: Table) -> list[tuple[str, str, int, int]]:
    """(indicator id, name, first row, last row) of each indicator's consecutive rows of the funnel table."""
    ids, names = table.column_index("indicator_id"), table.column_index("name_zh")
    blocks: list[tuple[str, str, int, int]] = []
    for r, row in enumerate(table.rows, start=1):
        if blocks and blocks[-1][0] == row[ids]:
            blocks[-1] = (*blocks[-1][:3], r)
        else:
            blocks.append((row[ids], row[names], r, r))
    return blocks


def _funnel_chart(book: xlsxwriter.Workbook, table: Table, indicator: str, name: str, first: int, last: int):
    """One indicator's funnel plot: each institution's rate against its denominator, the regional rate and the
    95 % and 99.8 % control limits drawn along the denominators."""
    chart = book.add_chart({"type": "scatter"})
    x = table.column_index("denominator")
    chart.add_series({
        "name": "机构 institutions",
        "categories": [table.sheet, first, x, last, x],
        "values": [table.sheet, first, table.column_index("rate"), last, table.column_index("rate")],
        "marker": {"type": "circle", "size": 6},
    })
    for key, title, line in _FUNNEL_LINES:
        col = table.column_index(key)
        series = {"categories": [table.sheet, first, x, last, x], "values": [table.sheet, first, col, last, col],
                  "line": line, "marker": {"type": "none"}}
        if title:
            series["name"] = title
        chart.add_series(series)
    chart.set_title({"name": f"{indicator} {name} 漏斗图 funnel plot"})
    chart.set_x_axis({"name": "分母 Denominator (n)"})
    chart.set_y_axis({"name": "指标值(%) Rate (%)"})
    chart.set_legend({"position": "bottom", "delete_series": [3, 5]})
    return chart


def _insert_funnel_charts(book: xlsxwriter.Workbook, sheet, table: Table) -> None:
    column = len(table.columns) + 1
    for i, (indicator, name, first, last) in enumerate(_indicator_blocks(table)):
        # Rows are sorted by denominator within an indicator, so the limit series draw the funnel's curves.
        sheet.insert_chart(xlsxwriter.utility.xl_rowcol_to_cell(1 + 26 * i, column),
                           _funnel_chart(book, table, indicator, name, first, last), CHART_SIZE)


def _revision(inputs: ExtractInputs) -> str:
    text = f"r{inputs.revision:03d}"
    if inputs.previous:
        text += (f"（上一修订 r{inputs.previous.revision:03d}，发布 {inputs.previous.publication_id}）"
                 f" (previous revision r{inputs.previous.revision:03d}, publication {inputs.previous.publication_id})")
    return text


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
        ("计入指标的提交数 Submissions counted", str(snapshot.submissions["counted_submissions"])),
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


def write_workbook(path: Path, inputs: ExtractInputs, tables: list[Table]) -> None:
    """Write the workbook: the tables in order, charts beside the trend and the county comparison."""
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
    formats = {
        "header": book.add_format({"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#DDEBF7",
                                   "border": 1}),
        "rate": book.add_format({"num_format": RATE_FORMAT}),
        "count": book.add_format({"num_format": "0"}),
    }
    for table in tables:
        sheet = book.add_worksheet(table.sheet)
        _write_table(sheet, table, formats)
        anchor = xlsxwriter.utility.xl_rowcol_to_cell(1, len(table.columns) + 1)
        if table.key == "trend":
            sheet.insert_chart(anchor, _trend_chart(book, table), CHART_SIZE)
        elif table.key == "county_comparison" and table.rows:
            sheet.insert_chart(anchor, _county_chart(book, table), CHART_SIZE)
        elif table.key == "funnel" and table.rows:
            _insert_funnel_charts(book, sheet, table)
    about = book.add_worksheet("说明 About")
    about.set_column(0, 0, 36)
    about.set_column(1, 1, 80)
    for r, (item, value) in enumerate(_about(inputs)):
        about.write_string(r, 0, item, formats["header"])
        about.write_string(r, 1, value)
    book.close()
