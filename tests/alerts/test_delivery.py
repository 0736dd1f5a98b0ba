"""A missing report reaches the people of its region once, by e-mail and webhook; a receiver that is down
fails nobody's run and gets the alert when it is back."""

from __future__ import annotations

from datetime import date, timedelta

from vte.access import roles
from vte.alerts import detect, model, recipients

from alert_world import World, days, shanghai

WENCHENG, WENZHOU, SHANGCHENG, HANGZHOU = "330328", "330300", "330102", "330100"
JOINED = date(2026, 3, 1)
MISSING = date(2026, 3, 5)
# 03-05 is due before 03-07 00:00; the loader's grace has passed at 01:00.
AFTER_DEADLINE = shanghai(date(2026, 3, 7), 1, 0)


def add_recipients(world: World, receiver) -> dict[str, int]:
    with world.connect(roles.ADMIN) as conn:
        made = {
            "wenzhou_mail": recipients.add(conn, name="温州市卫健委 质控科", email="qc@wz.example.gov.cn",
                                           region_code=WENZHOU, settings=world.settings),
            "wencheng_robot": recipients.add(conn, name="文成县 群机器人", webhook=receiver.url("wencheng-key-0001"),
                                             region_code=WENCHENG, settings=world.settings),
            "hangzhou_mail": recipients.add(conn, name="杭州市卫健委", email="qc@hz.example.gov.cn",
                                            region_code=HANGZHOU, settings=world.settings),
            "hangzhou_robot": recipients.add(conn, name="杭州 群机器人", webhook=receiver.url("hangzhou-key-0001"),
                                             region_code=HANGZHOU, settings=world.settings),
        }
    return {name: r.recipient_id for name, r in made.items()}


def two_hospitals_one_missing_day(world: World) -> None:
    world.register("H330328901", WENCHENG, JOINED, name="文成县测试医院")
    world.register("H330102901", SHANGCHENG, JOINED, name="上城区测试医院")
    world.report("H330328901", [d for d in days(JOINED, MISSING) if d != MISSING])
    world.report("H330102901", days(JOINED, MISSING))


def test_a_missing_report_reaches_its_regions_recipients_once(world, mailbox, receiver):
    two_hospitals_one_missing_day(world)
    add_recipients(world, receiver)

    detected, delivered = world.run(AFTER_DEADLINE)

    assert world.alerts() == [("missing_report:H330328901:2026-03-05", "warning", WENCHENG, "open")]
    assert detected.opened == {"missing_report": 1}
    assert (delivered.messages_sent, delivered.messages_failed) == (2, 0)
    [mail] = mailbox.messages
    assert mail["To"] == "qc@wz.example.gov.cn" and mail["X-Envelope-To"] == "qc@wz.example.gov.cn"
    assert mail["From"] == "vte-alerts@dc.example.gov.cn"
    assert "温州市" in mail["Subject"] and "1 new alert" in mail["Subject"]
    body = mail.get_content()
    assert "文成县测试医院(H330328901) 2026-03-05 的日报未在截止时间" in body
    assert "no report for 2026-03-05 by its deadline, 2026-03-07 00:00" in body
    [post] = receiver.posts
    assert post[0].endswith("key=wencheng-key-0001")
    assert set(post[1]) == {"msgtype", "text"} and post[1]["msgtype"] == "text"
    assert "H330328901" in post[1]["text"]["content"] and "2026-03-05" in post[1]["text"]["content"]
    assert mailbox.to("qc@hz.example.gov.cn") == [] and receiver.to("hangzhou-key-0001") == []

    # Detected again the same day: the alert is seen again, nobody is told twice.
    detected, delivered = world.run(AFTER_DEADLINE + timedelta(hours=1))
    assert detected.opened == {} and detected.bumped == {"missing_report": 1}
    assert delivered.messages_sent == 0 and len(mailbox.messages) == 1 and len(receiver.posts) == 1
    [(first_seen, last_seen)] = world.query("select first_seen, last_seen from alerts.alerts")
    assert last_seen - first_seen == timedelta(hours=1)

    # The report arrives (late): the missing report is resolved, the late one is news for those who ask for info.
    world.report("H330328901", MISSING, received_at=AFTER_DEADLINE + timedelta(hours=2))
    detected, delivered = world.run(AFTER_DEADLINE + timedelta(hours=3))
    assert detected.resolved == {"missing_report": 1}
    assert world.alerts() == [("late_report:H330328901:2026-03-05", "info", WENCHENG, "open"),
                              ("missing_report:H330328901:2026-03-05", "warning", WENCHENG, "resolved")]
    [(resolution,)] = world.query("select resolution from alerts.alerts where kind = 'missing_report'")
    assert "the report arrived" in resolution
    assert delivered.messages_sent == 0  # every recipient asked for warnings and above

    # The next day, both report on time: nothing else is due, one e-mail and one webhook in all.
    world.report("H330328901", MISSING + timedelta(days=1))
    world.report("H330102901", MISSING + timedelta(days=1))
    world.run(AFTER_DEADLINE + timedelta(days=1, hours=3))
    assert len(mailbox.messages) == 1 and len(receiver.posts) == 1


def test_a_receiver_that_is_down_fails_no_run_and_gets_the_alert_when_it_is_back(world, mailbox, receiver):
    two_hospitals_one_missing_day(world)
    ids = add_recipients(world, receiver)
    mailbox.stop()
    receiver.stop()

    _, delivered = world.run(AFTER_DEADLINE)

    assert (delivered.messages_sent, delivered.messages_failed) == (0, 2)
    failures = dict(world.query("select recipient_id, error from alerts.deliveries where not ok"))
    assert set(failures) == {ids["wenzhou_mail"], ids["wencheng_robot"]}
    assert failures[ids["wenzhou_mail"]].startswith(f"SMTP 127.0.0.1:{mailbox.port}: ")
    assert "refused" in failures[ids["wenzhou_mail"]].lower()
    assert failures[ids["wencheng_robot"]].startswith("webhook http://127.0.0.1:")
    assert "wencheng-key-0001" not in failures[ids["wencheng_robot"]]  # the robot's key never shows
    assert "key=***" in failures[ids["wencheng_robot"]]

    # The robot is back but answers like WeCom with an error: still a failure, still retried.
    receiver.answer = {"errcode": 93000, "errmsg": "invalid webhook url"}
    receiver.start()
    _, delivered = world.run(AFTER_DEADLINE + timedelta(hours=1))
    assert delivered.messages_failed == 2 and "errcode 93000" in " ".join(delivered.errors)

    receiver.answer = {"errcode": 0, "errmsg": "ok"}
    mailbox.start()
    _, delivered = world.run(AFTER_DEADLINE + timedelta(hours=2))
    assert (delivered.messages_sent, delivered.messages_failed) == (2, 0)
    assert len(mailbox.messages) == 1 and len(receiver.to("wencheng-key-0001")) == 2  # the refused one, then this

    _, delivered = world.run(AFTER_DEADLINE + timedelta(hours=3))
    assert delivered.messages_sent == delivered.messages_failed == 0
    assert world.query("select recipient_id, ok, count(*) from alerts.deliveries group by 1, 2 order by 1, 2") == [
        (ids["wenzhou_mail"], False, 2), (ids["wenzhou_mail"], True, 1),
        (ids["wencheng_robot"], False, 2), (ids["wencheng_robot"], True, 1)]


def test_an_acknowledged_alert_is_not_sent_and_a_removed_recipient_hears_nothing(world, mailbox, receiver):
    two_hospitals_one_missing_day(world)
    ids = add_recipients(world, receiver)
    with world.connect(roles.ADMIN) as conn:
        recipients.remove(conn, ids["wencheng_robot"])
    world.run(AFTER_DEADLINE - timedelta(hours=1, minutes=1))  # before the deadline and its grace: nothing yet
    assert world.alerts() == []
    with world.connect(roles.MONITOR) as conn:
        detect.run(conn, AFTER_DEADLINE)
    [(alert_id,)] = world.query("select alert_id from alerts.alerts")
    with world.connect(roles.CONSOLE) as conn:
        model.acknowledge(conn, alert_id, "console:wz_qc")
    _, delivered = world.run(AFTER_DEADLINE + timedelta(minutes=5))
    assert delivered.messages_sent == 0 and mailbox.messages == [] and receiver.posts == []


def test_a_back_fill_of_old_days_is_not_a_flood_of_late_reports(world):
    """An institution that sends a month of history at once: only the recent due dates can be late news."""
    world.register("H330328950", WENCHENG, date(2026, 1, 1))
    now = AFTER_DEADLINE + timedelta(hours=1)
    world.report("H330328950", days(date(2026, 1, 1), date(2026, 3, 5)), received_at=now - timedelta(minutes=50))
    world.run(now)
    late = {subject.rsplit(":", 1)[1] for subject, *_ in world.alerts("late_report")}
    first_recent = detect.last_due_date(now) - timedelta(days=detect.LOOKBACK_DAYS - 1)
    assert late == {d.isoformat() for d in days(first_recent, date(2026, 3, 5))}
