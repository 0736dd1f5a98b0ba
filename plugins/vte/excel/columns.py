"""The columns of the Excel data sheet: Table A.1's row fields, in the interface's order; and the example row.

The template writes them and the parser reads them, so both share this one definition; the count
fields come from ``vte.domain`` (the dbt seed), the three identifying fields are defined here. The
example row (row 3 of the template) is marked in its date cell; the parser skips it while it is unchanged.
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


def label_zh(field_name: str | None) -> str | None:
    """The Chinese label of a column's field name, or None for anything else (``data``, an unknown header)."""
    column = columns_by_header().get(header_key(field_name)) if field_name else None
    return column.label_zh if column is not None and column.name == field_name else None


# What the example row's date cell says instead of a date: the parser recognises the row by it.
EXAMPLE_MARKER = "示例 Example"
# One department-day that keeps every consistency rule (tests/excel/test_template.py checks it does).
EXAMPLE_COUNTS = {
    "dischargeHospital": 20, "distinctDischargeHospital": 19, "dischargeHospitalNodaily": 16, "riskAssessment": 15,
    "initRiskAssessment": 15, "riskAssessmentInDaily": 14, "highRiskAssessment": 9, "highRiskAssessmentInDaily": 8,
    "repeatRiskAssessment": 6, "hemorrhageRiskAssessment": 9, "highHemorrhageRiskAssessment": 2,
    "highRiskLowHemorrhage": 7, "precaution": 7, "precautionNoBase": 5, "medicine": 4, "mechanical": 3,
    "basePreventNodaily": 12, "zgwBasePreventNodaily": 7, "highVte": 4, "highVteCheck": 2, "chuyuanVte": 1,
    "hospitalVte": 1, "newDvt": 1, "newPe": 0, "newDvtAndPe": 0, "vteDie": 0, "peDie": 0, "surgery": 6,
    "surgeryDvt": 0, "surgeryPe": 0, "surgeryDvtAndPe": 0,
}


@cache
def example_row() -> dict[str, object]:
    """The example row's cells by field name, as the template writes them."""
    return {"date": EXAMPLE_MARKER, "hospital": "总院（示例）", "dept": "0101",
            **{f.name: EXAMPLE_COUNTS[f.name] for f in count_fields()}}


def is_example_marker(value: object) -> bool:
    return isinstance(value, str) and header_key(value) == header_key(EXAMPLE_MARKER)
