"""The pages that read the published marts, against the shared published pipeline (tests/conftest.py): the
indicators of a region against target and last year, the monthly trend with its target line, institutions
compared, its days; and rows held out of the indicators flagged on the monitoring pages. Every figure shown is the
marts' own."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from console_support import cut_off_the_network, sign_in, start_console, stop

from vte import warehouse
from vte.access import roles
from vte.console import users

pytestmark = pytest.mark.slow  # the shared published pipeline takes minutes to build

MONTH = "2026-10"


@pytest.fixture(scope="module")
def published(published_pipeline):
    settings = published_pipeline.settings
    with warehouse.connect(settings, autocommit=True) as conn:
        province, city = conn.execute("select province_code, city_code from marts.dim_institutions"
                                      " order by institution_code limit 1").fetchone()
    passwords = {}
    with warehouse.connect(settings, role=roles.ADMIN, autocommit=True) as conn:
        for username, role, region in (("marts_admin", "admin", province), ("marts_city_viewer", "viewer", city)):
            _, passwords[username] = users.create(conn, username=username, role=role, region_code=region, actor="test")
    console = start_console(settings)
    yield console, passwords, province, city, settings
    stop(console.process)


def _marts(settings, sql: str, params=()) -> list[tuple]:
    with psycopg.connect(warehouse.url(settings), autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


def _pct(value) -> str:
    return "—" if value is None else f"{float(value):.2f}%"


def test_a_regions_indicators_trend_and_institutions_are_the_marts(published, page):
    console, passwords, province, city, settings = published
    offline = cut_off_the_network(page, console.url)
    sign_in(page, console.url, "marts_admin", passwords["marts_admin"])
    page.goto(f"{console.url}/indicators?period={MONTH}&indicator=B.1.1")

    expected = {row[0]: row[1:] for row in _marts(settings, (
        "select indicator_id, numerator, denominator, rate, rate_same_period_last_year from marts.fct_indicator_values"
        " where level = 'province' and entity_code = %s and period_type = 'month' and period_start = %s"),
        (province, f"{MONTH}-01"))}
    assert len(expected) == 23
    rows = page.locator("#values tbody tr")
    assert rows.count() == 23
    for index in range(23):
        cells = rows.nth(index).locator("td").all_inner_texts()
        numerator, denominator, rate, last_year = expected[rows.nth(index).get_attribute("data-indicator")]
        assert (cells[2], cells[3], cells[4], cells[7]) == (str(numerator), str(denominator), _pct(rate),
                                                            _pct(last_year))
    assert expected["B.1.1"][3] is not None, "a year of history gives B.1.1 its same period last year"

    trend = _marts(settings, "select period_start, rate from marts.fct_indicator_values where level = 'province'"
                             " and entity_code = %s and period_type = 'month' and indicator_id = 'B.1.1'"
                             " and period_start between %s::date - interval '12 months' and %s", (
                                 province, f"{MONTH}-01", f"{MONTH}-01"))
    assert page.locator("#chart-trend circle").count() == len(trend) == 13
    assert page.locator("#chart-trend line.target-line").count() == 1  # B.1.1's target, 90 %

    compared = _marts(settings, "select entity_code, is_small_denominator from marts.fct_indicator_values"
                                " where level = 'institution' and period_type = 'month' and period_start = %s"
                                " and indicator_id = 'B.1.1' order by rate desc nulls last, entity_code",
                      (f"{MONTH}-01",))
    shown = page.locator("#institutions-compared tbody tr")
    assert [shown.nth(i).get_attribute("data-institution") for i in range(shown.count())] == [c for c, _ in compared]
    # a pale bar is a small denominator, as fct_indicator_values marks it
    assert page.locator("#chart-institutions .bar-unreliable").count() == sum(bool(small) for _, small in compared)
    assert offline.attempted == [] and offline.errors == []


def test_a_city_viewer_compares_only_its_citys_institutions(published, page):
    console, passwords, province, city, settings = published
    sign_in(page, console.url, "marts_city_viewer", passwords["marts_city_viewer"])
    page.goto(f"{console.url}/indicators?period=2026Q3&indicator=B.2.2")
    inside = {code for code, in _marts(settings, "select institution_code from marts.dim_institutions"
                                                 " where city_code = %s", (city,))}
    shown = page.locator("#institutions-compared tbody tr")
    assert {shown.nth(i).get_attribute("data-institution") for i in range(shown.count())} == inside
    [(rate,)] = _marts(settings, "select rate from marts.fct_indicator_values where level = 'city' and entity_code = %s"
                                 " and period_type = 'quarter' and period_start = '2026-07-01' and indicator_id = 'B.2.2'",
                       (city,))
    assert page.inner_text("#values tr[data-indicator='B.2.2'] .rate") == _pct(rate)
    assert page.goto(f"{console.url}/indicators?region={province}").status == 403


def test_a_regions_days_are_the_daily_marts(published, page):
    """The city's days of a quarter's last month, as fct_daily_indicator_values holds them, offline."""
    console, passwords, province, city, settings = published
    offline = cut_off_the_network(page, console.url)
    sign_in(page, console.url, "marts_city_viewer", passwords["marts_city_viewer"])
    page.goto(f"{console.url}/indicators?period=2026Q3&indicator=B.2.2")
    expected = _marts(settings, "select report_date, numerator, denominator, rate, is_small_denominator"
                                " from marts.fct_daily_indicator_values where level = 'city' and entity_code = %s"
                                " and indicator_id = 'B.2.2' and report_date between '2026-09-01' and '2026-09-30'"
                                " order by report_date", (city,))
    assert len(expected) >= 28, "the pipeline's institutions report nearly every day"
    rows = page.locator("#daily-data tbody tr")
    shown = [(rows.nth(i).get_attribute("data-date"), rows.nth(i).locator("td").all_text_contents())  # folded
             for i in range(rows.count())]
    assert shown == [(day.isoformat(), [day.isoformat(), str(numerator), str(denominator), _pct(rate),
                                        "分母过小 small denominator" if small else ""])
                     for day, numerator, denominator, rate, small in expected]
    assert page.locator("#chart-daily circle").count() == sum(rate is not None for _, _, _, rate, _ in expected)
    assert offline.attempted == [] and offline.errors == []


def test_rows_held_out_of_the_indicators_are_flagged_where_they_happened(published, page):
    console, passwords, province, city, settings = published
    held_out = _marts(settings, "select institution_code, to_char(report_date, 'YYYY-MM'), count(*),"
                                " count(distinct report_date), min(report_date) from marts.fct_quarantined_rows"
                                " group by 1, 2 order by 3 desc, 1, 2 limit 1")
    if not held_out:
        pytest.skip("the published pipeline held no row out")
    [(code, month, rows, days, first_day)] = held_out
    sign_in(page, console.url, "marts_admin", passwords["marts_admin"])
    page.goto(f"{console.url}/monitoring?month={month}")
    assert page.locator(f"#institutions tr[data-institution='{code}'] .status-held_out").count() == 1
    page.goto(f"{console.url}/monitoring/institutions/{code}?month={month}")
    assert page.locator("#held-out tbody tr").count() == rows
    assert page.locator("#days li.held-out").count() == days
    assert "held-out" in page.get_attribute(f"#days li[data-date='{first_day}']", "class")


def test_an_institutions_departments_and_the_days_they_were_missing_are_the_marts(published, page, published_pipeline):
    console, passwords, province, city, settings = published
    code, since = published_pipeline.roster_code, published_pipeline.phantom_department[2]
    month = since.replace(day=1)
    departments = _marts(settings, "select campus || '/' || department_code, days_missing, missing_dates"
                                   " from marts.fct_department_completeness where institution_code = %s"
                                   " and period_type = 'month' and period_start = %s", (code, month))
    missing_on: dict = {}
    for name, _, dates in departments:
        for day in dates:
            missing_on.setdefault(day, []).append(name)
    assert missing_on, "the roster's declared department that never reports is missing"
    sign_in(page, console.url, "marts_admin", passwords["marts_admin"])
    page.goto(f"{console.url}/monitoring/institutions/{code}?month={month:%Y-%m}")
    assert page.locator("#departments tbody tr").count() == len(departments)
    for name, missing, _ in departments:
        cells = page.locator(f"#departments tr[data-department='{name}'] td")
        assert cells.nth(5).inner_text() == str(missing)
    assert page.locator("#days li.missing-departments").count() == len(missing_on)
    assert page.get_attribute(f"#days li[data-date='{since}']", "data-missing-departments") == \
        str(len(missing_on[since]))
    assert page.get_attribute(f"#days li[data-date='{since - timedelta(days=1)}']", "data-missing-departments") is None

    # an institution without a roster says so rather than listing nothing as missing
    other = next(i.code for i in published_pipeline.institutions if i.code != code)
    page.goto(f"{console.url}/monitoring/institutions/{other}?month={month:%Y-%m}")
    assert page.locator("#no-roster").count() == 1 and page.locator("#departments").count() == 0
