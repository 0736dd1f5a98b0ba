"""Receiving one uploaded workbook: parse it, keep it, land one submission per date (no HTTP here).

All or nothing: a workbook with any refused cell lands nothing. An accepted workbook is kept as
received in ``<landing>/<institution>/_workbooks/<sha256>.xlsx`` (outside the date folders the
ingest reads) and every submission landed from it names it in ``source_file``.

The file comes from outside: it is inspected first (``vte.excel.inspection``: sizes, XML, the extent of
its sheets, in bounded memory) and only then parsed, in a child process with its own memory and time
limits (``vte.excel.isolation``), so no content can crash or bloat the server.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import PurePosixPath, PureWindowsPath

from vte import submission
from vte.excel.inspection import inspect_workbook
from vte.excel.isolation import parse_isolated
from vte.excel.parser import MAX_BYTES, CellError, ParsedWorkbook
from vte.intake.accounts import StatusRefusal
from vte.landing import LandingZone, write_durably
from vte.registry import StatusPeriod
from vte.review.locks import MonthLock

WORKBOOKS_DIR = "_workbooks"


@dataclass
class Upload:
    file_name: str
    sha256: str
    row_count: int = 0
    errors: list[CellError] = field(default_factory=list)
    submissions: list[dict] = field(default_factory=list)  # one per date: submissionId, version, warnings ...
    skipped_rows: list[dict] = field(default_factory=list)  # pre-filled rows left empty (vte.excel.parser)

    @property
    def accepted(self) -> bool:
        return not self.errors


def display_name(file_name: str | None) -> str:
    """The uploaded file's own name, without any folder a browser sent and without control characters."""
    name = PureWindowsPath(PurePosixPath(file_name or "").name).name
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:200] or "upload.xlsx"


def keep_workbook(landing: LandingZone, institution_code: str, content: bytes, sha256: str) -> str:
    """Store the workbook once per content; returns its path relative to the landing zone."""
    relative = PurePosixPath(institution_code, WORKBOOKS_DIR, f"{sha256}.xlsx")
    path = landing.root / relative
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_durably(path, content)
    return str(relative)


def rule_warnings(parsed: ParsedWorkbook, index: int) -> list[dict]:
    """The consistency rules the rows of one date break, located by sheet, row and cell."""
    found = []
    for warning in submission.rule_warnings(parsed.submissions[index]["data"]):
        sheet, cell = parsed.cell_of(index, warning.row, warning.lesser)
        row = parsed.sources[index][warning.row].row
        where = f"data[{warning.row}]"
        found.append({
            **warning.to_dict(),
            "row": row,
            "sheet": sheet,
            "cell": cell,
            "message": f"{warning.message_zh.replace(where, f'工作表「{sheet}」第 {row} 行', 1)} / "
                       f"{warning.message_en.replace(where, f'sheet {sheet!r} row {row}', 1)}",
        })
    return found


def _inactive_dates(parsed: ParsedWorkbook, status_on: Callable[[date], StatusPeriod | None]) -> list[CellError]:
    """One refusal per date the institution is suspended or closed on, at the date's first cell."""
    errors = []
    for index, payload in enumerate(parsed.submissions):
        report_date = date.fromisoformat(payload["date"])
        period = status_on(report_date)
        if period is not None:
            sheet, cell = parsed.cell_of(index, 0, "date")
            errors.append(CellError(f"institution_{period.status}", *StatusRefusal(report_date, period).detail(),
                                    sheet, cell, "date"))
    return errors


def _locked_dates(parsed: ParsedWorkbook, refusing_lock: Callable[[date], MonthLock | None],
                  skip: set[str] = frozenset()) -> list[CellError]:
    """One refusal per date of a locked month (but those in ``skip``, refused already), at the date's first cell."""
    errors = []
    for index, payload in enumerate(parsed.submissions):
        if payload["date"] in skip:
            continue
        report_date = date.fromisoformat(payload["date"])
        lock = refusing_lock(report_date)
        if lock is not None:
            sheet, cell = parsed.cell_of(index, 0, "date")
            errors.append(CellError(
                "month_locked",
                f"{payload['date']} 属于已锁定的 {lock.month:%Y-%m}（{lock.describe_zh()}）；如需更正，请联系卫健委开放例外",
                f"{payload['date']} is in {lock.month:%Y-%m}, which is locked ({lock.describe_en()}); to correct it,"
                " ask the commission for an exception", sheet, cell, "date"))
    return errors


def receive_workbook(landing: LandingZone, *, institution_code: str, access_key: str, file_name: str | None,
                     content: bytes, max_bytes: int = MAX_BYTES, today: date | None = None,
                     earliest: date | None = None, parse_memory_mb: int | None = None,
                     parse_seconds: float | None = None,
                     refusing_lock: Callable[[date], MonthLock | None] | None = None,
                     status_on: Callable[[date], StatusPeriod | None] | None = None) -> Upload:
    """Check the workbook and, only if every cell is right and no date is refused, land each of its dates.

    ``refusing_lock(date)`` names the lock that refuses a date (vte.review.locks), or None; ``status_on(date)``
    the institution's suspension or closure that covers it (vte.lifecycle), or None.

    Any content gives an Upload (refused or accepted); only landing's OSError propagates. ``parse_memory_mb``
    and ``parse_seconds`` override the child's limits (``VTE_INTAKE_WORKBOOK_MEMORY_MB`` / ``_SECONDS``).
    """
    name = display_name(file_name)
    digest = hashlib.sha256(content).hexdigest()
    refusal = inspect_workbook(content, max_bytes=max_bytes)
    if refusal is not None:
        return Upload(name, digest, errors=[refusal])
    parsed = parse_isolated(content, memory_mb=parse_memory_mb, seconds=parse_seconds, max_bytes=max_bytes,
                            today=today, earliest=earliest)
    upload = Upload(name, digest, parsed.row_count, skipped_rows=parsed.skipped_rows)
    if not parsed.ok:
        upload.errors = parsed.errors
        return upload
    inactive = _inactive_dates(parsed, status_on) if status_on else []
    refused = {p["date"] for p in parsed.submissions if status_on and status_on(date.fromisoformat(p["date"]))}
    upload.errors = inactive + (_locked_dates(parsed, refusing_lock, refused) if refusing_lock else [])
    if upload.errors:
        return upload
    source_file = {"name": name, "sha256": digest, "path": keep_workbook(landing, institution_code, content, digest)}
    for index, payload in enumerate(parsed.submissions):
        landed = landing.land(institution_code=institution_code, access_key=access_key, channel="excel",
                              payload=payload, source_file=source_file)
        upload.submissions.append({
            "date": payload["date"],
            "submissionId": landed.submission_id,
            "version": landed.version,
            "duplicate": landed.duplicate,
            "receivedAt": landed.received_at,
            "rowCount": len(payload["data"]),
            "warnings": rule_warnings(parsed, index),
        })
    return upload

