"""A warehouse of the alert tests' own, a real SMTP server (aiosmtpd) and a real HTTP receiver for webhooks.

Each test starts from an empty registry, raw layer and alert tables (the bundled regions stay), builds a
small world of its own — institutions registered through vte.registry, submissions landed and loaded the way
the intake and vte_ingest do — and runs detection and delivery as vte_monitor at a chosen moment.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vte import warehouse
from vte.config import Settings
from vte.landing import LandingZone

from alert_world import Mailbox, Receiver, World


@pytest.fixture(scope="session")
def alerts_settings(vte_home, tmp_path_factory) -> Settings:
    settings = Settings(home=tmp_path_factory.mktemp("alerts"), warehouse_url=None)
    warehouse.start(settings)
    yield settings
    warehouse.stop(settings)


CLEAN = """
delete from alerts.deliveries;
delete from alerts.alerts;
delete from alerts.recipients;
delete from alerts.bridged;
delete from ops.alerts;
delete from ops.publications;
delete from raw.submission_rows;
delete from raw.submissions;
delete from raw.landing_loads;
delete from registry.accounts;
delete from registry.institutions;
drop schema if exists marts cascade;
drop schema if exists int cascade;
"""


@pytest.fixture
def world(alerts_settings, tmp_path) -> World:
    with warehouse.connect(alerts_settings, autocommit=True) as conn:
        with conn.transaction():
            # The status changes reference the institutions and are append-only: their trigger refuses any
            # delete, even the owner's. The superuser these tests connect as sets triggers aside for this
            # transaction alone.
            conn.execute("set local session_replication_role = replica")
            conn.execute("delete from registry.institution_status_changes")
        conn.execute(CLEAN)
    return World(alerts_settings, LandingZone(root=tmp_path / "landing"))


@pytest.fixture
def mailbox(monkeypatch) -> Mailbox:
    box = Mailbox()
    box.start()
    monkeypatch.setenv("VTE_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("VTE_SMTP_PORT", str(box.port))
    monkeypatch.setenv("VTE_SMTP_STARTTLS", "false")
    monkeypatch.setenv("VTE_SMTP_FROM", "vte-alerts@dc.example.gov.cn")
    for name in ("VTE_SMTP_USER", "VTE_SMTP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    yield box
    box.stop()


@pytest.fixture
def receiver() -> Receiver:
    robot = Receiver()
    robot.start()
    yield robot
    robot.stop()


@pytest.fixture
def in_alerts_home(alerts_settings, monkeypatch) -> Path:
    """The product's commands (CLI, Airflow callbacks) find the alert tests' warehouse."""
    monkeypatch.setenv("VTE_HOME", str(alerts_settings.home))
    return alerts_settings.home
