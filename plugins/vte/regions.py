"""GB/T 2260 administrative divisions as versioned reference data.

Each file in ``reference/regions/`` is one province at one edition, named ``<province code>_<edition>.csv``
with columns region_code, region_name, region_level (province|city|county), parent_code.
"""

from __future__ import annotations

import csv
from pathlib import Path

import psycopg

from vte.config import REFERENCE_DIR

REGIONS_DIR = REFERENCE_DIR / "regions"
_LEVELS = ("province", "city", "county")


class RegionFileError(ValueError):
    pass


def bundled_files() -> list[Path]:
    return sorted(REGIONS_DIR.glob("*.csv"))


def read_region_file(path: Path) -> list[dict[str, str]]:
    """The rows of a region file, checked: codes of six digits, known levels, parents defined first."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    seen: set[str] = set()
    for line, row in enumerate(rows, start=2):
        code, level, parent = row.get("region_code", ""), row.get("region_level", ""), row.get("parent_code", "")
        if not (len(code) == 6 and code.isdigit()):
            raise RegionFileError(f"{path.name} line {line}: region_code {code!r} is not a six-digit GB/T 2260 code")
        if level not in _LEVELS:
            raise RegionFileError(f"{path.name} line {line}: region_level {level!r} is not one of {', '.join(_LEVELS)}")
        if level != "province" and parent not in seen:
            raise RegionFileError(f"{path.name} line {line}: parent_code {parent!r} is not defined above {code}")
        seen.add(code)
    return rows


def load_region_file(conn: psycopg.Connection, path: Path, edition: str | None = None) -> int:
    """Upsert one province's divisions; returns the number of rows."""
    rows = read_region_file(path)
    edition = edition or path.stem.split("_", 1)[-1]
    with conn.transaction():
        with conn.cursor() as cur:
            cur.executemany(
                """
                insert into registry.regions (region_code, region_name, region_level, parent_code, edition)
                values (%s, %s, %s, nullif(%s, ''), %s)
                on conflict (region_code) do update set
                    region_name = excluded.region_name, region_level = excluded.region_level,
                    parent_code = excluded.parent_code, edition = excluded.edition, loaded_at = now()
                """,
                [(r["region_code"], r["region_name"], r["region_level"], r["parent_code"], edition) for r in rows],
            )
    return len(rows)


def load_bundled(conn: psycopg.Connection) -> int:
    return sum(load_region_file(conn, path) for path in bundled_files())


def county_codes(conn: psycopg.Connection) -> list[str]:
    return [r[0] for r in conn.execute("select region_code from registry.regions where region_level = 'county' order by 1")]
