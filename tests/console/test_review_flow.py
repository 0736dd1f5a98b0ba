"""A month reviewed through the console in a real browser, from the county to the province, then locked.

The county reviewer sees only the county's institutions, finds the one that sent nothing on a day, and
accepts the month; the city reviewer and the province's administrator accept; the month is locked and the
real intake refuses its dates (42301); the administrator opens an exception on the page, which lets exactly
that institution correct exactly that month. console.audit_events and review.approval_events record each step.
"""

from __future__ import annotations

from datetime import date

from console_support import cut_off_the_network, sign_in, sign_out
from console_world import HANGZHOU, LUCHENG, PROVINCE, SEED, SHANGCHENG, WENCHENG, WENZHOU, institutions

from vte import client, generator
from vte.intake.responses import ResultCode
from vte.review import approval


def _rows(world, code: str, day: date) -> list[dict]:
    institution = next(i for i in institutions(world.earlier) if i.code == code)
    [sub] = generator.iter_submissions([institution], day, day, SEED + 1)
    return sub.data


def _submit(world, code: str, day: date) -> int:
    creds = world.credentials[code]
    return client.submit(world.intake_url, creds.access_key, creds.access_secret,
                         {"date": day.isoformat(), "data": _rows(world, code, day)})["code"]


def _statuses(page) -> dict[str, str]:
    rows = page.locator("#institutions tbody tr")
    return {rows.nth(i).get_attribute("data-institution"): rows.nth(i).get_attribute("data-status")
            for i in range(rows.count())}


def _units(page) -> dict[str, bool]:
    rows = page.locator("#units tbody tr")
    return {rows.nth(i).get_attribute("data-region"): rows.nth(i).get_attribute("data-accepted") == "true"
            for i in range(rows.count())}


def test_a_month_is_reviewed_locked_and_reopened_for_one_institution(world, page):
    console = world.console.url
    offline = cut_off_the_network(page, console)
    month = f"{world.month:%Y-%m}"
    [(audited_before,)] = world.query("select coalesce(max(event_id), 0) from console.audit_events")

    # --- the county reviewer: only the county's institutions; CS02 sent nothing on the missing day ---------
    sign_in(page, console, "wc_reviewer", world.passwords["wc_reviewer"])
    assert "文成县" in page.inner_text("#who")
    assert set(_statuses(page)) == {"CS01", "CS02"}  # yesterday, by default
    page.fill("#day", world.missing_day.isoformat())
    page.click("#show-day")
    assert _statuses(page) == {"CS01": "on_time", "CS02": "missing"}
    assert page.inner_text("#totals [data-status=missing] .count") == "1"
    page.fill("#day", world.late_day.isoformat())
    page.click("#show-day")
    assert _statuses(page) == {"CS01": "on_time", "CS02": "late"}
    page.fill("#month", month)
    page.click("#show-month")
    [cs02] = page.locator("#institutions tr[data-institution=CS02]").all()
    assert cs02.get_attribute("data-status") == "missing"
    cs02.locator("a").click()
    assert page.locator(f"#days li[data-date='{world.missing_day}']").get_attribute("data-status") == "missing"
    assert page.locator(f"#days li[data-date='{world.late_day}']").get_attribute("data-status") == "late"
    assert page.locator(f"#versions tr[data-date='{world.missing_day}']").count() == 0
    # another county, even of the same city, is not the county reviewer's
    response = page.goto(f"{console}/monitoring?region={LUCHENG}")
    assert response.status == 403
    assert page.goto(f"{console}/monitoring/institutions/CS03").status == 404

    page.goto(f"{console}/review?month={month}")
    assert _units(page) == {WENCHENG: False}
    page.click(f"#accept-{WENCHENG}")
    assert "已审核通过" in page.inner_text("#notice")
    assert _units(page) == {WENCHENG: True}
    page.click(f"#unaccept-{WENCHENG}")  # withdrawn while the city has not accepted, then accepted again
    assert "已撤销" in page.inner_text("#notice") and _units(page) == {WENCHENG: False}
    page.fill(f"tr[data-region='{WENCHENG}'] input[name=comment]", "数据已核对")
    page.click(f"#accept-{WENCHENG}")
    assert _units(page) == {WENCHENG: True}
    sign_out(page)

    # --- the other county of the city accepts with `vte review accept` ------------------------------------
    with world.admin() as conn:
        approval.accept(conn, LUCHENG, world.month, actor="cli:lc_reviewer")

    # --- the city reviewer: sees the city's units, may act only for the city ------------------------------
    sign_in(page, console, "wz_reviewer", world.passwords["wz_reviewer"])
    page.goto(f"{console}/review?month={month}")
    assert _units(page) == {WENZHOU: False, LUCHENG: True, WENCHENG: True}
    assert page.locator(f"#unaccept-{WENCHENG}, #accept-{WENCHENG}").count() == 0
    page.click(f"#accept-{WENZHOU}")
    assert _units(page)[WENZHOU]
    sign_out(page)

    # --- the province's administrator: Hangzhou, standing in, then the province, which locks the month ----
    sign_in(page, console, "province_admin", world.passwords["province_admin"])
    page.goto(f"{console}/review?month={month}")
    assert page.get_attribute("#lock-state", "data-locked") == "false"
    page.click(f"#accept-{PROVINCE}")
    assert HANGZHOU in page.inner_text("#error")  # the province waits for Hangzhou: vte.review's rule
    page.click(f"#accept-{SHANGCHENG}")
    page.click(f"#accept-{HANGZHOU}")
    page.click(f"#accept-{PROVINCE}")
    assert all(_units(page).values())
    assert page.get_attribute("#lock-state", "data-locked") == "true"
    assert "已锁定" in page.inner_text("#lock-state")
    assert page.locator("#units button").count() == 0

    # --- the locked month refuses its dates over the real intake ------------------------------------------
    assert _submit(world, "CS01", world.month.replace(day=15)) == ResultCode.MONTH_LOCKED
    assert _submit(world, "CS02", world.missing_day) == ResultCode.MONTH_LOCKED
    world.load_intake_log()
    page.goto(f"{console}/monitoring?day={world.missing_day}&region={WENCHENG}")
    assert _statuses(page)["CS02"] == "refused"
    page.goto(f"{console}/monitoring/institutions/CS02?month={month}")
    assert page.locator(f"#days li[data-date='{world.missing_day}']").get_attribute("data-status") == "refused"
    refusal = page.locator("#refusals tr[data-code='42301']")
    assert refusal.count() == 1 and "该月数据已审核锁定" in refusal.inner_text()

    # --- an exception for CS02 and this month, opened on the page -----------------------------------------
    page.goto(f"{console}/review?month={month}")
    page.select_option("#exception-institution", "CS02")
    page.fill("#exception-reason", "漏报补报 missed day")
    page.click("#open-exception")
    assert "已开放例外" in page.inner_text("#notice")
    assert page.locator("#exceptions tr[data-institution=CS02]").count() == 1

    assert _submit(world, "CS02", world.missing_day) == ResultCode.SUCCESS
    assert _submit(world, "CS01", world.month.replace(day=16)) == ResultCode.MONTH_LOCKED  # another institution
    assert _submit(world, "CS02", world.earlier.replace(day=16)) == ResultCode.MONTH_LOCKED  # another locked month
    assert offline.attempted == [] and offline.errors == []

    # --- the audit: each step, by whom, with its outcome --------------------------------------------------
    steps = world.query(
        "select username, action, subject, details ->> 'outcome' from console.audit_events"
        " where event_id > %s order by event_id", (audited_before,))
    assert steps == [
        ("wc_reviewer", "sign_in.success", "wc_reviewer", None),
        ("wc_reviewer", "access.forbidden", LUCHENG, None),
        ("wc_reviewer", "review.accept", f"{WENCHENG} {month}", "done"),
        ("wc_reviewer", "review.unaccept", f"{WENCHENG} {month}", "done"),
        ("wc_reviewer", "review.accept", f"{WENCHENG} {month}", "done"),
        ("wc_reviewer", "sign_out", "wc_reviewer", None),
        ("wz_reviewer", "sign_in.success", "wz_reviewer", None),
        ("wz_reviewer", "review.accept", f"{WENZHOU} {month}", "done"),
        ("wz_reviewer", "sign_out", "wz_reviewer", None),
        ("province_admin", "sign_in.success", "province_admin", None),
        ("province_admin", "review.accept", f"{PROVINCE} {month}", "refused"),
        ("province_admin", "review.accept", f"{SHANGCHENG} {month}", "done"),
        ("province_admin", "review.accept", f"{HANGZHOU} {month}", "done"),
        ("province_admin", "review.accept", f"{PROVINCE} {month}", "done"),
        ("province_admin", "lock.exception", f"CS02 {month}", "done"),
    ]
    decisions = world.query("select region_code, action, actor from review.approval_events where month = %s"
                            " order by event_id", (world.month,))
    assert decisions == [(WENCHENG, "accept", "console:wc_reviewer"), (WENCHENG, "unaccept", "console:wc_reviewer"),
                         (WENCHENG, "accept", "console:wc_reviewer"), (LUCHENG, "accept", "cli:lc_reviewer"),
                         (WENZHOU, "accept", "console:wz_reviewer"), (SHANGCHENG, "accept", "console:province_admin"),
                         (HANGZHOU, "accept", "console:province_admin"), (PROVINCE, "accept", "console:province_admin")]
    assert world.query("select comment from review.approval_events where month = %s and region_code = %s"
                       " order by event_id desc limit 1", (world.month, WENCHENG)) == [("数据已核对",)]
    assert world.query("select reason, actor from review.month_locks where month = %s", (world.month,)) == \
        [("province_accepted", "console:province_admin")]
    [(institution, reason, actor, hours)] = world.query(
        "select institution_code, reason, actor, extract(epoch from valid_until - opened_at) / 3600"
        " from review.lock_exceptions where month = %s", (world.month,))
    assert (institution, reason, actor) == ("CS02", "漏报补报 missed day", "console:province_admin")
    assert 71 < hours <= 72  # the page's default: three days
