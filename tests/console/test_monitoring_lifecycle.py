"""The console's calendar expects no report on the days an institution is suspended or closed, and still shows a
closed institution's days before it closed. The queries run as vte_console, in a warehouse of their own (the
console world's months must stay as its other tests expect them)."""

from __future__ import annotations

from datetime import date, timedelta

import psycopg
import pytest

from vte import lifecycle, registry, warehouse
from vte.access import roles
from vte.config import Settings
from vte.console.queries import monitoring

WENCHENG, PROVINCE = "330328", "330000"
MARCH, MARCH_END = date(2026, 3, 1), date(2026, 3, 31)


@pytest.fixture(scope="module")
def console_conn(warehouse_url, tmp_path_factory):
    settings = Settings(home=tmp_path_factory.mktemp("lifecycle-console"), warehouse_url=None)
    with psycopg.connect(warehouse.start(settings), autocommit=True) as conn:
        for code in ("LC01", "LC02", "LC03"):
            registry.register(conn, code=code, name=f"生命周期医院{code}", level="二级", county_code=WENCHENG,
                              joined_on=date(2026, 1, 1))
        today = date(2026, 4, 10)
        lifecycle.close(conn, "LC01", date(2026, 3, 20), "撤销", today=today)
        lifecycle.suspend(conn, "LC02", date(2026, 3, 5), "停业整顿", today=today)
        lifecycle.resume(conn, "LC02", date(2026, 3, 10), "恢复", today=today)
        lifecycle.close(conn, "LC03", date(2026, 2, 1), "撤销", today=today)
    with warehouse.connect(settings, role=roles.CONSOLE, autocommit=True) as conn:
        yield conn
    warehouse.stop(settings)


def test_suspended_and_closed_days_are_not_expected(console_conn):
    summaries = {s.institution_code: s for s in monitoring.institution_summaries(console_conn, PROVINCE, MARCH,
                                                                                   MARCH_END)}
    # LC03 closed before March: nothing to show; LC01 closed on the 20th: its 19 days before
    assert set(summaries) == {"LC01", "LC02"}
    assert summaries["LC01"].days_expected == summaries["LC01"].missing == 19
    assert summaries["LC02"].days_expected == 31 - 5
    suspended = {MARCH + timedelta(days=d) for d in range(4, 9)}
    days = [d.report_date for d in monitoring.institution_days(console_conn, PROVINCE, "LC02", MARCH, MARCH_END)]
    assert len(days) == 26 and not suspended & set(days)
    expected = {d.report_date: d.expected for d in monitoring.days(console_conn, PROVINCE, MARCH, MARCH_END)}
    assert (expected[date(2026, 3, 1)], expected[date(2026, 3, 5)], expected[date(2026, 3, 25)]) == (2, 1, 1)


def test_a_closed_institution_still_shows_the_months_before_it_closed(console_conn):
    january = monitoring.institution_summaries(console_conn, PROVINCE, date(2026, 1, 1), date(2026, 1, 31))
    assert {s.institution_code: s.days_expected for s in january} == {"LC01": 31, "LC02": 31, "LC03": 31}
