"""Landing zone → raw tables: every landed document becomes one raw.submissions row and its department rows.

The load is idempotent: ``raw.landing_loads`` records what happened to each document (by its path relative to
the landing root, so a moved VTE_HOME keeps its history), and documents already recorded are not read again.
A load reads the documents the zone's arrivals journal lists since the last load (vte.landing.arrivals), so its
cost is what arrived, not the zone's years; a full scan walks the whole zone.
Department rows go in with COPY, one transaction per batch of documents.

Each document is checked once, cheaply: its payload line must hash to the recorded SHA-256, and msgspec
decodes it straight into typed rows, checking the interchange rules in the same pass (no per-field Python);
raw's own constraints (types, non-negative counts, non-blank names) are a second net. A document that cannot
be loaded (not a document, missing header keys, a path that disagrees with its header, a checksum that does not
match, a row that breaks the rules, a clash with raw) is recorded as 'corrupt' with the reason and the load
goes on.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from itertools import islice
from functools import cache
from typing import Annotated
from pathlib import Path

import msgspec
import psycopg

from vte.domain import count_fields
from vte.submission import INT4_MAX
from vte.landing import CHANNELS, DOCUMENT_PATTERN, LandingZone, arrivals, payload_checksum, split_document

BATCH_DOCUMENTS = 500
_LOAD_LOCK_ID = 0x5654_4502  # one loader at a time, so two runs never load the same document twice
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SUBMISSION_COLUMNS = (
    "submission_id", "institution_code", "access_key", "report_date", "version", "channel", "received_at",
    "payload_sha256", "row_count", "document_path",
)


@dataclass(frozen=True)
class LoadReport:
    loaded: int  # documents loaded now
    skipped: int  # documents already recorded in raw.landing_loads
    corrupt: int  # documents recorded now as corrupt


class CorruptDocument(ValueError):
    """A landed document that cannot become raw rows; the message says what is wrong."""


@dataclass(frozen=True)
class ParsedDocument:
    relative_path: str
    submission: tuple
    rows: list[tuple]


def _row_columns() -> tuple[str, ...]:
    return ("submission_id", "report_date", "row_index", "hospital", "dept", *(f.column for f in count_fields()))


def _require(document: dict, key: str, kind: type) -> object:
    if key not in document:
        raise CorruptDocument(f"missing key {key!r}")
    value = document[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise CorruptDocument(f"{key!r} is {type(value).__name__}, expected {kind.__name__}")
    return value


def _parse_date(value: str, what: str) -> date:
    try:
        if not _DATE.match(value):
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise CorruptDocument(f"{what} {value!r} is not a yyyy-mm-dd date") from None


def check_rows(data: object) -> None:
    """The interchange rules for department rows, field by field; raises CorruptDocument naming the first
    problem. Slow, so it runs only for a payload the decoder refused, to say why in the loader's words."""
    if not isinstance(data, list) or not data:
        raise CorruptDocument("payload.data is not a non-empty list of department rows")
    fields = count_fields()
    expected = {"hospital", "dept", *(f.name for f in fields)}
    seen = set()
    for index, row in enumerate(data):
        where = f"payload.data[{index}]"
        if not isinstance(row, dict):
            raise CorruptDocument(f"{where} is not an object")
        if missing := sorted(expected - row.keys()):
            raise CorruptDocument(f"{where} misses {', '.join(missing)}")
        if extra := sorted(row.keys() - expected):
            raise CorruptDocument(f"{where} has unknown fields {', '.join(extra)}")
        for key in ("hospital", "dept"):
            if not isinstance(row[key], str) or not row[key].strip():
                raise CorruptDocument(f"{where}.{key} is not a non-empty string")
        if (row["hospital"], row["dept"]) in seen:
            raise CorruptDocument(f"{where} repeats hospital {row['hospital']!r} dept {row['dept']!r}")
        seen.add((row["hospital"], row["dept"]))
        for f in fields:
            value = row[f.name]
            if not isinstance(value, int) or isinstance(value, bool) or value < 0 or value > 2**31 - 1:
                raise CorruptDocument(f"{where}.{f.name} is {value!r}, expected a non-negative integer")


@cache
def _payload_type() -> type:
    """The payload as msgspec decodes and checks it in one pass: the interchange rules of a department row
    (exactly the standard's fields, non-empty names, counts from 0 to 2^31-1) and at least one row."""
    fields = count_fields()
    count = Annotated[int, msgspec.Meta(ge=0, le=INT4_MAX)]
    text = Annotated[str, msgspec.Meta(min_length=1)]  # all-blank names are caught in _rows (a regex is slower)
    row = msgspec.defstruct("DepartmentRow", [("hospital", text), ("dept", text), *((f.column, count) for f in fields)],
                            rename={f.column: f.name for f in fields}, forbid_unknown_fields=True)
    return msgspec.defstruct("Payload", [("date", str), ("data", Annotated[list[row], msgspec.Meta(min_length=1)])],
                             forbid_unknown_fields=True)


@cache
def _payload_decoder() -> msgspec.json.Decoder:
    return msgspec.json.Decoder(_payload_type())


def _decoded(payload_bytes: bytes | None, payload: dict | None):
    """The checked payload, from the document's payload line (or, in the one-object layout, its object)."""
    try:
        if payload_bytes is not None:
            return _payload_decoder().decode(payload_bytes)
        return msgspec.convert(payload, _payload_type())
    except msgspec.ValidationError as exc:
        whole = json.loads(payload_bytes) if payload_bytes is not None else payload
        if isinstance(whole, dict):
            check_rows(whole.get("data"))  # names the row and field in the loader's words
        raise CorruptDocument(f"the payload breaks the interchange rules: {exc}") from None
    except msgspec.DecodeError as exc:
        raise CorruptDocument(f"not valid JSON: {exc}") from None


def _rows(submission_id: str, report_date: date, checked) -> list[tuple]:
    """The raw rows of a checked payload; a blank name or a repeated hospital and department is named."""
    rows = [(submission_id, report_date, index, *msgspec.structs.astuple(row))
            for index, row in enumerate(checked.data)]
    if any(row[3].isspace() or row[4].isspace() for row in rows):
        blank = next(row for row in rows if row[3].isspace() or row[4].isspace())
        key = "hospital" if blank[3].isspace() else "dept"
        raise CorruptDocument(f"payload.data[{blank[2]}].{key} is not a non-empty string")
    if len({row[3:5] for row in rows}) != len(rows):
        seen = set()
        for row in rows:
            if row[3:5] in seen:
                raise CorruptDocument(f"payload.data[{row[2]}] repeats hospital {row[3]!r} dept {row[4]!r}")
            seen.add(row[3:5])
    return rows


def _header_and_payload(content: bytes) -> tuple[dict, bytes | None, dict | None]:
    """(header, payload line, payload object) of a document: the line for this layout (checksum verified),
    the object for the earlier one-object layout (checked later, against its header)."""
    try:
        header, payload_bytes = split_document(content)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CorruptDocument(f"not valid JSON: {exc}") from None
    if not isinstance(header, dict):
        raise CorruptDocument("the document is not a JSON object")
    if payload_bytes is None:
        return header, None, _require(header, "payload", dict)
    checksum = _require(header, "payload_sha256", str)
    if hashlib.sha256(payload_bytes).hexdigest() != checksum:
        raise CorruptDocument("payload_sha256 does not match the payload")
    return header, payload_bytes, None


def parse_document(content: bytes, relative_path: str) -> ParsedDocument:
    """Check a landed document against its path and its checksum; raise CorruptDocument if it fails."""
    institution_dir, date_dir, name = Path(relative_path).parts[-3:]
    name_match = DOCUMENT_PATTERN.match(name)
    if name_match is None:
        raise CorruptDocument(f"file name {name!r} is not v<version>-<submission id>.json")
    document, payload_bytes, payload = _header_and_payload(content)

    submission_id = _require(document, "submission_id", str)
    try:
        uuid.UUID(submission_id)
    except ValueError:
        raise CorruptDocument(f"submission_id {submission_id!r} is not a UUID") from None
    institution_code = _require(document, "institution_code", str)
    access_key = _require(document, "access_key", str)
    report_date = _parse_date(_require(document, "report_date", str), "report_date")
    version = _require(document, "version", int)
    channel = _require(document, "channel", str)
    received_raw = _require(document, "received_at", str)
    checksum = _require(document, "payload_sha256", str)

    if channel not in CHANNELS:
        raise CorruptDocument(f"channel {channel!r} is not one of {', '.join(CHANNELS)}")
    try:
        received_at = datetime.fromisoformat(received_raw)
    except ValueError:
        raise CorruptDocument(f"received_at {received_raw!r} is not an ISO timestamp") from None
    if received_at.tzinfo is None:
        raise CorruptDocument(f"received_at {received_raw!r} has no time zone")
    if institution_code != institution_dir:
        raise CorruptDocument(f"institution_code {institution_code!r} differs from its directory {institution_dir!r}")
    if report_date.isoformat() != date_dir:
        raise CorruptDocument(f"report_date {report_date} differs from its directory {date_dir!r}")
    if version != int(name_match["version"]) or version < 1:
        raise CorruptDocument(f"version {version} differs from the file name {name!r}")
    if submission_id != name_match["submission_id"]:
        raise CorruptDocument(f"submission_id {submission_id} differs from the file name {name!r}")
    if payload is not None and payload_checksum(payload) != checksum:
        raise CorruptDocument("payload_sha256 does not match the payload")
    checked = _decoded(payload_bytes, payload)
    if checked.date != date_dir:
        raise CorruptDocument(f"payload.date {checked.date!r} differs from report_date {date_dir}")

    rows = _rows(submission_id, report_date, checked)
    submission = (submission_id, institution_code, access_key, report_date, version, channel, received_at,
                  checksum, len(rows), relative_path)
    return ParsedDocument(relative_path, submission, rows)


def _recorded_paths(conn: psycopg.Connection) -> set[str]:
    return {row[0] for row in conn.execute("select document_path from raw.landing_loads")}


def _insert_batch(conn: psycopg.Connection, parsed: list[ParsedDocument], corrupt: list[tuple[str, str]]) -> None:
    with conn.transaction(), conn.cursor() as cur:
        if parsed:
            report_dates = [doc.submission[3] for doc in parsed]
            cur.execute("select raw.ensure_month_partitions(%s, %s)", (min(report_dates), max(report_dates)))
            with cur.copy(f"copy raw.submissions ({', '.join(_SUBMISSION_COLUMNS)}) from stdin") as copy:
                for doc in parsed:
                    copy.write_row(doc.submission)
            with cur.copy(f"copy raw.submission_rows ({', '.join(_row_columns())}) from stdin") as copy:
                for doc in parsed:
                    for row in doc.rows:
                        copy.write_row(row)
        with cur.copy("copy raw.landing_loads (document_path, status, submission_id, reason) from stdin") as copy:
            for doc in parsed:
                copy.write_row((doc.relative_path, "loaded", doc.submission[0], None))
            for path, reason in corrupt:
                copy.write_row((path, "corrupt", None, reason))


def _refusal_reason(exc: psycopg.Error) -> str:
    """Why raw refused one document's rows (its checks passed, so it clashes with what raw holds)."""
    if isinstance(exc, psycopg.errors.UniqueViolation):
        return f"clashes with a submission already in raw: {exc.diag.message_primary}"
    return f"raw refuses its rows: {exc.diag.message_primary}"


@dataclass(frozen=True)
class ParsedBatch:
    paths: list[str]  # relative to the landing root
    parsed: list[ParsedDocument]
    corrupt: list[tuple[str, str]]  # (relative path, reason)


def _parse_batch(zone: LandingZone, paths: list[str]) -> ParsedBatch:
    parsed, corrupt = [], []
    for relative in paths:
        try:
            with open(zone.root / relative, "rb") as f:
                content = f.read()
            parsed.append(parse_document(content, relative))
        except CorruptDocument as exc:
            corrupt.append((relative, str(exc)))
    return ParsedBatch(paths, parsed, corrupt)


def _store_batch(conn: psycopg.Connection, zone: LandingZone, batch: ParsedBatch) -> tuple[int, int]:
    """Store one parsed batch in one transaction; returns (loaded, corrupt)."""
    try:
        _insert_batch(conn, batch.parsed, batch.corrupt)
        return len(batch.parsed), len(batch.corrupt)
    except (psycopg.errors.IntegrityError, psycopg.errors.DataError) as exc:
        if len(batch.paths) > 1:
            # Some document clashes with raw (a submission id or version loaded before) or holds a value raw
            # refuses: find it alone.
            results = [_store_batch(conn, zone, _parse_batch(zone, [path])) for path in batch.paths]
            return sum(r[0] for r in results), sum(r[1] for r in results)
        if not batch.parsed:
            raise
        _insert_batch(conn, [], [(batch.parsed[0].relative_path, _refusal_reason(exc))])
        return 0, 1


def _batches(items: Iterable[str], size: int) -> Iterator[list[str]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _journal_offsets(conn: psycopg.Connection, zone_id: str | None) -> dict[str, int] | None:
    """How far each of the zone's arrivals journal files was read; None before its journal was ever read (or
    while it has none): a full scan is due."""
    if zone_id is None:
        return None
    offsets = dict(conn.execute("select file_name, loaded_bytes from raw.landing_journal_files where zone_id = %s",
                                (zone_id,)).fetchall())
    return offsets or None


def _save_journal_offsets(conn: psycopg.Connection, zone_id: str | None, offsets: dict[str, int]) -> None:
    if zone_id is None:
        return
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            "insert into raw.landing_journal_files (zone_id, file_name, loaded_bytes) values (%s, %s, %s)"
            " on conflict (zone_id, file_name) do update set loaded_bytes = excluded.loaded_bytes,"
            " updated_at = now() where raw.landing_journal_files.loaded_bytes <> excluded.loaded_bytes",
            [(zone_id, name, size) for name, size in offsets.items()])


def _pending_by_scan(conn: psycopg.Connection, zone: LandingZone) -> tuple[list[str], int]:
    """Every document of the zone not recorded in raw.landing_loads, and how many are."""
    recorded = _recorded_paths(conn)
    documents = list(zone.iter_relative())
    pending = [relative for relative in documents if relative not in recorded]
    return pending, len(documents) - len(pending)


def _pending_by_journal(conn: psycopg.Connection, zone: LandingZone, listed: list[str]) -> tuple[list[str], int]:
    """The journal's documents not recorded in raw.landing_loads, and how many are (or are not in the zone)."""
    recorded = {row[0] for row in conn.execute(
        "select document_path from raw.landing_loads where document_path = any(%s)", (listed,))}
    pending = [relative for relative in listed
               if relative not in recorded and os.path.exists(os.path.join(zone.root, relative))]
    return pending, len(listed) - len(pending)


def load_landing_zone(conn: psycopg.Connection, zone: LandingZone | None = None,
                      batch_documents: int = BATCH_DOCUMENTS, *, full_scan: bool = False) -> LoadReport:
    """Load every landed document not yet recorded in raw.landing_loads (``conn`` in autocommit mode).

    The documents are those the arrivals journal lists since the last load; ``full_scan`` (and the first load,
    before the journal was ever read) walks the whole zone instead, for documents that reached it another way.
    The next batch is read and checked in a second thread while PostgreSQL stores the current one, so the
    loader's own work hides behind the database's."""
    zone = zone or LandingZone()
    conn.execute("select pg_advisory_lock(%s)", (_LOAD_LOCK_ID,))
    try:
        zone_id = arrivals.zone_id(zone.root)
        offsets = _journal_offsets(conn, zone_id)
        # Read before a scan starts: whatever the journal lists up to here, the scan sees.
        journal = arrivals.read_since(zone.root, offsets or {})
        if full_scan or offsets is None:
            pending, skipped = _pending_by_scan(conn, zone)
        else:
            pending, skipped = _pending_by_journal(conn, zone, journal.paths)
        loaded = corrupt = 0
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="vte-ingest-parse") as reader:
            batches = _batches(pending, batch_documents)
            upcoming = reader.submit(_parse_batch, zone, first) if (first := next(batches, None)) else None
            while upcoming is not None:
                batch = upcoming.result()
                following = next(batches, None)
                upcoming = reader.submit(_parse_batch, zone, following) if following else None
                n_loaded, n_corrupt = _store_batch(conn, zone, batch)
                loaded, corrupt = loaded + n_loaded, corrupt + n_corrupt
        # After the documents: a load stopped part-way reads the same lines again, and skips what it stored.
        _save_journal_offsets(conn, zone_id, journal.offsets)
        return LoadReport(loaded=loaded, skipped=skipped, corrupt=corrupt)
    finally:
        conn.execute("select pg_advisory_unlock(%s)", (_LOAD_LOCK_ID,))
