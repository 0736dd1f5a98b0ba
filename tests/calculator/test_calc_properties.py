"""Random but realistic patient days: the output is always a submission the intake accepts, breaking no rule."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

from calc_support import TODAY, csv_text
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from vte import domain, submission
from vte.calculator import calculate_text

CAMPUSES = ("总院", "东院区")
DEPARTMENTS = ("0301", "0403", "0701", "2800")
LEVELS = ("low", "mid", "high")
MINUTE = timedelta(minutes=1)


def _stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M")


def _subset(rng: random.Random, choices: tuple[str, ...]) -> str:
    return ";".join(rng.choice(choices) for _ in range(rng.choice((0, 0, 1, 1, 2, 3))))


def _flag(rng: random.Random, share: float) -> str:
    return "Y" if rng.random() < share else "N"


def episode(rng: random.Random, day: date, patient_id: str, after: datetime | None = None) -> dict[str, str]:
    """One discharged episode of ``day``; with ``after``, admitted no earlier (the same patient's next stay)."""
    if after is None:
        discharged = datetime.combine(day, time()) + rng.randrange(1440) * MINUTE
        short = rng.random() < 0.15
        admitted = discharged - (rng.randint(30, 1440) if short else rng.randint(1441, 40 * 1440)) * MINUTE
    else:
        admitted = after + rng.randint(0, 120) * MINUTE
        discharged = admitted + rng.randint(1, 600) * MINUTE
    stay_minutes = int((discharged - admitted) / MINUTE)
    offsets = rng.sample(range(stay_minutes + 1), min(stay_minutes + 1, rng.choice((0, 1, 1, 2, 2, 3, 5))))
    on_admission, new_dvt, new_pte = (_flag(rng, 0.08) for _ in range(3))
    diagnosis = "Y" if "Y" in (on_admission, new_dvt, new_pte) else _flag(rng, 0.05)
    return {
        "hospital": rng.choice(CAMPUSES), "dept": rng.choice(DEPARTMENTS), "patient_id": patient_id,
        "age": str(rng.choice((rng.randint(0, 12), rng.randint(13, 100), 12, 13))),
        "admitted_at": _stamp(admitted), "discharged_at": _stamp(discharged), "vte_on_admission": on_admission,
        "vte_assessments": ";".join(f"{_stamp(admitted + k * MINUTE)}={rng.choice(LEVELS)}" for k in offsets),
        "bleeding_assessments": ";".join(rng.choice(("low", "high")) for _ in range(rng.choice((0, 1, 1, 2)))),
        "prophylaxis": _subset(rng, ("basic", "mechanical", "drug")), "vte_tests": _subset(rng, ("CTPA", "US", "VQ")),
        "surgery": _flag(rng, 0.4), "vte_diagnosis": diagnosis, "new_dvt": new_dvt, "new_pte": new_pte,
        "principal_pte": _flag(rng, 0.3) if diagnosis == "Y" else "N", "died": _flag(rng, 0.1),
    }


@st.composite
def patient_day(draw) -> tuple[date, list[dict[str, str]]]:
    """A day's discharges of a small hospital: Hypothesis picks the day, the size and the seed of the details."""
    day = draw(st.dates(date(2020, 2, 1), TODAY - timedelta(days=1)))
    rng = random.Random(draw(st.integers(0, 2**32)))
    rows = []
    for n in range(draw(st.integers(1, 80))):
        row = episode(rng, day, f"h{n:04x}")
        rows.append(row)
        discharged = datetime.fromisoformat(row["discharged_at"])
        if discharged.hour < 10 and rng.random() < 0.1:  # back and discharged again the same day
            rows.append(episode(rng, day, row["patient_id"], after=discharged))
    rng.shuffle(rows)
    return day, rows


@hypothesis_settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(patient_day())
def test_a_realistic_day_gives_an_acceptable_submission_breaking_no_rule(case):
    day, rows = case
    result = calculate_text(csv_text(rows), today=TODAY)
    payload = result.payload()
    assert payload["date"] == day.isoformat()
    assert submission.validate_payload(payload, today=TODAY) == []
    for row in payload["data"]:
        assert domain.broken_rules(row) == [], row
    assert submission.rule_warnings(payload["data"]) == []
    # every episode lands in exactly one row; exclusions only ever remove episodes
    assert sum(r["dischargeHospital"] for r in payload["data"]) == len(rows) == result.episodes
    assert sum(r["dischargeHospitalNodaily"] for r in payload["data"]) == len(rows) - result.excluded
    assert len(payload["data"]) == len({(r["hospital"], r["dept"]) for r in rows})
