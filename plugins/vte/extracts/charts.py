"""The workbook's native charts: the trend with its target, regions compared on one indicator each (sorted,
with the target), the period against the previous one and the same period last year, and the funnel plots.

A target line needs its value once per category, and a sorted comparison needs the rows in that order: both
are laid out on a hidden sheet (``ChartData``) that holds copies of published values, never new ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import xlsxwriter

CHART_DATA_SHEET = "图表数据 Chart data"
CHART_SIZE = {"x_scale": 1.4, "y_scale": 0.9}  # 672 × 259 pixels
CHART_ROWS = 14  # rows of the default height (20 pixels) one chart and the gap after it take
RATE_AXIS = {"name": "指标值(%) Rate (%)", "min": 0, "max": 100, "num_format": "0"}
TARGET_LINE = {"color": "#C00000", "width": 1.5, "dash_type": "dash"}


@dataclass
class ChartData:
    """The hidden sheet the charts' helper ranges live on, one block of columns after another."""

    sheet: object
    next_column: int = 0

    def block(self, header: tuple[str, ...], rows: list[tuple]) -> tuple[int, int, int]:
        """Write a block; returns (first column, first data row, last data row)."""
        first = self.next_column
        for offset, text in enumerate(header):
            self.sheet.write_string(0, first + offset, text)
        for r, row in enumerate(rows, start=1):
            for offset, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, str):
                    self.sheet.write_string(r, first + offset, value)
                else:
                    self.sheet.write_number(r, first + offset, float(value))
        self.next_column += len(header) + 1
        return first, 1, max(len(rows), 1)


def _target_series(name: str, categories: list, values: list) -> dict:
    return {"name": name, "categories": categories, "values": values, "line": TARGET_LINE,
            "marker": {"type": "none"}}


def trend_chart(book: xlsxwriter.Workbook, data: ChartData, sheet: str, header_row: int, rows: int, column: int,
                indicator: dict):
    """One target indicator's rate month by month with its target as a dashed line."""
    chart = book.add_chart({"type": "line"})
    first, last = header_row + 1, header_row + rows
    categories = [sheet, first, 0, last, 0]
    chart.add_series({"name": f"{indicator['indicator_id']} {indicator['name_zh']}", "categories": categories,
                      "values": [sheet, first, column, last, column], "marker": {"type": "circle"},
                      "data_labels": {"value": True, "num_format": "0.0", "position": "above",
                                      "font": {"size": 8}}})
    if indicator["target"] is not None:
        col, top, bottom = data.block((f"{indicator['indicator_id']} 目标值 target",),
                                      [(indicator["target"],)] * rows)
        chart.add_series(_target_series(f"目标值 target {indicator['target']:g}%", categories,
                                        [CHART_DATA_SHEET, top, col, bottom, col]))
    chart.set_title({"name": f"{indicator['indicator_id']} {indicator['name_zh']} 近{rows}个月趋势 "
                             f"{indicator['name_en']}, last {rows} months", "name_font": {"size": 11}})
    chart.set_x_axis({"name": "月份 Month", "num_font": {"rotation": -45, "size": 8}})
    chart.set_y_axis(RATE_AXIS)
    chart.set_legend({"position": "bottom"})
    chart.show_blanks_as("gap")
    return chart


def sorted_comparison_chart(book: xlsxwriter.Workbook, data: ChartData, what: tuple[str, str], indicator: dict,
                            values: list[tuple[str, object]]):
    """Regions (or institutions) on one indicator, best first, with the target line. ``values`` are
    (name, rate) pairs as published; the ones without a rate are left out of the chart."""
    with_rate = [v for v in values if v[1] is not None]
    best_first = sorted(with_rate, key=lambda v: v[1], reverse=indicator.get("higher_is_better") is not False)
    target = indicator["target"]
    col, top, bottom = data.block((f"{indicator['indicator_id']} {what[1]}", "rate", "target"),
                                  [(name, rate, target) for name, rate in best_first])
    categories = [CHART_DATA_SHEET, top, col, bottom, col]
    chart = book.add_chart({"type": "column"})
    chart.add_series({"name": f"{indicator['indicator_id']} {indicator['name_zh']}", "categories": categories,
                      "values": [CHART_DATA_SHEET, top, col + 1, bottom, col + 1], "fill": {"color": "#4F81BD"},
                      "gap": 60, "data_labels": {"value": True, "num_format": "0.0", "font": {"size": 7}}})
    if target is not None:
        line = book.add_chart({"type": "line"})
        line.add_series(_target_series(f"目标值 target {target:g}%", categories,
                                       [CHART_DATA_SHEET, top, col + 2, bottom, col + 2]))
        chart.combine(line)
    chart.set_title({"name": f"{what[0]}{indicator['indicator_id']} {indicator['name_zh']}（由高到低）"
                             f" {what[1]}: {indicator['name_en']}, best first", "name_font": {"size": 11}})
    chart.set_x_axis({"num_font": {"rotation": -45, "size": 8}, "interval_unit": 1})
    chart.set_y_axis(RATE_AXIS)
    chart.set_legend({"position": "bottom"})
    return chart


def period_comparison_chart(book: xlsxwriter.Workbook, data: ChartData, sheet: str, row: int, first_column: int,
                            last_column: int, header_row: int, indicator: dict):
    """One indicator this period beside the previous period and the same period last year (the columns
    ``first_column``..``last_column`` of its row), with the target line."""
    chart = book.add_chart({"type": "column"})
    categories = [sheet, header_row, first_column, header_row, last_column]
    chart.add_series({"name": f"{indicator['indicator_id']} {indicator['name_zh']}", "categories": categories,
                      "values": [sheet, row, first_column, row, last_column], "gap": 80,
                      "points": [{"fill": {"color": "#A6A6A6"}}] * (last_column - first_column)
                      + [{"fill": {"color": "#4F81BD"}}],
                      "data_labels": {"value": True, "num_format": "0.00", "font": {"size": 8}}})
    if indicator["target"] is not None:
        count = last_column - first_column + 1
        col, top, bottom = data.block((f"{indicator['indicator_id']} 目标值 target",), [(indicator["target"],)] * count)
        line = book.add_chart({"type": "line"})
        line.add_series(_target_series(f"目标值 target {indicator['target']:g}%", categories,
                                       [CHART_DATA_SHEET, top, col, bottom, col]))
        chart.combine(line)
    chart.set_title({"name": f"{indicator['indicator_id']} {indicator['name_zh']} 同比环比 "
                             f"{indicator['name_en']}: this period against earlier ones", "name_font": {"size": 11}})
    chart.set_x_axis({"num_font": {"size": 8}})
    chart.set_y_axis(RATE_AXIS)
    chart.set_legend({"position": "bottom", "delete_series": [0]})
    return chart


# The funnel plot's series: (column, name, line style); the institutions are markers, the rest lines along n.
_FUNNEL_LINES = (
    ("regional_rate", "区域值 regional rate", {"color": "#404040", "width": 1.5}),
    ("lower_95_limit", "95%控制限 95% limits", {"color": "#E46C0A", "width": 1.25, "dash_type": "dash"}),
    ("upper_95_limit", None, {"color": "#E46C0A", "width": 1.25, "dash_type": "dash"}),
    ("lower_998_limit", "99.8%控制限 99.8% limits", {"color": "#C00000", "width": 1.25}),
    ("upper_998_limit", None, {"color": "#C00000", "width": 1.25}),
)


def funnel_chart(book: xlsxwriter.Workbook, sheet: str, columns: dict[str, int], indicator: str, name: str,
                 first: int, last: int):
    """One indicator's funnel plot: each institution's rate against its denominator, the regional rate and the
    95 % and 99.8 % control limits drawn along the denominators."""
    chart = book.add_chart({"type": "scatter"})
    x = columns["denominator"]
    chart.add_series({
        "name": "机构 institutions",
        "categories": [sheet, first, x, last, x],
        "values": [sheet, first, columns["rate"], last, columns["rate"]],
        "marker": {"type": "circle", "size": 6},
    })
    for key, title, line in _FUNNEL_LINES:
        col = columns[key]
        series = {"categories": [sheet, first, x, last, x], "values": [sheet, first, col, last, col],
                  "line": line, "marker": {"type": "none"}}
        if title:
            series["name"] = title
        chart.add_series(series)
    chart.set_title({"name": f"{indicator} {name} 漏斗图 funnel plot", "name_font": {"size": 11}})
    chart.set_x_axis({"name": "分母 Denominator (n)"})
    chart.set_y_axis({"name": "指标值(%) Rate (%)"})
    chart.set_legend({"position": "bottom", "delete_series": [3, 5]})
    return chart
