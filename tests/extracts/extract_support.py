"""Helpers of the extract tests: the month they extract and how to read a sheet back."""

from __future__ import annotations

import openpyxl

MONTH = "2026-03"


def sheet_records(path, sheet: str) -> list[dict]:
    """A sheet's rows as {header: value}."""
    rows = list(openpyxl.load_workbook(path, read_only=True)[sheet].iter_rows(values_only=True))
    return [dict(zip(rows[0], row)) for row in rows[1:]]


def check_ranks(rows: list[dict], higher_is_better: bool) -> None:
    """Reliable rows (denominator >= 20) ranked best first, ties sharing a rank; the others flagged, unranked, last."""
    reliable = [r for r in rows if r["分母 Denominator"] >= 20 and r["指标值(%) Rate (%)"] is not None]
    unreliable = [r for r in rows if r not in reliable]
    assert rows == reliable + unreliable, "flagged rows come after the ranked ones"
    assert all(r["排名 Rank"] is None and "不排名" in r["说明 Note"] for r in unreliable)
    assert all(r["说明 Note"] is None for r in reliable)
    best_first = sorted(r["指标值(%) Rate (%)"] for r in reliable)[::-1 if higher_is_better else 1]
    assert [r["指标值(%) Rate (%)"] for r in reliable] == best_first
    for r in reliable:
        better = [o for o in reliable
                  if (o["指标值(%) Rate (%)"] > r["指标值(%) Rate (%)"]) == higher_is_better
                  and o["指标值(%) Rate (%)"] != r["指标值(%) Rate (%)"]]
        assert r["排名 Rank"] == len(better) + 1
