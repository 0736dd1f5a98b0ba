"""Helpers of the extract tests: the month they extract and how to read a sheet back."""

from __future__ import annotations

import openpyxl

MONTH = "2026-03"


def sheet_records(path, sheet: str) -> list[dict]:
    """A sheet's rows as {header: value}."""
    rows = list(openpyxl.load_workbook(path, read_only=True)[sheet].iter_rows(values_only=True))
    return [dict(zip(rows[0], row)) for row in rows[1:]]
