"""The columns of the Excel data sheet: Table A.1's row fields, in the interface's order.

The template writes them and the parser reads them, so both share this one definition; the count
fields come from ``vte.domain`` (the dbt seed), the three identifying fields are defined here.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache

from vte.domain import count_fields


@dataclass(frozen=True)
class Column:
    name: str  # the interface's field name, also the template's first header row
    label_zh: str  # the template's second header row; accepted as the header instead of the name
    description_en: str
    is_count: bool
    excludes_non_assessable: bool = False


IDENTITY_COLUMNS = (
    Column("date", "上报日期", "Report date: the day whose discharges the counts describe (yyyy-mm-dd)", False),
    Column("hospital", "院区", "Campus (one account may report several campuses)", False),
    Column("dept", "科室ID", "Department id, as the hospital's own systems name it", False),
)


@cache
def columns() -> tuple[Column, ...]:
    """Every column of the data sheet: date, hospital, dept, then the 31 counts."""
    counts = tuple(
        Column(f.name, f.label_zh, f.description_en, True, f.excludes_non_assessable) for f in count_fields()
    )
    return IDENTITY_COLUMNS + counts


def header_key(text: str) -> str:
    """How a header cell is compared: width-folded (（ vs (), case-folded, without whitespace."""
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


@cache
def columns_by_header() -> dict[str, Column]:
    """Each column under both the names it may be headed by: the field name and the Chinese label."""
    found: dict[str, Column] = {}
    for column in columns():
        found[header_key(column.name)] = column
        found[header_key(column.label_zh)] = column
    return found
