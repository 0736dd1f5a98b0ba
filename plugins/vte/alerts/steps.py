"""What the vte_alerts DAG's tasks and `vte alerts run` call: detect, then deliver, as vte_monitor."""

from __future__ import annotations

from datetime import datetime

from vte import warehouse
from vte.access import roles
from vte.alerts import deliver as delivery
from vte.alerts import detect as detection
from vte.config import Settings, get_settings


def detect(settings: Settings | None = None, now: datetime | None = None) -> detection.DetectionReport:
    with warehouse.connect(settings, role=roles.MONITOR, autocommit=True) as conn:
        return detection.run(conn, now)


def deliver(settings: Settings | None = None, now: datetime | None = None) -> delivery.DeliveryReport:
    settings = settings or get_settings()
    with warehouse.connect(settings, role=roles.MONITOR, autocommit=True) as conn:
        return delivery.run(conn, now, settings=settings)


def run_once(settings: Settings | None = None, now: datetime | None = None
             ) -> tuple[detection.DetectionReport, delivery.DeliveryReport]:
    """Detection, then delivery: what one run of vte_alerts does."""
    return detect(settings, now), deliver(settings, now)
