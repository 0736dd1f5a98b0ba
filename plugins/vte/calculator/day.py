"""One day's episodes → the submission payload: one row per campus × department, the 31 counts of Table A.1.

``calculate_file(path)`` reads and checks the CSV (records.py), counts each field per row (fields.py) and
checks the result as the intake would (``vte.submission.validate_payload``) and against the consistency
rules (``vte.domain.broken_rules``: they hold by construction, a break would be a bug here). The result
holds counts only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from vte import domain, submission
from vte.calculator import fields
from vte.calculator.records import CsvProblem, Episode, Records, RecordsError, read_file, read_records


class CalculatorError(RecordsError):
    """The counts cannot be turned into an acceptable submission (``problems`` says why)."""


@dataclass(frozen=True)
class Day:
    date: date
    rows: tuple[dict, ...]  # {"hospital", "dept", <31 count fields in the standard's order>}
    episodes: int  # discharged episodes read
    excluded: int  # of which outside quality control (Table 1 note 3)

    def payload(self) -> dict:
        """The submission ``{"date": "yyyy-MM-dd", "data": [...]}`` (what `vte submit` sends)."""
        return {"date": self.date.isoformat(), "data": [dict(row) for row in self.rows]}


def department_row(hospital: str, dept: str, episodes: Iterable[Episode]) -> dict:
    """The counts of one campus × department row from the episodes discharged from it."""
    episodes = list(episodes)
    row: dict = {"hospital": hospital, "dept": dept}
    for name in domain.count_field_names():
        counted = [e for e in episodes if fields.counts(name, e)]
        row[name] = len({e.patient_id for e in counted}) if name == fields.DISTINCT_FIELD else len(counted)
    return row


def calculate(episodes: Iterable[Episode], report_date: date, *, today: date | None = None) -> Day:
    """Count the episodes of one report day; raises CalculatorError if the intake would refuse the result."""
    groups: dict[tuple[str, str], list[Episode]] = defaultdict(list)
    for e in episodes:
        groups[(e.hospital, e.dept)].append(e)
    rows = tuple(department_row(hospital, dept, group) for (hospital, dept), group in sorted(groups.items()))
    day = Day(report_date, rows, sum(map(len, groups.values())),
              sum(fields.excluded(e) for group in groups.values() for e in group))
    _check(day, today)
    return day


def calculate_records(records: Records, *, today: date | None = None) -> Day:
    return calculate(records.episodes, records.date, today=today)


def calculate_file(path: Path | str, report_date: date | None = None, *, today: date | None = None) -> Day:
    """Read, check and count a patient CSV; raises RecordsError (bad cells) or CalculatorError."""
    return calculate_records(read_file(path, report_date), today=today)


def calculate_text(data: bytes | str, report_date: date | None = None, *, today: date | None = None) -> Day:
    return calculate_records(read_records(data, report_date), today=today)


def _check(day: Day, today: date | None) -> None:
    payload = day.payload()
    problems = [CsvProblem(None, p.field, None, p.expected, f"计算结果无法上报：{p.message_zh}",
                           f"the computed submission would be refused: {p.message_en}")
                for p in submission.validate_payload(payload, today=today)]
    if problems:
        raise CalculatorError(problems)
    for row in day.rows:
        broken = domain.broken_rules(row)
        if broken:  # cannot happen: each lesser field's condition implies its greater field's
            raise AssertionError(f"calculator bug: {row['hospital']}/{row['dept']} breaks "
                                 f"{', '.join(r.rule_id for r in broken)}")
