"""Divisions and institutions as the console sees them: always inside the signed-in user's region."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import psycopg


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    level: str  # province | city | county
    parent_code: str | None


@dataclass(frozen=True)
class Institution:
    code: str
    name: str
    county_code: str
    county_name: str
    city_code: str | None
    city_name: str | None
    level: str
    community: str | None
    status: str
    joined_on: date


REGION = "select region_code, region_name, region_level, parent_code from registry.regions"
INSTITUTION = """
select institutions.institution_code, institutions.institution_name, institutions.county_code, counties.region_name,
       cities.region_code, cities.region_name, institutions.hospital_level, institutions.community_name,
       institutions.status, institutions.joined_on
from registry.institutions
inner join registry.regions as counties on institutions.county_code = counties.region_code
left join registry.regions as cities on counties.parent_code = cities.region_code and cities.region_level = 'city'
"""


def get(conn: psycopg.Connection, code: str) -> Region | None:
    row = conn.execute(REGION + " where region_code = %s", (code,)).fetchone()
    return Region(*row) if row else None


def divisions(conn: psycopg.Connection, code: str) -> list[Region]:
    """The divisions right under ``code`` that have institutions (to drill down into)."""
    return [Region(*row) for row in conn.execute(
        REGION + " where parent_code = %s and region_code in ("
        " select institutions.county_code from registry.institutions"
        " union select counties.parent_code from registry.regions as counties"
        " inner join registry.institutions on institutions.county_code = counties.region_code)"
        " order by region_code", (code,))]


def names(conn: psycopg.Connection, codes: set[str]) -> dict[str, str]:
    return dict(conn.execute("select region_code, region_name from registry.regions where region_code = any(%s)",
                             (sorted(codes),)).fetchall())


def is_inside(conn: psycopg.Connection, code: str, scope: str) -> bool:
    """Whether ``code`` is ``scope`` or a division under it."""
    return conn.execute("select %s in (select access.regions_inside(%s))", (code, scope)).fetchone()[0]


def trail(conn: psycopg.Connection, scope: str, code: str) -> list[Region]:
    """The regions from ``scope`` down to ``code`` (both included), for the breadcrumb."""
    found: list[Region] = []
    current = get(conn, code)
    while current is not None:
        found.insert(0, current)
        if current.code == scope or current.parent_code is None:
            break
        current = get(conn, current.parent_code)
    return found


def institution(conn: psycopg.Connection, code: str, scope: str) -> Institution | None:
    """The institution, if it lies inside ``scope``."""
    row = conn.execute(INSTITUTION + " where institutions.institution_code = %s"
                       " and institutions.county_code in (select access.regions_inside(%s))", (code, scope)).fetchone()
    return Institution(*row) if row else None


def institutions(conn: psycopg.Connection, scope: str) -> list[Institution]:
    """Every institution inside ``scope``, by code (closed ones too: their months before closing still count;
    vte.review.approval.expected_institutions says which were expected in a month)."""
    return [Institution(*row) for row in conn.execute(
        INSTITUTION + " where institutions.county_code in (select access.regions_inside(%s))"
        " order by institutions.institution_code", (scope,))]
