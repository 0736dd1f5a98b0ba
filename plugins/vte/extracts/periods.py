"""Reporting periods of the extracts: a month (2026-03), a quarter (2026Q1) or a year (2026)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

PERIOD_TYPES = ("month", "quarter", "year")
# HQMS practice: late and corrected data have until the 10th after the period to arrive.
FINAL_DAY = 10

_PATTERNS = {
    "month": re.compile(r"(?P<year>\d{4})-(?P<number>\d{2})"),
    "quarter": re.compile(r"(?P<year>\d{4})Q(?P<number>\d)", re.IGNORECASE),
    "year": re.compile(r"(?P<year>\d{4})"),
}


class PeriodError(ValueError):
    pass


@dataclass(frozen=True, order=True)
class Period:
    start: date
    period_type: str  # month | quarter | year

    @property
    def end(self) -> date:
        """Last day of the period."""
        return self.following_start - timedelta(days=1)

    @property
    def following_start(self) -> date:
        months = {"month": 1, "quarter": 3, "year": 12}[self.period_type]
        month_index = self.start.year * 12 + self.start.month - 1 + months
        return date(month_index // 12, month_index % 12 + 1, 1)

    @property
    def label(self) -> str:
        """The period as written on the command line and in export paths: 2026-03, 2026Q1 or 2026."""
        if self.period_type == "month":
            return f"{self.start:%Y-%m}"
        if self.period_type == "quarter":
            return f"{self.start.year}Q{(self.start.month - 1) // 3 + 1}"
        return str(self.start.year)

    @property
    def final_from(self) -> date:
        """The first day a final extract of the period is due."""
        return self.following_start.replace(day=FINAL_DAY)


def month_of(day: date) -> Period:
    return Period(day.replace(day=1), "month")


def quarter_of(day: date) -> Period:
    return Period(date(day.year, (day.month - 1) // 3 * 3 + 1, 1), "quarter")


def year_of(day: date) -> Period:
    return Period(date(day.year, 1, 1), "year")


def trailing_months(last_day: date, count: int) -> list[date]:
    """First days of the ``count`` months ending with the month of ``last_day``, oldest first."""
    index = last_day.year * 12 + last_day.month - 1
    return [date(i // 12, i % 12 + 1, 1) for i in range(index - count + 1, index + 1)]


def parse_period(text: str) -> Period:
    """``2026-03`` → March 2026, ``2026Q1`` → first quarter, ``2026`` → the year; anything else is refused."""
    value = (text or "").strip()
    for period_type, pattern in _PATTERNS.items():
        match = pattern.fullmatch(value)
        if not match:
            continue
        year = int(match["year"])
        if year < 1900:
            raise PeriodError(f"period {text!r}: year {year} is out of range")
        if period_type == "year":
            return Period(date(year, 1, 1), "year")
        number = int(match["number"])
        if period_type == "month":
            if not 1 <= number <= 12:
                raise PeriodError(f"period {text!r}: month {number} is not 01-12")
            return Period(date(year, number, 1), "month")
        if not 1 <= number <= 4:
            raise PeriodError(f"period {text!r}: quarter {number} is not 1-4")
        return Period(date(year, (number - 1) * 3 + 1, 1), "quarter")
    raise PeriodError(f"period {text!r} is not a month (2026-03), a quarter (2026Q1) or a year (2026)")
