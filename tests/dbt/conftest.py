"""A small province, landed, loaded and built once per session: the dbt tests share it.

Four institutions in two cities (two of them in one county medical community), reporting in March 2024,
February-April 2025; it includes a superseded version that drops a department, a quarantined row, a
warning row, a late submission, an institution without surgery (zero denominators) and a missing day.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest

from vte import domain, registry
from vte.dbt import run_dbt
from vte.ingest import load_landing_zone
from vte.landing import LandingZone

SHANGHAI = ZoneInfo("Asia/Shanghai")
AS_OF = date(2025, 4, 3)
COMMUNITY = "文成县医共体"
INSTITUTIONS = (
    # code, name, level, county, community, campuses, departments
    ("DBTWC01", "文成县人民医院", "二级", "330328", COMMUNITY, ("本院",), ("ICU", "GKW", "NK")),
    ("DBTWC02", "文成县中医院", "二级", "330328", COMMUNITY, ("本院",), ("GK", "NK")),
    ("DBTLC01", "温州市鹿城区人民医院", "三级", "330302", None, ("院本部", "分院"), ("WK", "NK")),
    ("DBTHZ01", "杭州市上城区医院", "三级", "330102", None, ("本院",), ("NK",)),
)
DAYS = [date(2024, 3, 1) + timedelta(days=i) for i in range(5)] + \
    [date(2025, 2, 26) + timedelta(days=i) for i in range(6)] + \
    [date(2025, 4, 1), date(2025, 4, 2)]
MISSING_DAY = ("DBTHZ01", date(2025, 3, 2))
LATE_DAY = ("DBTWC02", date(2025, 2, 27))


def valid_row(rng: random.Random, hospital: str, dept: str, surgery: bool = True, unassessed: int = 6) -> dict:
    """A department row that breaks no consistency rule (up to ``unassessed`` patients without assessment)."""
    def upto(n: int) -> int:
        return rng.randint(0, max(n, 0))

    d = {"dischargeHospital": rng.randint(20, 80)}
    d["distinctDischargeHospital"] = d["dischargeHospital"] - upto(3)
    d["dischargeHospitalNodaily"] = d["dischargeHospital"] - upto(5)
    d["riskAssessment"] = max(d["dischargeHospitalNodaily"] - upto(unassessed), 0)
    d["initRiskAssessment"] = upto(d["riskAssessment"])
    d["riskAssessmentInDaily"] = max(d["riskAssessment"] - upto(8), 0)
    d["highRiskAssessment"] = upto(d["riskAssessment"])
    d["highRiskAssessmentInDaily"] = upto(min(d["riskAssessmentInDaily"], d["highRiskAssessment"]))
    d["repeatRiskAssessment"] = upto(d["riskAssessment"])
    d["hemorrhageRiskAssessment"] = upto(d["highRiskAssessment"])
    d["highHemorrhageRiskAssessment"] = upto(d["hemorrhageRiskAssessment"])
    d["highRiskLowHemorrhage"] = upto(d["highRiskAssessment"])
    d["precaution"] = upto(d["highRiskAssessment"])
    d["precautionNoBase"] = upto(d["precaution"])
    d["medicine"] = upto(d["highRiskLowHemorrhage"])
    d["mechanical"] = upto(d["highRiskAssessment"])
    d["basePreventNodaily"] = upto(d["dischargeHospitalNodaily"])
    d["zgwBasePreventNodaily"] = upto(d["highRiskAssessment"])
    d["highVte"] = upto(d["highRiskAssessment"])
    d["highVteCheck"] = upto(d["highVte"])
    d["chuyuanVte"] = upto(3)
    d["hospitalVte"] = upto(d["chuyuanVte"])
    d["newDvt"] = upto(d["hospitalVte"])
    d["newPe"] = upto(d["hospitalVte"])
    d["newDvtAndPe"] = upto(d["hospitalVte"])
    d["vteDie"] = upto(min(d["chuyuanVte"], 1))
    d["peDie"] = upto(d["vteDie"])
    d["surgery"] = rng.randint(0, 15) if surgery else 0
    d["surgeryDvt"] = upto(min(d["newDvt"], d["surgery"]))
    d["surgeryPe"] = upto(min(d["newPe"], d["surgery"]))
    d["surgeryDvtAndPe"] = upto(min(d["newDvtAndPe"], d["surgery"]))
    assert not domain.broken_rules(d), domain.broken_rules(d)
    return {"hospital": hospital, "dept": dept, **{name: d[name] for name in domain.count_field_names()}}


def on_time(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(1, 30), SHANGHAI)


@dataclass
class Province:
    zone: LandingZone
    keys: dict[str, str]  # institution code → access key
    rng: random.Random
    first_build_seconds: float = 0.0
    built_at: datetime | None = None  # raw and registry as of this moment are what the marts were built from

    def build(self, conn: psycopg.Connection) -> float:
        """dbt build on the session warehouse; returns its wall time in seconds."""
        self.built_at = conn.execute("select clock_timestamp()").fetchone()[0]
        started = datetime.now()
        run_dbt(["build"], vars={"as_of_date": AS_OF.isoformat()})
        return (datetime.now() - started).total_seconds()

    def land(self, code: str, day: date, rows: list[dict], received_at: datetime | None = None):
        return self.zone.land(institution_code=code, access_key=self.keys[code], channel="api",
                              payload={"date": day.isoformat(), "data": rows},
                              received_at=received_at or on_time(day))

    def day_rows(self, code: str, day: date) -> list[dict]:
        _, _, _, _, _, campuses, departments = next(i for i in INSTITUTIONS if i[0] == code)
        # DBTHZ01 has no surgery (zero denominators) and assesses too few patients (B.1.1 below target).
        hz = code == "DBTHZ01"
        return [valid_row(self.rng, campus, dept, surgery=not hz, unassessed=30 if hz else 6)
                for campus in campuses for dept in departments]


@pytest.fixture(scope="session")
def province(warehouse_url, settings) -> Province:
    """The province landed, loaded and built (in a landing zone of its own, apart from other tests' documents)."""
    zone = LandingZone(root=settings.home / "landing-dbt")
    rng = random.Random(20250403)
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        keys = {
            code: registry.register(conn, code=code, name=name, level=level, county_code=county,
                                    community=community, joined_on=date(2024, 3, 1)).access_key
            for code, name, level, county, community, _, _ in INSTITUTIONS
        }
    p = Province(zone, keys, rng)
    for code, *_ in INSTITUTIONS:
        for day in DAYS:
            if (code, day) == MISSING_DAY:
                continue
            received = datetime.combine(day + timedelta(days=2), time(0, 5), SHANGHAI) \
                if (code, day) == LATE_DAY else None
            p.land(code, day, p.day_rows(code, day), received)
    # Superseded: version 2 changes ICU and drops NK, version 1 stays in raw only.
    rows = p.day_rows("DBTWC01", date(2025, 3, 1))
    p.land("DBTWC01", date(2025, 3, 1), [r for r in rows if r["dept"] != "NK"])
    # Quarantined: more patients given prophylaxis than at moderate/high risk (Q.B.2.1).
    rows = p.day_rows("DBTLC01", date(2025, 3, 3))
    rows[0]["precaution"] = rows[0]["highRiskAssessment"] + 5
    rows[0]["precautionNoBase"] = 0
    p.land("DBTLC01", date(2025, 3, 3), rows)
    # Warning: more distinct patients than discharge episodes (W.01), still published.
    rows = p.day_rows("DBTWC02", date(2025, 3, 2))
    rows[1]["distinctDischargeHospital"] = rows[1]["dischargeHospital"] + 2
    p.land("DBTWC02", date(2025, 3, 2), rows)
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        report = load_landing_zone(conn, zone)
        assert report.corrupt == 0 and report.loaded >= len(INSTITUTIONS) * len(DAYS)
        p.first_build_seconds = p.build(conn)
    return p
