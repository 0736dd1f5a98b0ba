"""Who may do what with alerts: the monitor writes alerts and deliveries, the console acknowledges and
resolves, the administrators manage recipients; nobody else reads them."""

from __future__ import annotations

from datetime import date

import psycopg
import pytest

from vte.access import roles
from vte.alerts import detect, model, recipients

from alert_world import World, shanghai


@pytest.fixture
def one_alert(world: World) -> int:
    world.register("H330328906", "330328", date(2026, 3, 1))
    with world.connect(roles.MONITOR) as conn:
        detect.run(conn, shanghai(date(2026, 3, 3)))
    [(alert_id,)] = world.query("select alert_id from alerts.alerts")
    return alert_id


def refused(world: World, role: str, statement: str, params=()) -> bool:
    with world.connect(role) as conn:
        try:
            conn.execute(statement, params)
        except psycopg.errors.InsufficientPrivilege:
            return True
    return False


def test_each_role_does_its_part_only(world: World, one_alert: int):
    with world.connect(roles.ADMIN) as conn:
        robot = recipients.add(conn, name="robot", webhook="https://oapi.dingtalk.com/robot/send?access_token=abc123",
                               region_code="330000", settings=world.settings)
    assert robot.address == "https://oapi.dingtalk.com/robot/send?access_token=***"

    # The console reads and acknowledges, and may not rewrite what the monitor found, or see a webhook's secret.
    with world.connect(roles.CONSOLE) as conn:
        assert model.acknowledge(conn, one_alert, "console:zj_qc").state == "acknowledged"
        assert [a.alert_id for a in model.list_alerts(conn, region="330300")] == [one_alert]
    assert refused(world, roles.CONSOLE, "update alerts.alerts set message = 'x' where alert_id = %s", (one_alert,))
    assert refused(world, roles.CONSOLE, "select secret_ciphertext from alerts.recipients")
    assert refused(world, roles.CONSOLE, "insert into alerts.recipients (name, channel, address, region_code,"
                                         " created_by) values ('x', 'email', 'a@b.cn', '330000', 'x')")
    # The monitor reads recipients to deliver, and may not change them; it reads raw receipt times only.
    assert refused(world, roles.MONITOR, "update alerts.recipients set active = false")
    assert refused(world, roles.MONITOR, "select document_path from raw.submissions")
    assert refused(world, roles.MONITOR, "delete from alerts.deliveries")
    # Components with no part in alerts see nothing of them.
    for role in (roles.INTAKE, roles.LOADER, roles.EXTRACTS):
        assert refused(world, role, "select count(*) from alerts.alerts"), role
    # The administrators resolve.
    with world.connect(roles.ADMIN) as conn:
        assert model.resolve(conn, one_alert, "cli:ops", "known outage").state == "resolved"
