"""Landing zone → raw tables: every landed document becomes one raw.submissions row and its department rows.

The load is idempotent: ``raw.landing_loads`` records what happened to each document (by its path relative to
the landing root, so a moved VTE_HOME keeps its history), and documents already recorded are not read again.
Department rows go in with COPY, one transaction per batch of documents.

The intake validated every payload before landing it, so a document whose payload still hashes to its
recorded SHA-256 needs no per-field checks in Python: its rows go straight to COPY, and raw's own constraints
(types, non-negative counts, non-empty names) are the safety net. A document that cannot be loaded (not a
document, missing header keys, a path that disagrees with its header, a checksum that does not match, rows that
raw refuses) is recorded as 'corrupt' with the reason, found by the full field-by-field check, and the load
goes on.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from itertools import islice
from operator import itemgetter
from pathlib import Path

import psycopg

from vte.domain import count_fields
from vte.landing import CHANNELS, DOCUMENT_PATTERN, LandingZone, payload_checksum, split_document

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
    payload: dict  # kept to name the problem if raw refuses the rows


def _row_columns() -> tuple[str, ...]:
    return ("submission_id", "row_index", "hospital", "dept", *(f.column for f in count_fields()))


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
    problem. Slow, so it runs only for a document whose fast load failed, to say why."""
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


def _row_getter():
    return itemgetter("hospital", "dept", *(f.name for f in count_fields()))


def _rows(submission_id: str, data: object) -> list[tuple]:
    """The raw rows of a payload's department rows, without per-field work (raw's constraints check types)."""
    if not isinstance(data, list) or not data:
        raise CorruptDocument("payload.data is not a non-empty list of department rows")
    getter = _row_getter()
    width = len(count_fields()) + 2
    try:
        rows = [(submission_id, index, *getter(row)) for index, row in enumerate(data)]
        shaped = all(len(row) == width for row in data) and len({row[2:4] for row in rows}) == len(rows)
    except (KeyError, TypeError):
        shaped = False
    if not shaped:  # a missing, unknown or repeated field or department: name it
        check_rows(data)
        raise CorruptDocument("payload.data holds something that is not a department row")
    return rows


def _header_and_payload(content: bytes) -> tuple[dict, dict, bool]:
    """(header, payload, checksum verified) of a document of either layout."""
    try:
        header, payload_bytes = split_document(content)
        if not isinstance(header, dict):
            raise CorruptDocument("the document is not a JSON object")
        if payload_bytes is None:  # one-object layout: the payload is inside, checked after the header
            return header, _require(header, "payload", dict), False
        checksum = _require(header, "payload_sha256", str)
        if hashlib.sha256(payload_bytes).hexdigest() != checksum:
            raise CorruptDocument("payload_sha256 does not match the payload")
        payload = json.loads(payload_bytes)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CorruptDocument(f"not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise CorruptDocument("the payload is not a JSON object")
    return header, payload, True


def parse_document(content: bytes, relative_path: str) -> ParsedDocument:
    """Check a landed document against its path and its checksum; raise CorruptDocument if it fails."""
    institution_dir, date_dir, name = Path(relative_path).parts[-3:]
    name_match = DOCUMENT_PATTERN.match(name)
    if name_match is None:
        raise CorruptDocument(f"file name {name!r} is not v<version>-<submission id>.json")
    document, payload, verified = _header_and_payload(content)

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
    if payload.get("date") != date_dir:
        raise CorruptDocument(f"payload.date {payload.get('date')!r} differs from report_date {date_dir}")
    if not verified and payload_checksum(payload) != checksum:
        raise CorruptDocument("payload_sha256 does not match the payload")

    rows = _rows(submission_id, payload.get("data"))
    submission = (submission_id, institution_code, access_key, report_date, version, channel, received_at,
                  checksum, len(rows), relative_path)
    return ParsedDocument(relative_path, submission, rows, payload)


def _recorded_paths(conn: psycopg.Connection) -> set[str]:
    return {row[0] for row in conn.execute("select document_path from raw.landing_loads")}


def _insert_batch(conn: psycopg.Connection, parsed: list[ParsedDocument], corrupt: list[tuple[str, str]]) -> None:
    with conn.transaction(), conn.cursor() as cur:
        if parsed:
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


def _refusal_reason(doc: ParsedDocument, exc: psycopg.Error) -> str:
    """Why raw refused one document's rows: the first broken interchange rule, else what PostgreSQL said."""
    try:
        check_rows(doc.payload.get("data"))
    except CorruptDocument as problem:
        return str(problem)
    if isinstance(exc, psycopg.errors.UniqueViolation):
        return f"clashes with a submission already in raw: {exc.diag.message_primary}"
    return f"raw refuses its rows: {exc.diag.message_primary}"


def _load_batch(conn: psycopg.Connection, zone: LandingZone, paths: list[Path]) -> tuple[int, int]:
    """Load one batch in one transaction; returns (loaded, corrupt)."""
    parsed, corrupt = [], []
    for path in paths:
        relative = path.relative_to(zone.root).as_posix()
        try:
            parsed.append(parse_document(path.read_bytes(), relative))
        except CorruptDocument as exc:
            corrupt.append((relative, str(exc)))
    try:
        _insert_batch(conn, parsed, corrupt)
        return len(parsed), len(corrupt)
    except (psycopg.errors.IntegrityError, psycopg.errors.DataError) as exc:
        if len(paths) > 1:
            # Some document clashes with raw (a submission id or version loaded before) or holds a value raw
            # refuses: find it alone.
            results = [_load_batch(conn, zone, [path]) for path in paths]
            return sum(r[0] for r in results), sum(r[1] for r in results)
        if not parsed:
            raise
        _insert_batch(conn, [], [(parsed[0].relative_path, _refusal_reason(parsed[0], exc))])
        return 0, 1


def _batches(items: Iterable[Path], size: int) -> Iterator[list[Path]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def load_landing_zone(conn: psycopg.Connection, zone: LandingZone | None = None,
                      batch_documents: int = BATCH_DOCUMENTS) -> LoadReport:
    """Load every landed document not yet recorded in raw.landing_loads (``conn`` in autocommit mode)."""
    zone = zone or LandingZone()
    conn.execute("select pg_advisory_lock(%s)", (_LOAD_LOCK_ID,))
    try:
        recorded = _recorded_paths(conn)
        skipped = 0
        pending: list[Path] = []
        for path in zone.iter_documents():
            if path.relative_to(zone.root).as_posix() in recorded:
                skipped += 1
            else:
                pending.append(path)
        loaded = corrupt = 0
        for batch in _batches(pending, batch_documents):
            n_loaded, n_corrupt = _load_batch(conn, zone, batch)
            loaded, corrupt = loaded + n_loaded, corrupt + n_corrupt
        return LoadReport(loaded=loaded, skipped=skipped, corrupt=corrupt)
    finally:
        conn.execute("select pg_advisory_unlock(%s)", (_LOAD_LOCK_ID,))
