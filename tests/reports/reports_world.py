"""A published world for the hospitals' own report: two institutions of one county. MR01 has on-time days, a
late day, a missing day, a row held out of the indicators (sent through the real intake) and a burst of
rate-limited retries; the pipeline (ingest, dbt, gates, publish, feedback) then runs through Airflow."""

from __future__ import annotations

import json

import dataclasses
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import httpx

from vte import client, generator
from vte.config import Settings
from vte.registry import Credentials
from vte.review import locks

SEED = 1717
COUNTY = "330328"
INSTITUTIONS = (("MR01", "文成县第一人民医院"), ("MR02", "文成县第二人民医院"))
OWN = "MR01"
BURST = 25  # requests sent as fast as possible: most are refused with 42901
# A low rate so that the burst is refused; sign-in has its own bucket (per client address).
INTAKE_ENV = {"VTE_INTAKE_RATE": "1", "VTE_INTAKE_BURST": "3", "VTE_INTAKE_ACCOUNTS_REFRESH": "1"}


@dataclass
class ReportsWorld:
    settings: Settings
    credentials: dict[str, Credentials]
    start: date
    late_day: date
    missing_day: date
    quarantined_day: date
    quarantined: dict = field(default_factory=dict)  # hospital, dept, riskAssessment, highRiskAssessment
    rate_limited: int = 0
    intake_url: str = ""


def _first_of_month(day: date, months_back: int) -> date:
    month = day.year * 12 + day.month - 1 - months_back
    return date(month // 12, month % 12 + 1, 1)


def institutions(start: date) -> list[generator.SyntheticInstitution]:
    base = generator.synthetic_institutions(len(INSTITUTIONS), SEED, start)
    return [dataclasses.replace(inst, code=code, name=name, county_code=COUNTY, community=None, joined_on=start,
                                campuses=inst.campuses[:1], departments=inst.departments[:3])
            for inst, (code, name) in zip(base, INSTITUTIONS)]


def plan(settings: Settings) -> ReportsWorld:
    today = locks.local_today()
    return ReportsWorld(settings, {}, start=_first_of_month(today, 2), late_day=today - timedelta(days=10),
                        missing_day=today - timedelta(days=9), quarantined_day=today - timedelta(days=1))


def land_history(world: ReportsWorld, zone, registered) -> list[generator.GeneratedSubmission]:
    """Every day up to the day before yesterday, received the next morning; the late day four days after it, the
    missing day never. Yesterday is returned, to be sent through the intake."""
    yesterday = []
    for sub in generator.iter_submissions(registered, world.start, world.quarantined_day, SEED):
        day = date.fromisoformat(sub.date)
        if day == world.quarantined_day:
            yesterday.append(sub)
            continue
        if (sub.institution_code, day) == (OWN, world.missing_day):
            continue
        after = 4 if (sub.institution_code, day) == (OWN, world.late_day) else 1
        zone.land(institution_code=sub.institution_code, access_key=world.credentials[sub.institution_code].access_key,
                  channel="api", payload={"date": sub.date, "data": sub.data},
                  received_at=datetime.combine(day + timedelta(days=after), time(8), locks.LOCAL_TZ))
    return yesterday


def send_yesterday(world: ReportsWorld, yesterday: list) -> None:
    """Yesterday through the real intake; MR01's first row breaks highRiskAssessment ≤ riskAssessment."""
    for sub in yesterday:
        creds = world.credentials[sub.institution_code]
        rows = [dict(row) for row in sub.data]
        if sub.institution_code == OWN:
            row = rows[0]
            row["highRiskAssessment"] = row["riskAssessment"] + 20
            world.quarantined = {k: row[k] for k in ("hospital", "dept", "riskAssessment", "highRiskAssessment")}
        answer = client.submit(world.intake_url, creds.access_key, creds.access_secret,
                               {"date": sub.date, "data": rows})
        assert answer["code"] == 0, answer


def burst(world: ReportsWorld) -> None:
    """A vendor's system retrying in a tight loop without waiting (vte.client would honour Retry-After): each
    request signed anew, most refused for the rate."""
    creds = world.credentials[OWN]
    payload = {"date": world.quarantined_day.isoformat(), "data": []}
    codes = []
    with httpx.Client(timeout=30) as http:
        for _ in range(BURST):
            body = json.dumps(client.envelope(creds.access_key, creds.access_secret, payload)).encode()
            codes.append(http.post(client.endpoint(world.intake_url), content=body,
                                   headers={"Content-Type": "application/json"}).json()["code"])
    world.rate_limited = codes.count(42901)
    assert world.rate_limited >= BURST // 2, codes
