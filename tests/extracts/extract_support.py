"""Helpers of the extract tests: the month they extract and how to read a sheet back."""

from __future__ import annotations

import openpyxl

from vte.extracts.workbook import HEADER_ROW

MONTH = "2026-03"


def sheet_records(path, sheet: str) -> list[dict]:
    """A sheet's table rows as {header: value} (the title, units and source rows above the header skipped)."""
    rows = list(openpyxl.load_workbook(path, read_only=True)[sheet].iter_rows(values_only=True))
    header = rows[HEADER_ROW]
    return [dict(zip(header, row)) for row in rows[HEADER_ROW + 1:] if any(v is not None for v in row)]


BANDS = {"above_998": 1, "above_95": 2, "within": 3, "below_95": 4, "below_998": 5}


def check_ranks(rows: list[dict], higher_is_better: bool) -> None:
    """Institutions with a rate ranked by their funnel position (better than the region first), then by rate,
    ties sharing a rank, whatever their denominator; those without a rate unranked, last."""
    position = "漏斗图位置 Funnel position"
    ranked = [r for r in rows if r["指标值(%) Rate (%)"] is not None]
    unranked = [r for r in rows if r not in ranked]
    assert rows == ranked + unranked, "rows without a rate come after the ranked ones"
    assert all(r["排名 Rank"] is None and "不排名" in r["说明 Note"] for r in unranked)

    def order(r):
        band = BANDS[next(k for k in BANDS if r[position].startswith(
            {"above_998": "高于99.8", "above_95": "高于95", "within": "控制限内", "below_95": "低于95",
             "below_998": "低于99.8"}[k]))]
        band = band if higher_is_better else 6 - band
        return band, -r["指标值(%) Rate (%)"] if higher_is_better else r["指标值(%) Rate (%)"]

    assert [order(r) for r in ranked] == sorted(order(r) for r in ranked)
    for r in ranked:
        assert r["排名 Rank"] == 1 + sum(order(o) < order(r) for o in ranked)
        assert r["说明 Note"] is None or "分母过小" in r["说明 Note"]
