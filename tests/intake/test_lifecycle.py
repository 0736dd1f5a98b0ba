"""Institution lifecycle: suspended, closed and resumed from a report date on; a revoked account replaced.

Over the real HTTP intake (JSON and Excel) and the real alert detection (as vte_monitor) on the session's
warehouse; completeness is checked by tests/dbt/test_lifecycle_completeness.py.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from intake_support import row

from vte import client, lifecycle, registry, warehouse
from vte.access import roles
from vte.alerts import detect
from vte.excel.template import filled_workbook
from vte.intake.responses import ResultCode
from vte.publication import feedback
from vte.submission import report_today


def _institution(db, joined_on: date) -> registry.Credentials:
    return registry.register(db, code="LC" + uuid.uuid4().hex[:10], name="生命周期测试医院", level="二级",
                             county_code="330328", joined_on=joined_on)


def _day(d: date, dept: str = "骨科") -> dict:
    return {"date": d.isoformat(), "data": [row(dept=dept)]}


def test_a_closed_institution_refuses_submissions_with_its_code(intake, db):
    creds = _institution(db, date(2024, 1, 1))
    closing = date(2024, 3, 1)
    lifecycle.close(db, creds.institution_code, closing, "撤并入县人民医院")

    refused = intake.submit(creds, _day(closing + timedelta(days=3)))
    body = refused.json()
    assert refused.status_code == 403 and body["code"] == ResultCode.INSTITUTION_CLOSED
    assert body["data"]["status"] == "closed" and body["data"]["fromDate"] == "2024-03-01"
    assert body["data"]["reportDate"] == "2024-03-04" and body["data"]["resumedOn"] is None
    assert "该机构已关闭" in body["message"] and "closed" in body["message"]
    assert intake.submit(creds, _day(closing), dry_run=True).json()["code"] == ResultCode.INSTITUTION_CLOSED
    # the days before its closure are still its to report and correct
    assert intake.submit(creds, _day(closing - timedelta(days=1))).json()["code"] == 0

    upload = client.upload(intake.url, creds.access_key, creds.access_secret, "三月.xlsx",
                           filled_workbook([_day(date(2024, 2, 28)), _day(date(2024, 3, 2))]))
    assert upload["code"] == ResultCode.INSTITUTION_CLOSED, upload
    [error] = upload["data"]["errors"]
    assert error["code"] == "institution_closed" and error["field"] == "date" and "2024-03-02" in error["message"]
    # all or nothing: the valid date of the refused workbook was not stored either
    assert not upload["data"].get("submissions")

    changes = lifecycle.history(db, creds.institution_code)
    assert [(c.status, c.effective_from, c.reason) for c in changes] == [("closed", closing, "撤并入县人民医院")]
    assert db.execute("select status from registry.institutions where institution_code = %s",
                      (creds.institution_code,)).fetchone() == ("closed",)
    audited = db.execute("select action, details from ops.admin_audit where subject = %s and action like 'institution.%%'",
                         (creds.institution_code,)).fetchall()
    assert ("institution.close", {"status": "closed", "effective_from": "2024-03-01", "reason": "撤并入县人民医院",
                                  "previous": "active", "change_id": changes[0].change_id}) in audited


def test_a_suspension_refuses_its_dates_until_the_institution_resumes(intake, db):
    creds = _institution(db, date(2024, 1, 1))
    code = creds.institution_code
    lifecycle.suspend(db, code, date(2024, 5, 1), "信息系统改造")
    lifecycle.resume(db, code, date(2024, 5, 20), "改造完成")

    refused = intake.submit(creds, _day(date(2024, 5, 10))).json()
    assert refused["code"] == ResultCode.INSTITUTION_SUSPENDED
    assert {k: refused["data"][k] for k in ("status", "fromDate", "resumedOn")} == \
        {"status": "suspended", "fromDate": "2024-05-01", "resumedOn": "2024-05-20"}
    assert intake.submit(creds, _day(date(2024, 4, 30))).json()["code"] == 0
    assert intake.submit(creds, _day(date(2024, 5, 20))).json()["code"] == 0
    upload = client.upload(intake.url, creds.access_key, creds.access_secret, "五月.xlsx",
                           filled_workbook([_day(date(2024, 5, 19))]))
    assert upload["code"] == ResultCode.INSTITUTION_SUSPENDED
    assert upload["data"]["errors"][0]["code"] == "institution_suspended"

    # a later change from an earlier date corrects what was said about the dates after it
    lifecycle.suspend(db, code, date(2024, 5, 15), "改造延期")
    assert lifecycle.periods(db, code) == [registry.StatusPeriod("suspended", date(2024, 5, 1), None)]
    assert intake.submit(creds, _day(date(2024, 5, 25))).json()["code"] == ResultCode.INSTITUTION_SUSPENDED


def test_the_commands_refuse_what_makes_no_sense_in_one_line(db, vte_home):
    creds = _institution(db, date(2024, 1, 1))
    code = creds.institution_code
    today = report_today()
    with pytest.raises(registry.RegistryError, match="after today"):
        lifecycle.suspend(db, code, today + timedelta(days=1), "计划停诊")
    with pytest.raises(registry.RegistryError, match="before .* joined"):
        lifecycle.close(db, code, date(2023, 12, 31), "撤并")
    with pytest.raises(registry.RegistryError, match="nothing changes"):
        lifecycle.resume(db, code, date(2024, 2, 1), "无")
    with pytest.raises(registry.RegistryError, match="reason is empty"):
        lifecycle.suspend(db, code, date(2024, 2, 1), "  ")
    lifecycle.close(db, code, date(2024, 2, 1), "撤并")
    with pytest.raises(registry.RegistryError, match="closed from 2024-02-01: resume it"):
        lifecycle.suspend(db, code, date(2024, 3, 1), "停诊")

    done = subprocess.run(["vte", "institutions", "resume", code, "--from", "2024-02-01", "--reason", "撤并取消"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"{code} reports again for dates from 2024-02-01 on" in done.stdout
    shown = subprocess.run(["vte", "institutions", "show", code], capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0 and shown.stdout.startswith(f"{code}: active") and "撤并取消" in shown.stdout
    failed = subprocess.run(["vte", "institutions", "suspend", code, "--from", "someday", "--reason", "x"],
                            capture_output=True, text=True, timeout=120)
    assert failed.returncode != 0 and failed.stderr.strip().count("\n") == 0 and "not a date" in failed.stderr


def test_a_suspended_institution_is_not_expected_from_its_date_by_the_alerts(db, settings):
    now = datetime.now(timezone.utc)
    last = detect.last_due_date(now)
    creds = _institution(db, last - timedelta(days=20))
    code = creds.institution_code

    def run() -> dict[str, list]:
        with warehouse.connect(settings, role=roles.MONITOR, autocommit=True) as monitor:
            detect.run(monitor, now)
        found: dict[str, list] = {}
        for kind, state, details, resolution in db.execute(
                "select kind, state, details, resolution from alerts.alerts where institution_code = %s"
                " order by alert_id", (code,)):
            found.setdefault(f"{kind}:{state}", []).append(details.get("report_date") or details.get("streak_start"))
        return found

    before = run()
    assert len(before["missing_report:open"]) == detect.LOOKBACK_DAYS
    assert len(before["consecutive_missing:open"]) == 1

    suspended_from = last - timedelta(days=3)
    lifecycle.suspend(db, code, suspended_from, "停业整顿")
    after = run()
    expected_days = {(last - timedelta(days=n)).isoformat() for n in range(4, detect.LOOKBACK_DAYS)}
    assert set(after["missing_report:open"]) == expected_days
    assert set(after["missing_report:resolved"]) == {(suspended_from + timedelta(days=n)).isoformat() for n in range(4)}
    assert "consecutive_missing:open" not in after  # the newest due date is suspended: no streak

    lifecycle.resume(db, code, last - timedelta(days=1), "恢复营业")
    resumed = run()
    assert set(resumed["missing_report:open"]) == expected_days | {(last - timedelta(days=1)).isoformat(),
                                                                    last.isoformat()}
    assert "consecutive_missing:open" not in resumed  # two days since it resumed: not yet a streak


def test_a_replaced_account_keeps_the_institutions_versions_and_feedback(intake, db, settings):
    old = _institution(db, date(2024, 1, 1))
    code = old.institution_code
    first = intake.submit(old, _day(date(2024, 6, 1))).json()
    assert first["code"] == 0 and first["data"]["version"] == 1
    directory = feedback.report_dir(settings, code)
    directory.mkdir(parents=True)
    (directory / "latest.json").write_text(json.dumps({"institutionCode": code, "publicationId": 7,
                                                        "refusedRequests": [], "reporting": []}))

    registry.revoke(db, old.access_key)
    assert intake.submit(old, _day(date(2024, 6, 2))).json()["code"] == ResultCode.ACCESS_KEY_REVOKED

    done = subprocess.run(["vte", "accounts", "replace", old.access_key, "--json"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    new = registry.Credentials(printed["accessKey"], printed["accessSecret"], printed["institution_code"])
    assert new.institution_code == code and new.access_key != old.access_key

    second = intake.submit(new, _day(date(2024, 6, 1), dept="普外科")).json()
    assert second["code"] == 0 and second["data"]["version"] == 2  # the institution's versions continue
    report = client.fetch_feedback(intake.url, new.access_key, new.access_secret)
    assert report["code"] == 0 and report["data"]["institutionCode"] == code and report["data"]["publicationId"] == 7
    assert intake.submit(old, _day(date(2024, 6, 3))).json()["code"] == ResultCode.ACCESS_KEY_REVOKED
    actions = [r[0] for r in db.execute("select action from ops.admin_audit where details ->> 'institution_code' = %s"
                                        " order by audit_id", (code,))]
    assert actions[-2:] == ["account.create", "account.replace"]
    again = subprocess.run(["vte", "accounts", "replace", old.access_key], capture_output=True, text=True, timeout=120)
    assert again.returncode != 0 and f"another active account, {new.access_key}" in again.stderr


def test_replacing_an_active_account_revokes_it_in_the_same_step(db):
    old = _institution(db, date(2024, 1, 1))
    new = registry.replace_account(db, old.access_key)
    statuses = dict(db.execute("select access_key, status from registry.accounts where institution_code = %s",
                               (old.institution_code,)).fetchall())
    assert statuses == {old.access_key: "revoked", new.access_key: "active"}


def test_the_lifecycle_codes_are_documented():
    from vte.config import PROJECT_ROOT

    text = (PROJECT_ROOT / "docs" / "intake-api.md").read_text()
    for code in (ResultCode.INSTITUTION_SUSPENDED, ResultCode.INSTITUTION_CLOSED):
        assert f"| {int(code)} | 403 |" in text
