"""A suspended institution is not expected to report from its date until it resumes (fct_reporting_completeness)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from conftest import AS_OF, on_time, valid_row

from vte import lifecycle, registry
from vte.ingest import load_landing_zone

pytestmark = pytest.mark.slow

CODE = "LIFECYCLE01"
JOINED = AS_OF - timedelta(days=9)  # 2025-03-25
SUSPENDED, RESUMED = date(2025, 3, 28), date(2025, 4, 1)


def completeness_of(db, code: str, month: date) -> tuple:
    return db.execute(
        "select days_expected, days_received, days_missing, missing_dates from marts.fct_reporting_completeness"
        " where level = 'institution' and entity_code = %s and period_type = 'month' and period_start = %s",
        (code, month)).fetchone()


def test_a_suspended_institution_is_not_expected_from_its_date(province, db):
    creds = registry.register(db, code=CODE, name="生命周期测试医院", level="二级", county_code="330203",
                              joined_on=JOINED)
    reported = [JOINED, JOINED + timedelta(days=1), date(2025, 3, 29), RESUMED, RESUMED + timedelta(days=1)]
    for day in reported:  # 03-29 landed before the suspension was recorded: kept, but no longer expected
        province.zone.land(institution_code=CODE, access_key=creds.access_key, channel="api",
                           payload={"date": day.isoformat(), "data": [valid_row(province.rng, "本院", "NK")]},
                           received_at=on_time(day))
    assert load_landing_zone(db, province.zone).loaded == len(reported)
    lifecycle.suspend(db, CODE, SUSPENDED, "信息系统改造")
    lifecycle.resume(db, CODE, RESUMED, "改造完成")
    province.build(db)

    # March: 25, 26, 27 expected (27 missing); 28-31 suspended. April: 1-3 expected up to AS_OF (3 missing).
    assert completeness_of(db, CODE, date(2025, 3, 1)) == (3, 2, 1, [date(2025, 3, 27)])
    assert completeness_of(db, CODE, date(2025, 4, 1)) == (3, 2, 1, [date(2025, 4, 3)])
    quarter = db.execute(
        "select days_expected, days_received from marts.fct_reporting_completeness where level = 'institution'"
        " and entity_code = %s and period_type = 'quarter' and period_start = '2025-01-01'", (CODE,)).fetchone()
    assert quarter == (3, 2)
