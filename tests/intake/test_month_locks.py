"""A locked month refuses its dates over the real HTTP intake, JSON and Excel, unless an exception is open."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import httpx
from intake_support import row

from vte import client, registry
from vte.excel.template import filled_workbook
from vte.intake.accounts import account_and_lock
from vte.intake.responses import ResultCode
from vte.review import locks

LOCKED = date(2021, 2, 1)


def test_a_locked_month_refuses_its_dates_and_an_exception_lets_one_institution_in(intake, db):
    locked, corrected = (registry.register(db, code=f"LK{n}{datetime.now():%H%M%S%f}"[:20], name="锁定测试医院",
                                           level="二级", county_code="330328", joined_on=date(2021, 1, 1))
                         for n in (1, 2))
    day = {"date": "2021-02-10", "data": [row(dept="骨科")]}
    assert intake.submit(locked, day).json()["code"] == 0  # before the lock
    locks.lock_month(db, LOCKED, "province_accepted", "test")

    for creds in (locked, corrected):
        refused = intake.submit(creds, {**day, "data": [row(dept="普外科")]})
        body = refused.json()
        assert refused.status_code == 423 and body["code"] == ResultCode.MONTH_LOCKED
        assert {k: body["data"][k] for k in ("reportDate", "month", "reason")} == \
            {"reportDate": "2021-02-10", "month": "2021-02", "reason": "province_accepted"}
        assert "该月数据已审核锁定" in body["message"] and "locked" in body["message"]
    dry_run = intake.submit(locked, day, dry_run=True).json()
    assert dry_run["code"] == ResultCode.MONTH_LOCKED
    assert intake.submit(locked, {**day, "date": "2021-03-01"}).json()["code"] == 0  # the next month is open

    upload = client.upload(intake.url, locked.access_key, locked.access_secret, "二月.xlsx",
                           filled_workbook([{"date": "2021-02-11", "data": [row(dept="骨科")]}]))
    assert upload["code"] == ResultCode.MONTH_LOCKED
    [error] = upload["data"]["errors"]
    assert error["code"] == "month_locked" and error["field"] == "date"

    locks.open_exception(db, corrected.institution_code, LOCKED, datetime.now(locks.LOCAL_TZ) + timedelta(hours=1),
                         reason="漏报科室补报", actor="test")
    assert intake.submit(corrected, {**day, "data": [row(dept="普外科")]}).json()["code"] == 0
    assert intake.submit(locked, {**day, "data": [row(dept="普外科")]}).json()["code"] == ResultCode.MONTH_LOCKED


def test_the_lock_code_is_documented():
    from vte.config import PROJECT_ROOT

    assert f"| {int(ResultCode.MONTH_LOCKED)} | 423 |" in (PROJECT_ROOT / "docs" / "intake-api.md").read_text()
    assert httpx.codes.LOCKED == 423


def test_the_account_and_its_month_lock_are_one_read(db, settings):
    """What the intake asks of the registry per submission: the account, and the lock refusing the envelope
    date's month to its institution, in the same statement (vte.intake.accounts.account_and_lock)."""
    month = date(2021, 5, 1)
    creds = registry.register(db, code=f"LR{datetime.now():%H%M%S%f}"[:20], name="一次读取测试医院", level="二级",
                              county_code="330328", joined_on=date(2021, 1, 1))
    known, account, lock = account_and_lock(db, creds.access_key, month, settings)
    assert known and account.access_secret == creds.access_secret and lock is None  # not locked
    locks.lock_month(db, month, "final_extract", "test")
    assert account_and_lock(db, creds.access_key, month, settings)[2].reason == "final_extract"
    assert account_and_lock(db, creds.access_key, None, settings)[2] is None  # no date: no lock read
    assert account_and_lock(db, creds.access_key, date(2021, 6, 1), settings)[2] is None
    locks.open_exception(db, creds.institution_code, month, datetime.now(locks.LOCAL_TZ) + timedelta(hours=1),
                         reason="补报", actor="test")
    assert account_and_lock(db, creds.access_key, month, settings)[2] is None  # its exception lets it in
    assert account_and_lock(db, "no-such-key", month, settings) == (False, None, None)
