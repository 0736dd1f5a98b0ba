"""What changed since an earlier revision: the restatement table of an extract, and the order and wording
``vte diff`` shares with it."""

from __future__ import annotations

from datetime import timezone
from decimal import Decimal

from vte.extracts.inputs import ExtractInputs, Restatement
from vte.extracts.tables import INDICATOR_UNIT, LEVEL_NAMES, Column, Table
from vte.publication.history import Change, Submission

# Largest first; the levels below an institution follow it.
LEVEL_ORDER = ("province", "city", "county", "community", "institution", "campus", "department")
# A cell holds at most 32,767 characters; beyond this many submissions the rest are counted, not listed.
LISTED_SUBMISSIONS = 200

COLUMNS = (
    Column("level", "层级", "Level"),
    Column("entity_code", "编码", "Code"),
    Column("entity_name", "名称", "Name"),
    Column("campus", "院区", "Campus"),
    Column("department", "科室", "Department"),
    Column("indicator_id", "指标编号", "Indicator ID"),
    Column("name_zh", "指标名称", "Indicator"),
    Column("old_numerator", "原分子", "Previous numerator", "count"),
    Column("old_denominator", "原分母", "Previous denominator", "count"),
    Column("old_rate", "原指标值(%)", "Previous rate (%)", "rate"),
    Column("new_numerator", "新分子", "New numerator", "count"),
    Column("new_denominator", "新分母", "New denominator", "count"),
    Column("new_rate", "新指标值(%)", "New rate (%)", "rate"),
    Column("change_pp", "变化(百分点)", "Change (percentage points)", "rate"),
    Column("submissions", "原因提交(机构 上报日期 版本 接收时间)",
           "Causing submissions (institution, report date, version, received)"),
)


def within_region(changes, region_level: str) -> list[Change]:
    """The changes of the region and below it: a city's extract restates the city, not the province it sums
    into."""
    above = {"province": (), "city": ("province",), "county": ("province", "city")}.get(region_level, ())
    return [c for c in changes if c.level not in above]


def sorted_changes(changes) -> list[Change]:
    """Province first, down to departments; then by code, campus, department and indicator."""
    return sorted(changes, key=lambda c: (LEVEL_ORDER.index(c.level) if c.level in LEVEL_ORDER else len(LEVEL_ORDER),
                                          c.level, c.entity_code or "", c.campus or "", c.department or "",
                                          c.indicator_id))


def submission_text(submission: Submission) -> str:
    received = submission.received_at.astimezone(timezone.utc).isoformat()
    return f"{submission.institution_code} {submission.report_date.isoformat()} v{submission.version} {received}"


def submissions_text(submissions) -> str | None:
    listed = [submission_text(s) for s in submissions[:LISTED_SUBMISSIONS]]
    more = len(submissions) - len(listed)
    if more > 0:
        listed.append(f"另有{more}份 and {more} more")
    return "; ".join(listed) or None


def change_pp(change: Change) -> Decimal | None:
    old_rate, new_rate = (change.old or (None,) * 3)[2], (change.new or (None,) * 3)[2]
    return None if old_rate is None or new_rate is None else new_rate - old_rate


def basis_text(restatement: Restatement, publication_id: int) -> str:
    against = restatement.against
    return (f"与修订 r{against.revision:03d}（发布 {against.publication_id}）相比，本修订（发布 {publication_id}）"
            f"共 {len(restatement.changes)} 个指标值变化 {len(restatement.changes)} indicator values changed "
            f"from revision r{against.revision:03d} (publication {against.publication_id}) "
            f"to this one (publication {publication_id})")


def unchanged_text(restatement: Restatement, publication_id: int) -> str:
    against = restatement.against
    return (f"与修订 r{against.revision:03d}（发布 {against.publication_id}）相比没有指标值变化 "
            f"No indicator value changed from revision r{against.revision:03d} "
            f"(publication {against.publication_id}) to this one (publication {publication_id})")


def restatement_table(inputs: ExtractInputs) -> Table:
    restatement, snapshot = inputs.restatement, inputs.snapshot
    names = {r["indicator_id"]: r["name_zh"] for r in snapshot.overview}
    rows = []
    for change in sorted_changes(restatement.changes):
        old, new = change.old or (None,) * 3, change.new or (None,) * 3
        rows.append((LEVEL_NAMES.get(change.level, change.level), change.entity_code, change.entity_name,
                     change.campus, change.department, change.indicator_id, names.get(change.indicator_id), *old,
                     *new, change_pp(change), submissions_text(change.submissions)))
    note = None if rows else unchanged_text(restatement, snapshot.publication.publication_id)
    return Table("restatement", "修订说明 Restatement", COLUMNS, tuple(rows), note, unit=INDICATOR_UNIT,
                 source="history.indicator_values, raw.submissions")
