"""`vte alerts`: recipients add / list / remove, run, list, ack, resolve; every refusal is one line."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from typer.testing import CliRunner

from vte.alerts import detect
from vte.cli.alerts import app

from alert_world import World

WEBHOOK_KEY = "9f6c1b2e-secret-robot-key"


@pytest.fixture
def vte_alerts(in_alerts_home):
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True):
        result = runner.invoke(app, list(args), catch_exceptions=False)
        assert (result.exit_code == 0) == ok, result.output + result.stderr
        return result
    return invoke


def error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_recipients_alerts_ack_and_resolve_through_the_cli(world: World, mailbox, receiver, vte_alerts):
    added = vte_alerts("recipients", "add", "--name", "温州市卫健委", "--email", "qc@wz.example.gov.cn",
                       "--region", "330300").output
    mail_id = int(added.split("\t")[0])
    robot = vte_alerts("recipients", "add", "--name", "省值班群", "--webhook", receiver.url(WEBHOOK_KEY),
                       "--region", "330000", "--min-level", "critical").output
    assert WEBHOOK_KEY not in robot and "key=***" in robot and "≥critical" in robot
    listed = vte_alerts("recipients", "list").output.splitlines()
    assert [line.split("\t")[1] for line in listed] == ["省值班群", "温州市卫健委"]
    assert WEBHOOK_KEY not in "".join(listed)
    assert world.query("select action, subject from ops.admin_audit where action like 'alerts.%%'"
                       " order by audit_id desc limit 2")[1] == ("alerts.recipient.add", str(mail_id))

    assert error_line(vte_alerts("recipients", "add", "--name", "x", "--email", "a@b.cn", "--webhook",
                                 receiver.url("k"), "--region", "330300", ok=False)) == \
        "error: give exactly one of --email ADDRESS and --webhook URL"
    assert "not a known GB/T 2260 code" in error_line(
        vte_alerts("recipients", "add", "--name", "x", "--email", "a@b.cn", "--region", "3303", ok=False))
    assert "plain http" in error_line(vte_alerts("recipients", "add", "--name", "x", "--webhook",
                                                 "http://robot.example.cn/send?key=1", "--region", "330300", ok=False))
    assert "--min-level 'urgent'" in error_line(vte_alerts(
        "recipients", "add", "--name", "x", "--email", "a@b.cn", "--region", "330300", "--min-level", "urgent",
        ok=False))

    # One institution of Wencheng, due since yesterday's deadline and silent: `vte alerts run` tells Wenzhou.
    world.register("H330328905", "330328", detect.last_due_date(datetime.now(timezone.utc)))
    run = vte_alerts("run").output
    assert "opened: missing_report 1" in run and "1 message(s) sent" in run
    assert [m["To"] for m in mailbox.messages] == ["qc@wz.example.gov.cn"] and receiver.posts == []

    [line] = vte_alerts("list", "--state", "open").output.splitlines()
    alert_id = int(line.split("\t")[0].lstrip("#"))
    assert "\topen\twarning\t330328 文成县\t" in line and "H330328905" in line
    assert vte_alerts("list", "--region", "330100").output.strip() == "no alerts in 330100"
    assert vte_alerts("list", "--region", "330300").output.splitlines() == [line]

    assert "\tacknowledged\t" in vte_alerts("ack", str(alert_id)).output
    assert error_line(vte_alerts("ack", str(alert_id), ok=False)) == \
        f"error: alert {alert_id} is acknowledged already: only an open alert can be acknowledged"
    assert "\tresolved\t" in vte_alerts("resolve", str(alert_id), "--note", "电话确认：系统故障").output
    assert world.query("select state, resolved_by like 'cli:%%', resolution from alerts.alerts"
                       " where alert_id = %s", (alert_id,)) == [("resolved", True, "电话确认：系统故障")]
    assert error_line(vte_alerts("resolve", "999999", ok=False)) == \
        "error: there is no alert 999999: `vte alerts list` shows their numbers"
    assert "is not one of open, acknowledged, resolved" in error_line(vte_alerts("list", "--state", "closed", ok=False))

    assert vte_alerts("recipients", "remove", str(mail_id)).output.strip() == f"removed {mail_id} 温州市卫健委"
    assert [line.split("\t")[1] for line in vte_alerts("recipients", "list").output.splitlines()] == ["省值班群"]
    assert "(removed)" in vte_alerts("recipients", "list", "--all").output
    assert "was removed already" in error_line(vte_alerts("recipients", "remove", str(mail_id), ok=False))
