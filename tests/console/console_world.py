"""The console tests' province: four institutions in three counties of two cities, their reports landed for
two months (one missing day, one late day), users of every role, two alerts; built in a warehouse of its own."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import psycopg
from console_support import Console

from vte import generator, ingest, warehouse
from vte.access import roles
from vte.alerts import model as alerts_model
from vte.config import Settings
from vte.console import users
from vte.intake import audit as intake_audit
from vte.landing import LandingZone
from vte.review import locks

SEED = 1414
PROVINCE, WENZHOU, WENCHENG, LUCHENG, HANGZHOU, SHANGCHENG = "330000", "330300", "330328", "330302", "330100", "330102"
INSTITUTIONS = (  # code, name, county
    ("CS01", "文成县人民医院", WENCHENG),
    ("CS02", "文成县中医院", WENCHENG),
    ("CS03", "温州市鹿城区人民医院", LUCHENG),
    ("CS04", "杭州市上城区人民医院", SHANGCHENG),
)
USERS = (  # username, role, region
    ("wc_reviewer", "county_reviewer", WENCHENG),
    ("wz_reviewer", "city_reviewer", WENZHOU),
    ("province_admin", "admin", PROVINCE),
    ("hz_viewer", "viewer", HANGZHOU),
    ("locked_viewer", "viewer", WENZHOU),
)
INTAKE_ENV = {"VTE_INTAKE_RATE": "1000", "VTE_INTAKE_BURST": "1000", "VTE_INTAKE_ACCOUNTS_REFRESH": "1"}


def previous_month(day: date) -> date:
    return (day.replace(day=1) - timedelta(days=1)).replace(day=1)


def month_end(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


@dataclass
class World:
    settings: Settings
    month: date          # the month under review: the last complete one
    earlier: date        # the month before, locked by its final extract
    missing_day: date    # CS02 sent nothing for it
    late_day: date       # CS02's report for it came four days late
    credentials: dict    # institution code -> registry.Credentials
    passwords: dict      # username -> password
    alerts: dict         # institution code -> alert id
    intake_url: str
    console: Console

    def query(self, sql: str, params=()) -> list[tuple]:
        with psycopg.connect(warehouse.url(self.settings), autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()

    def admin(self) -> psycopg.Connection:
        """A connection as vte_admin, as `vte review` and `vte users` use."""
        return warehouse.connect(self.settings, role=roles.ADMIN, autocommit=True)

    def load_intake_log(self) -> None:
        """What vte_ingest does every five minutes: the intake's request log into ops.intake_requests."""
        with warehouse.connect(self.settings, role=roles.LOADER, autocommit=True) as conn:
            intake_audit.load_into_warehouse(conn, self.settings)


def institutions(start: date) -> list[generator.SyntheticInstitution]:
    base = generator.synthetic_institutions(len(INSTITUTIONS), SEED, start)
    return [dataclasses.replace(inst, code=code, name=name, county_code=county, community=None, joined_on=start,
                                campuses=inst.campuses[:1], departments=inst.departments[:3])
            for inst, (code, name, county) in zip(base, INSTITUTIONS)]


def _received_at(day: date, days_after: int) -> datetime:
    return datetime.combine(day + timedelta(days=days_after), time(8), locks.LOCAL_TZ)


def build(settings: Settings) -> tuple:
    """Register, land, load, create the users and alerts; returns what the World needs besides its servers."""
    month = previous_month(locks.local_today())
    earlier = previous_month(month)
    missing_day, late_day = month.replace(day=10), month.replace(day=9)
    registered = institutions(earlier)
    with psycopg.connect(warehouse.start(settings), autocommit=True) as conn:
        credentials = generator.register_institutions(conn, registered, settings)
    zone = LandingZone(settings=settings)
    for sub in generator.iter_submissions(registered, earlier, month_end(month), SEED):
        day = date.fromisoformat(sub.date)
        if (sub.institution_code, day) == ("CS02", missing_day):
            continue
        late = (sub.institution_code, day) == ("CS02", late_day)
        zone.land(institution_code=sub.institution_code, access_key=credentials[sub.institution_code].access_key,
                  channel="api", payload={"date": sub.date, "data": sub.data},
                  received_at=_received_at(day, 4 if late else 1))
    with warehouse.connect(settings, role=roles.LOADER, autocommit=True) as conn:
        ingest.load_landing_zone(conn, zone)
    passwords = {}
    with warehouse.connect(settings, role=roles.ADMIN, autocommit=True) as conn:
        for username, role, region in USERS:
            _, passwords[username] = users.create(conn, username=username, role=role, region_code=region,
                                                  display_name=f"测试 {username}", actor="test")
        # The month before was closed by its final extract (vte.extracts locks it so).
        locks.lock_month(conn, earlier, "final_extract", "test")
    with warehouse.connect(settings, role=roles.MONITOR, autocommit=True) as conn:
        now = datetime.now(locks.LOCAL_TZ)
        alerts = {code: alerts_model.raise_alert(conn, alerts_model.Finding(
            kind="missing_report", level="warning", region_code=county, institution_code=code,
            subject=f"missing_report:{code}:{missing_day}",
            message=f"{code} 未上报 {missing_day} / {code} sent no report for {missing_day}"), now)[0]
            for code, county in (("CS02", WENCHENG), ("CS04", SHANGCHENG))}
    return month, earlier, missing_day, late_day, credentials, passwords, alerts
