"""An institution that stops reporting: its county hears of each missing day; after three days in a row its
city is told, after seven the province (critical); when it reports again the streak's alert resolves."""

from __future__ import annotations

from datetime import date

from vte import lifecycle
from vte.access import roles
from vte.alerts import detect, model, recipients

from alert_world import World, days, shanghai

WENCHENG, WENZHOU, ZHEJIANG = "330328", "330300", "330000"
JOINED, LAST_REPORTED = date(2026, 3, 1), date(2026, 3, 2)
CODE = "H330328902"


def run_on(world: World, day: date):
    """The run at 01:00 on ``day``: report dates up to ``day`` - 2 are due."""
    return world.run(shanghai(day, 1, 0))


def streak_alerts(world: World) -> list[tuple]:
    return world.alerts(kind="consecutive_missing")


def test_three_days_missing_move_the_alert_to_the_city_and_seven_to_the_province(world, mailbox):
    assert (detect.ESCALATE_TO_CITY_DAYS, detect.ESCALATE_TO_PROVINCE_DAYS) == (3, 7)
    world.register(CODE, WENCHENG, JOINED, name="文成县停报医院")
    world.report(CODE, days(JOINED, LAST_REPORTED))
    with world.connect(roles.ADMIN) as conn:
        county = recipients.add(conn, name="文成县卫健局", email="qc@wencheng.example.gov.cn", region_code=WENCHENG,
                                settings=world.settings)
        city = recipients.add(conn, name="温州市卫健委", email="qc@wz.example.gov.cn", region_code=WENZHOU,
                              min_level="warning", settings=world.settings)
        province = recipients.add(conn, name="省卫健委 值班", email="duty@zj.example.gov.cn", region_code=ZHEJIANG,
                                  min_level="critical", settings=world.settings)

    run_on(world, date(2026, 3, 6))  # 03-03 and 03-04 missing: two days
    assert streak_alerts(world) == []
    [first] = mailbox.to(county.address)
    assert "2 new alert(s)" in first["Subject"] and "2026-03-03" in first.get_content()
    assert [m["To"] for m in mailbox.messages] == [county.address, city.address]  # the city sees its counties

    run_on(world, date(2026, 3, 7))  # 03-03 … 03-05: three days, the city is told
    assert streak_alerts(world) == [(f"consecutive_missing:{CODE}:2026-03-03", "warning", WENZHOU, "open")]
    [to_city] = [m for m in mailbox.to(city.address) if "连续" in m.get_content()]
    assert "has not reported for 3 days in a row (since 2026-03-03)" in to_city.get_content()
    newest_to_county = mailbox.to(county.address)[-1].get_content()
    assert "连续" not in newest_to_county  # the streak is the city's now
    assert "2026-03-05" in newest_to_county and "2026-03-03" not in newest_to_county  # only what is new to it
    assert mailbox.to(province.address) == []

    for day in days(date(2026, 3, 8), date(2026, 3, 10)):  # four, five, six days: the same alert, seen again
        run_on(world, day)
    [(alert_id, first_seen)] = world.query("select alert_id, first_seen from alerts.alerts"
                                           " where kind = 'consecutive_missing'")
    assert len([m for m in mailbox.to(city.address) if "连续" in m.get_content()]) == 1

    run_on(world, date(2026, 3, 11))  # 03-03 … 03-09: seven days, the province is told, critical
    assert streak_alerts(world) == [(f"consecutive_missing:{CODE}:2026-03-03", "critical", ZHEJIANG, "open")]
    assert world.query("select alert_id, first_seen from alerts.alerts where kind = 'consecutive_missing'") == \
        [(alert_id, first_seen)]
    [to_province] = mailbox.to(province.address)
    assert "has not reported for 7 days in a row" in to_province.get_content() and "严重" in to_province["Subject"]
    assert len([m for m in mailbox.to(city.address) if "连续" in m.get_content()]) == 1

    # It reports again: the streak is over, its alert resolves; the days still missing stay open.
    world.report(CODE, date(2026, 3, 10))
    detected, _ = run_on(world, date(2026, 3, 12))
    assert detected.resolved["consecutive_missing"] == 1
    assert streak_alerts(world) == [(f"consecutive_missing:{CODE}:2026-03-03", "critical", ZHEJIANG, "resolved")]
    assert ("missing_report:H330328902:2026-03-09", "warning", WENCHENG, "open") in world.alerts("missing_report")


def test_a_suspension_ends_the_streak_of_missing_days(world, mailbox):
    world.register(CODE, WENCHENG, JOINED)
    world.report(CODE, days(JOINED, LAST_REPORTED))
    with world.connect() as conn:  # as `vte institutions suspend` records it (the next test's cleanup removes it)
        lifecycle.suspend(conn, CODE, date(2026, 3, 5), "停业整顿", today=date(2026, 3, 5))
    run_on(world, date(2026, 3, 11))
    assert streak_alerts(world) == []  # 03-03 and 03-04 missing, then nothing expected
    assert [a[0] for a in world.alerts("missing_report")] == [
        f"missing_report:{CODE}:2026-03-03", f"missing_report:{CODE}:2026-03-04"]


def test_an_acknowledged_streak_opens_again_when_it_escalates(world, mailbox):
    world.register(CODE, WENCHENG, JOINED)
    world.report(CODE, days(JOINED, LAST_REPORTED))
    run_on(world, date(2026, 3, 7))
    [(alert_id,)] = world.query("select alert_id from alerts.alerts where kind = 'consecutive_missing'")
    with world.connect(roles.CONSOLE) as conn:
        model.acknowledge(conn, alert_id, "console:wz_qc")
    run_on(world, date(2026, 3, 8))
    assert world.query("select state from alerts.alerts where alert_id = %s", (alert_id,)) == [("acknowledged",)]
    run_on(world, date(2026, 3, 11))
    assert world.query("select state, level, region_code, acknowledged_by from alerts.alerts where alert_id = %s",
                       (alert_id,)) == [("open", "critical", ZHEJIANG, None)]
