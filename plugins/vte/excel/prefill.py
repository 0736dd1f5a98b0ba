"""What a signed-in hospital's template is pre-filled with: its campuses and last month's departments.

The registry keeps institutions, not campuses or departments; both are what the hospital itself reported.
They are read from the landing zone the account submits to (the intake owns it and may read it, unlike
raw or the marts): the newest version of each report date of the previous calendar month (Asia/Shanghai),
newest date first, so a department renamed during the month appears under its current name first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from vte.landing import LandingZone, read_document


@dataclass(frozen=True)
class Prefill:
    institution_code: str
    month: str  # yyyy-mm, the month the departments were read from
    departments: tuple[tuple[str, str], ...]  # (hospital, dept) in the order the template lists them

    @property
    def campuses(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(hospital for hospital, _ in self.departments))


def previous_month(today: date) -> tuple[date, date]:
    """The first and last day of the calendar month before ``today``'s."""
    last = today.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def last_month(landing: LandingZone, institution_code: str, today: date) -> Prefill | None:
    """The campuses and departments of the institution's reports of the previous month; None when it has none."""
    first, last = previous_month(today)
    found: dict[tuple[str, str], None] = {}
    day = last
    while day >= first:
        versions = landing.versions(institution_code, day.isoformat())
        if versions:
            for row in read_document(versions[-1])["payload"]["data"]:
                found.setdefault((row["hospital"], row["dept"]), None)
        day -= timedelta(days=1)
    if not found:
        return None
    by_campus: dict[str, list[tuple[str, str]]] = {}
    for hospital, dept in found:
        by_campus.setdefault(hospital, []).append((hospital, dept))
    return Prefill(institution_code, f"{first:%Y-%m}", tuple(pair for pairs in by_campus.values() for pair in pairs))
