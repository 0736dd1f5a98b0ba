"""Charts drawn on the server as inline SVG: nothing to download, no script, nothing for the CSP to allow.

Colours and fonts come from the console's stylesheet through class names (an inline style would be refused
by the Content-Security-Policy). Every text is escaped; each chart has a title for screen readers, and the
pages put the numbers in a table beside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from markupsafe import Markup, escape

WIDTH = 760
PLOT_LEFT, PLOT_RIGHT, PLOT_TOP = 48, 12, 14


@dataclass(frozen=True)
class DailyBar:
    day: date
    expected: int
    on_time: int
    late: int


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None  # in percent
    note: str = ""  # shown after the value, e.g. "12/31"
    css: str = "bar"


@dataclass(frozen=True)
class Point:
    label: str
    value: float | None


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _svg(chart_id: str, title: str, height: int, body: list[str]) -> Markup:
    return Markup(f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {WIDTH} {height}" role="img"'
                  f' aria-labelledby="{escape(chart_id)}-title" preserveAspectRatio="xMinYMin meet">'
                  f'<title id="{escape(chart_id)}-title">{escape(title)}</title>{"".join(body)}</svg>')


def _axis_max(value: float, ticks: int = 4, *, whole: bool = False) -> float:
    """The top of an axis with ``ticks`` round steps (1, 2, 2.5 or 5 × 10^n each) reaching ``value``;
    ``whole`` steps for counts."""
    if value <= 0:
        return ticks
    wanted = value / ticks
    power = 10 ** math.floor(math.log10(wanted))
    step = next(f * power for f in (1, 2, 2.5, 5, 10) if f * power >= wanted * (1 - 1e-9))
    return max(math.ceil(step), 1) * ticks if whole else step * ticks


def _y_axis(top: float, bottom: float, maximum: float, unit: str = "") -> list[str]:
    out = []
    for index in range(5):
        value = maximum * index / 4
        y = bottom - (bottom - top) * index / 4
        out.append(f'<line class="grid" x1="{PLOT_LEFT}" x2="{WIDTH - PLOT_RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(f'<text class="axis" x="{PLOT_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
                   f'{_number(value)}{unit}</text>')
    return out


def daily_collection(chart_id: str, title: str, bars: Sequence[DailyBar]) -> Markup:
    """Institutions received (on time and late, stacked) against expected, one column a day."""
    height, bottom = 230, 190
    maximum = _axis_max(max((b.expected for b in bars), default=0), whole=True)
    plot_width = WIDTH - PLOT_LEFT - PLOT_RIGHT
    slot = plot_width / max(len(bars), 1)
    scale = (bottom - PLOT_TOP) / maximum
    body = _y_axis(PLOT_TOP, bottom, maximum)
    expected_points = []
    for index, bar in enumerate(bars):
        x = PLOT_LEFT + index * slot
        on_time_h, late_h = bar.on_time * scale, bar.late * scale
        label = f"{bar.day:%Y-%m-%d}: {bar.on_time + bar.late}/{bar.expected}"
        body.append(f'<g><title>{escape(label)}</title>'
                    f'<rect class="bar-on-time" x="{x + slot * 0.1:.1f}" y="{bottom - on_time_h:.1f}"'
                    f' width="{slot * 0.8:.1f}" height="{on_time_h:.1f}"/>'
                    f'<rect class="bar-late" x="{x + slot * 0.1:.1f}" y="{bottom - on_time_h - late_h:.1f}"'
                    f' width="{slot * 0.8:.1f}" height="{late_h:.1f}"/></g>')
        expected_points.append(f"{x:.1f},{bottom - bar.expected * scale:.1f} {x + slot:.1f},"
                               f"{bottom - bar.expected * scale:.1f}")
        if bar.day.day == 1 or index == 0:
            body.append(f'<text class="axis" x="{x:.1f}" y="{bottom + 16}">{bar.day:%m-%d}</text>')
    if expected_points:
        body.append(f'<polyline class="line-expected" points="{" ".join(expected_points)}"/>')
    body.append(_legend(bottom + 36, [("bar-on-time", "按时 on time"), ("bar-late", "迟报 late"),
                                      ("line-expected", "应报 expected")]))
    return _svg(chart_id, title, height, body)


def _legend(y: float, entries: list[tuple[str, str]]) -> str:
    out, x = [], PLOT_LEFT
    for css, text in entries:
        out.append(f'<rect class="{css} legend-key" x="{x}" y="{y - 9}" width="12" height="10"/>'
                   f'<text class="legend" x="{x + 16}" y="{y}">{escape(text)}</text>')
        x += 24 + 9 * len(text)
    return "".join(out)


def horizontal_bars(chart_id: str, title: str, bars: Sequence[Bar], *, target: float | None = None) -> Markup:
    """One bar per item, the value written beside it, on a percent scale from 0 to a round bound at or under
    100 % (small rates stay readable); a target line when given."""
    label_width, row = 190, 24
    top = 24 if target is not None else 8  # room for the target's label above the bars
    height = top + row * max(len(bars), 1) + 26
    left, right = label_width, WIDTH - 110
    values = [b.value for b in bars if b.value is not None]
    maximum = min(100.0, _axis_max(max([*values, target or 0, 0.1]) * 1.05, ticks=2))
    scale = (right - left) / maximum
    body = []
    for index, bar in enumerate(bars):
        y = top + index * row
        body.append(f'<text class="label" x="{left - 8}" y="{y + 15}" text-anchor="end">'
                    f'{escape(_clip(bar.label, 18))}</text>')
        if bar.value is None:
            body.append(f'<text class="value" x="{left + 4}" y="{y + 15}">— {escape(bar.note)}</text>')
            continue
        width = scale * min(max(bar.value, 0), maximum)
        body.append(f'<rect class="{escape(bar.css)}" x="{left}" y="{y + 3}" width="{width:.1f}" height="{row - 8}">'
                    f'<title>{escape(bar.label)}: {_number(bar.value)}%</title></rect>')
        body.append(f'<text class="value" x="{left + width + 4:.1f}" y="{y + 15}">{_number(bar.value)}%'
                    f' {escape(bar.note)}</text>')
    axis_y = top + row * max(len(bars), 1)
    for fraction in (0, 0.5, 1):
        x = left + (right - left) * fraction
        body.append(f'<text class="axis" x="{x:.1f}" y="{axis_y + 16}" text-anchor="middle">'
                    f'{_number(maximum * fraction)}%</text>')
    if target is not None:
        x = left + scale * min(target, maximum)
        body.append(f'<line class="target-line" x1="{x:.1f}" x2="{x:.1f}" y1="{top - 4}" y2="{axis_y}"/>'
                    f'<text class="target-label" x="{x:.1f}" y="{top - 8}" text-anchor="middle">'
                    f'目标 target {_number(target)}%</text>')
    return _svg(chart_id, title, height, body)


def line_chart(chart_id: str, title: str, points: Sequence[Point], *, target: float | None = None,
               comparison: Sequence[Point] = ()) -> Markup:
    """Rates over time in percent, a dashed target line, and optionally a second (fainter) series."""
    height, bottom, right_margin = 240, 190, 30  # room for the last month's label
    values = [p.value for p in (*points, *comparison) if p.value is not None]
    maximum = min(100.0, _axis_max(max([*values, target or 0, 0.1]) * 1.05))
    plot_width = WIDTH - PLOT_LEFT - right_margin
    step = plot_width / max(len(points) - 1, 1)
    scale = (bottom - PLOT_TOP) / maximum
    body = _y_axis(PLOT_TOP, bottom, maximum, "%")

    def series(css: str, items: Sequence[Point], dots: bool) -> None:
        segment: list[str] = []
        for index, point in enumerate(items):
            x = PLOT_LEFT + index * step
            if point.value is None:
                if len(segment) > 1:
                    body.append(f'<polyline class="{css}" points="{" ".join(segment)}"/>')
                segment = []
                continue
            y = bottom - min(point.value, maximum) * scale
            segment.append(f"{x:.1f},{y:.1f}")
            if dots:
                body.append(f'<circle class="{css}-dot" cx="{x:.1f}" cy="{y:.1f}" r="3">'
                            f'<title>{escape(point.label)}: {_number(point.value)}%</title></circle>')
        if len(segment) > 1:
            body.append(f'<polyline class="{css}" points="{" ".join(segment)}"/>')

    series("line-comparison", comparison, False)
    series("line-rate", points, True)
    for index, point in enumerate(points):
        if index % max(len(points) // 12, 1) == 0:
            body.append(f'<text class="axis" x="{PLOT_LEFT + index * step:.1f}" y="{bottom + 16}"'
                        f' text-anchor="middle">{escape(point.label)}</text>')
    legend = [("line-rate", "本期 rate")]
    if any(p.value is not None for p in comparison):
        legend.append(("line-comparison", "上年同期 last year"))
    if target is not None:
        y = bottom - target * scale
        body.append(f'<line class="target-line" x1="{PLOT_LEFT}" x2="{PLOT_LEFT + plot_width}" y1="{y:.1f}"'
                    f' y2="{y:.1f}"/>')
        legend.append(("target-line", f"目标 target {_number(target)}%"))
    body.append(_legend(bottom + 40, legend))
    return _svg(chart_id, title, height, body)


def percent(value: Decimal | float | None) -> float | None:
    return None if value is None else float(value)


def _clip(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"
