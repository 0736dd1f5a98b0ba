"""Which extracts fall due on a day (Asia/Shanghai), and which kind an on-demand extract may be."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from vte.extracts.periods import FINAL_DAY, Period, month_of, quarter_of, year_of

KINDS = ("preliminary", "final")
PRELIMINARY_DAY = 1


class ScheduleError(ValueError):
    pass


@dataclass(frozen=True)
class DueExtract:
    period: Period
    kind: str  # preliminary | final


def due_extracts(day: date) -> list[DueExtract]:
    """Monthly preliminary on the 1st and final on the 10th for the month before; quarterly and yearly
    finals on the 10th after the quarter or year."""
    last_month_day = day.replace(day=1) - timedelta(days=1)
    if day.day == PRELIMINARY_DAY:
        return [DueExtract(month_of(last_month_day), "preliminary")]
    if day.day != FINAL_DAY:
        return []
    due = [DueExtract(month_of(last_month_day), "final")]
    if day.month in (1, 4, 7, 10):
        due.append(DueExtract(quarter_of(last_month_day), "final"))
    if day.month == 1:
        due.append(DueExtract(year_of(last_month_day), "final"))
    return due


def resolve_kind(period: Period, kind: str | None, today: date) -> str:
    """The kind of an extract of ``period`` made on ``today``: final once it is due, else preliminary.

    A period still running has no extract, and a final one cannot be made before late data had their time.
    """
    if period.end >= today:
        raise ScheduleError(f"period {period.label} is not over yet (it ends {period.end}): "
                            "extracts cover complete periods only")
    if kind is None:
        return "final" if today >= period.final_from else "preliminary"
    if kind not in KINDS:
        raise ScheduleError(f"extract kind {kind!r} is neither preliminary nor final")
    if kind == "final" and today < period.final_from:
        raise ScheduleError(f"a final extract of {period.label} is due from {period.final_from}; "
                            "until then only a preliminary one can be made")
    return kind
