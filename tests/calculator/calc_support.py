"""Helpers for the calculator tests: hand-built patient rows, written as the CSV a vendor would export."""

from __future__ import annotations

import csv
import io
import itertools
from datetime import date

from vte.calculator import COLUMN_NAMES, calculate_text

REPORT_DATE = date(2025, 3, 3)
TODAY = date(2026, 1, 1)  # a fixed "today" for validate_payload, after every report date used here
_ids = itertools.count(1)

# Table 1's column 排除不纳入质控患者, copied from the standard (not from the seed the code reads): the fields
# that count every discharged patient, excluded from quality control or not.
COUNTS_EVERY_PATIENT = frozenset({
    "dischargeHospital", "distinctDischargeHospital", "initRiskAssessment", "chuyuanVte", "hospitalVte", "newDvt",
    "newPe", "newDvtAndPe", "vteDie", "peDie", "surgery", "surgeryDvt", "surgeryPe", "surgeryDvtAndPe",
})


def patient(**cells) -> dict[str, str]:
    """One CSV row: an adult of 50, in from 2025-03-01 08:00 to 2025-03-03 10:00 (50 h), nothing else recorded.

    Keyword arguments replace cells; ``admitted``/``discharged`` accept 'HH:MM' for the report day or a full time.
    """
    row = {
        "hospital": "总院", "dept": "0403", "patient_id": f"p{next(_ids):06d}", "age": "50",
        "admitted_at": "2025-03-01 08:00", "discharged_at": "2025-03-03 10:00", "vte_on_admission": "N",
        "vte_assessments": "", "bleeding_assessments": "", "prophylaxis": "", "vte_tests": "", "surgery": "N",
        "vte_diagnosis": "N", "new_dvt": "N", "new_pte": "N", "principal_pte": "N", "died": "N",
    }
    for name, value in cells.items():
        assert name in row, f"no column {name}"
        row[name] = str(value)
    return row


def csv_text(rows: list[dict[str, str]], columns: tuple[str, ...] = COLUMN_NAMES) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def compute(rows: list[dict[str, str]], report_date: date | None = None) -> dict[tuple[str, str], dict]:
    """The computed department rows by (hospital, dept), through the CSV text as a vendor's file would go."""
    day = calculate_text(csv_text(rows), report_date, today=TODAY)
    return {(r["hospital"], r["dept"]): r for r in day.rows}


def one_row(rows: list[dict[str, str]]) -> dict:
    """The only department row computed from ``rows`` (all of one campus and department)."""
    computed = compute(rows)
    assert len(computed) == 1, computed.keys()
    return next(iter(computed.values()))
