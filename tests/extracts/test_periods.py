"""Period parsing, the extract calendar and which kind an extract may be."""

from datetime import date, timedelta

import pytest

from vte.extracts.periods import PeriodError, parse_period
from vte.extracts.schedule import ScheduleError, due_extracts, resolve_kind


@pytest.mark.parametrize("text, start, end, period_type", [
    ("2026-03", date(2026, 3, 1), date(2026, 3, 31), "month"),
    ("2024-02", date(2024, 2, 1), date(2024, 2, 29), "month"),
    ("2026Q1", date(2026, 1, 1), date(2026, 3, 31), "quarter"),
    ("2025q4", date(2025, 10, 1), date(2025, 12, 31), "quarter"),
    ("2026", date(2026, 1, 1), date(2026, 12, 31), "year"),
])
def test_periods_parse_to_their_first_and_last_day(text, start, end, period_type):
    period = parse_period(text)
    assert (period.start, period.end, period.period_type) == (start, end, period_type)
    assert parse_period(period.label) == period


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026Q5", "2026Q0", "26-03", "2026-3", "March", "",
                                  "2026-03-01", "0999"])
def test_bad_periods_are_refused_naming_the_value(text):
    with pytest.raises(PeriodError) as refused:
        parse_period(text)
    assert repr(text) in str(refused.value)


def test_the_calendar_of_a_year():
    due = {}
    day = date(2026, 1, 1)
    while day.year == 2026:
        due[day] = [(d.period.label, d.kind) for d in due_extracts(day)]
        day += timedelta(days=1)
    busy = {d: v for d, v in due.items() if v}
    assert set(busy) == {date(2026, m, 1) for m in range(1, 13)} | {date(2026, m, 10) for m in range(1, 13)}
    assert busy[date(2026, 4, 1)] == [("2026-03", "preliminary")]
    assert busy[date(2026, 4, 10)] == [("2026-03", "final"), ("2026Q1", "final")]
    assert busy[date(2026, 5, 10)] == [("2026-04", "final")]
    assert busy[date(2026, 1, 10)] == [("2025-12", "final"), ("2025Q4", "final"), ("2025", "final")]
    assert sum(len(v) for v in busy.values()) == 12 + 12 + 4 + 1


def test_kind_is_final_once_due_and_a_running_period_has_no_extract():
    march = parse_period("2026-03")
    assert resolve_kind(march, None, date(2026, 4, 9)) == "preliminary"
    assert resolve_kind(march, None, date(2026, 4, 10)) == "final"
    assert resolve_kind(march, "preliminary", date(2026, 5, 1)) == "preliminary"
    with pytest.raises(ScheduleError, match="2026-03 is due from 2026-04-10"):
        resolve_kind(march, "final", date(2026, 4, 2))
    with pytest.raises(ScheduleError, match="2026-03 is not over yet"):
        resolve_kind(march, None, date(2026, 3, 31))
