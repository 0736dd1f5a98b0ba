"""Review and lock in a province of its own: counties accept, then their city, then the province, which locks.

Three counties in two cities report; a fourth county and a whole city have no institution, so nobody waits
for them. Every step runs as `vte review` / `vte lock` would: a connection as vte_admin.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import psycopg
import pytest

from vte import lifecycle, registry, warehouse
from vte.access import roles
from vte.config import Settings
from vte.review import approval, locks
from vte.review.approval import ReviewError

MONTH = date(2026, 3, 1)
AFTER_MONTH = date(2026, 4, 2)
WENZHOU, LUCHENG, WENCHENG, HANGZHOU, SHANGCHENG, PROVINCE = "330300", "330302", "330328", "330100", "330102", "330000"


@pytest.fixture(scope="module")
def admin(warehouse_url, tmp_path_factory):
    settings = Settings(home=tmp_path_factory.mktemp("review"), warehouse_url=None)
    with psycopg.connect(warehouse.start(settings), autocommit=True) as conn:
        for code, county in (("RV01", LUCHENG), ("RV02", WENCHENG), ("RV03", WENCHENG), ("RV04", SHANGCHENG)):
            registry.register(conn, code=code, name=f"审核医院{code}", level="二级", county_code=county,
                              joined_on=date(2026, 1, 1))
        # joined after March: not expected in March's review
        registry.register(conn, code="RV05", name="新医院", level="二级", county_code="330106", joined_on=date(2026, 4, 1))
        # joined in May, then suspended or closed in June (see the lifecycle test)
        for code, county in (("RV06", "330105"), ("RV07", "330108"), ("RV08", "330109")):
            registry.register(conn, code=code, name=f"审核医院{code}", level="二级", county_code=county,
                              joined_on=date(2026, 5, 1))
        july = date(2026, 7, 15)
        lifecycle.suspend(conn, "RV06", date(2026, 6, 1), "停业整顿", today=july)
        lifecycle.resume(conn, "RV06", date(2026, 7, 1), "恢复", today=july)
        lifecycle.close(conn, "RV07", date(2026, 6, 20), "撤销", today=july)
        lifecycle.suspend(conn, "RV08", date(2026, 6, 1), "停业整顿", today=july)
        lifecycle.close(conn, "RV08", date(2026, 6, 15), "撤销", today=july)
    with warehouse.connect(settings, role=roles.ADMIN, autocommit=True) as conn:
        yield conn
    warehouse.stop(settings)


def accept(conn, region, **kw):
    return approval.accept(conn, region, MONTH, actor="test", today=AFTER_MONTH, **kw)


def test_the_units_are_the_reporting_counties_and_everything_above_them(admin):
    units = approval.units(admin, MONTH)
    assert set(units) == {LUCHENG, WENCHENG, SHANGCHENG, WENZHOU, HANGZHOU, PROVINCE}
    assert units[WENCHENG].institutions == 2 and units[WENZHOU].institutions == 3 and units[PROVINCE].institutions == 4


def test_the_whole_review_from_county_to_a_locked_month(admin):
    with pytest.raises(ReviewError, match="has not ended"):
        approval.accept(admin, LUCHENG, MONTH, actor="test", today=date(2026, 3, 31))
    with pytest.raises(ReviewError, match=f"before {LUCHENG}"):
        accept(admin, WENZHOU)
    assert accept(admin, LUCHENG).accepted
    # an accepted county withdraws while its city has not accepted
    assert not approval.unaccept(admin, LUCHENG, MONTH, actor="test").accepted
    with pytest.raises(ReviewError, match="nothing to withdraw"):
        approval.unaccept(admin, LUCHENG, MONTH, actor="test")
    accept(admin, LUCHENG)
    accept(admin, WENCHENG)
    with pytest.raises(ReviewError, match="already accepted"):
        accept(admin, WENCHENG)
    accept(admin, WENZHOU)
    with pytest.raises(ReviewError, match="ask it to withdraw first"):
        approval.unaccept(admin, WENCHENG, MONTH, actor="test")
    with pytest.raises(ReviewError, match=f"before {HANGZHOU}"):
        accept(admin, PROVINCE)
    accept(admin, SHANGCHENG)
    accept(admin, HANGZHOU)
    assert locks.month_lock(admin, MONTH) is None
    accept(admin, PROVINCE, comment="三月数据审核完毕")
    lock = locks.month_lock(admin, MONTH)
    assert lock.reason == "province_accepted" and lock.actor == "test"
    for action in (approval.unaccept, lambda *a, **k: approval.accept(*a, today=AFTER_MONTH, **k)):
        with pytest.raises(ReviewError, match="is locked"):
            action(admin, WENZHOU, MONTH, actor="test")
    events = admin.execute("select region_code, action from review.approval_events where month = %s"
                           " order by event_id", (MONTH,)).fetchall()
    assert events[:3] == [(LUCHENG, "accept"), (LUCHENG, "unaccept"), (LUCHENG, "accept")] and len(events) == 8


def test_a_month_is_accepted_where_an_institution_was_expected_on_one_of_its_days(admin):
    june, july = date(2026, 6, 1), date(2026, 7, 1)
    # RV06 suspended all June, RV08 suspended then closed all June; RV07 closed on 20 June
    assert approval.expected_institutions(admin, june) >= {"RV07"}
    assert not approval.expected_institutions(admin, june) & {"RV06", "RV08"}
    assert "330108" in approval.units(admin, june) and not {"330105", "330109"} & set(approval.units(admin, june))
    assert "330105" in approval.units(admin, july) and not {"330108", "330109"} & set(approval.units(admin, july))
    with pytest.raises(ReviewError, match="nothing to accept"):
        approval.accept(admin, "330105", june, actor="test", today=AFTER_MONTH.replace(month=8))


def test_a_region_without_institutions_has_nothing_to_accept(admin):
    with pytest.raises(ReviewError, match="nothing to accept"):
        approval.accept(admin, "330200", date(2026, 2, 1), actor="test", today=AFTER_MONTH)
    with pytest.raises(ReviewError, match="not a known GB/T 2260 code"):
        approval.accept(admin, "999999", date(2026, 2, 1), actor="test", today=AFTER_MONTH)


def test_exceptions_are_time_boxed_reasoned_and_only_for_locked_months(admin):
    soon = datetime.now(locks.LOCAL_TZ) + timedelta(days=2)
    with pytest.raises(locks.LockError, match="is not locked"):
        locks.open_exception(admin, "RV01", date(2026, 2, 1), soon, reason="更正", actor="test")
    locks.lock_month(admin, date(2026, 1, 1), "final_extract", "test")
    with pytest.raises(locks.LockError, match="at most 31 days"):
        locks.open_exception(admin, "RV01", date(2026, 1, 1), soon + timedelta(days=40), reason="更正", actor="t")
    with pytest.raises(locks.LockError, match="needs a reason"):
        locks.open_exception(admin, "RV01", date(2026, 1, 1), soon, reason=" ", actor="test")
    opened = locks.open_exception(admin, "RV01", date(2026, 1, 1), soon, reason="药剂科漏报", actor="test")
    assert locks.refusing_lock(admin, "RV01", date(2026, 1, 15)) is None
    assert locks.refusing_lock(admin, "RV02", date(2026, 1, 15)).reason == "final_extract"
    assert [e.exception_id for e in locks.exceptions(admin, date(2026, 1, 1))] == [opened.exception_id]


@pytest.mark.parametrize("table", ["review.approval_events", "review.month_locks", "review.lock_exceptions"])
def test_the_record_of_review_cannot_be_rewritten(admin, table):
    for statement in (f"delete from {table}", f"truncate {table}", f"update {table} set actor = 'x'"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege), admin.transaction(force_rollback=True):
            admin.execute(statement)
