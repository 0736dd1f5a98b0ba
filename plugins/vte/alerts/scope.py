"""Where an alert belongs: the region hierarchy (county → city → province) and the institutions in it."""

from __future__ import annotations

from dataclasses import dataclass

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


class Scope:
    """The registry's regions and institutions, read once per detection run."""

    def __init__(self, regions: dict[str, Region], institutions: dict[str, Institution]):
        self.regions = regions
        self.institutions = institutions

    @classmethod
    def read(cls, conn: psycopg.Connection) -> Scope:
        regions = {r[0]: Region(*r) for r in conn.execute(
            "select region_code, region_name, region_level, parent_code from registry.regions")}
        institutions = {r[0]: Institution(*r) for r in conn.execute(
            "select institution_code, institution_name, county_code from registry.institutions")}
        return cls(regions, institutions)

    def up(self, code: str, level: str) -> str:
        """The region of ``level`` that contains ``code`` (itself if it is of that level). A county directly
        under its province (省直辖县) lies in no city: its province stands in."""
        region = self.regions[code]
        while region.level != level and region.parent_code in self.regions:
            region = self.regions[region.parent_code]
        return region.code

    def province(self, code: str | None = None) -> str | None:
        """The province containing ``code``; without one, the registry's (first) province."""
        if code is not None and code in self.regions:
            return self.up(code, "province")
        provinces = sorted(r.code for r in self.regions.values() if r.level == "province")
        return provinces[0] if provinces else None

    def name(self, code: str) -> str:
        region = self.regions.get(code)
        return region.name if region else code

    def institution_county(self, institution_code: str) -> str | None:
        institution = self.institutions.get(institution_code)
        return institution.county_code if institution else None

    def who(self, institution_code: str) -> str:
        """``文成县人民医院(H330328001)``, or the bare code of an unregistered institution."""
        institution = self.institutions.get(institution_code)
        return f"{institution.name}({institution_code})" if institution else institution_code
