"""Benchmark data: synthetic institutions, landed documents, and a fast path that puts history straight into raw.

Only what a stage measures goes through the product's own path; history that merely has to exist before a
measured step (a province-year is ~9 million department rows, ~6 GB as landing documents) is copied into
``raw`` directly with COPY, as the loader would have stored it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg

from vte import domain, generator, regions
from vte.config import Settings
from vte.landing import LandingZone, payload_checksum

SEED = 20261122
SHANGHAI = ZoneInfo("Asia/Shanghai")
INSTITUTIONS_START = date(2024, 1, 1)  # all have joined (within half a year) before any benchmark date


def institutions(count: int, *, min_departments: int = 0) -> list[generator.SyntheticInstitution]:
    """``count`` synthetic institutions, optionally only those with at least ``min_departments`` departments."""
    size = min(count * 3, generator.MAX_INSTITUTIONS) if min_departments else count
    pool = generator.synthetic_institutions(size, SEED, INSTITUTIONS_START)
    chosen = [inst for inst in pool if len(inst.departments) >= min_departments][:count]
    if len(chosen) < count:
        raise RuntimeError(f"only {len(chosen)} synthetic institutions have {min_departments} departments")
    return chosen


def register(conn: psycopg.Connection, insts: list, settings: Settings) -> dict:
    """Institution code → Credentials, registered in the scratch warehouse (with the bundled regions)."""
    regions.load_bundled(conn)
    return generator.register_institutions(conn, insts, settings)


def on_time(day: date) -> datetime:
    """When a report of ``day`` usually arrives: the next morning, Beijing time."""
    return datetime.combine(day + timedelta(days=1), time(1, 30), SHANGHAI)


def submissions(insts: list, first: date, last: date) -> Iterable[generator.GeneratedSubmission]:
    return generator.iter_submissions(insts, first, last, SEED)


def land(settings: Settings, subs: Iterable[generator.GeneratedSubmission], keys: dict[str, str]) -> tuple[int, int]:
    """Land each submission as the intake would; returns (documents, department rows)."""
    zone = LandingZone(settings=settings)
    documents = rows = 0
    for sub in subs:
        zone.land(institution_code=sub.institution_code, access_key=keys.get(sub.institution_code, "bench"),
                  channel="api", payload={"date": sub.date, "data": sub.data},
                  received_at=on_time(date.fromisoformat(sub.date)))
        documents += 1
        rows += len(sub.data)
    return documents, rows


def raw_tuples(sub: generator.GeneratedSubmission, access_key: str) -> tuple[tuple, list[tuple]]:
    """The raw.submissions row and raw.submission_rows rows the loader would make of one submission."""
    submission_id = str(uuid.uuid4())
    payload = {"date": sub.date, "data": sub.data}
    names = domain.count_field_names()
    submission = (submission_id, sub.institution_code, access_key, sub.date, 1, "api",
                  on_time(date.fromisoformat(sub.date)), payload_checksum(payload), len(sub.data),
                  f"bench/{sub.institution_code}/{sub.date}/v0001-{submission_id}.json")
    rows = [(submission_id, sub.date, index, row["hospital"], row["dept"], *(row[n] for n in names))
            for index, row in enumerate(sub.data)]
    return submission, rows


SUBMISSION_COLUMNS = ("submission_id", "institution_code", "access_key", "report_date", "version", "channel",
                      "received_at", "payload_sha256", "row_count", "document_path")


def row_columns() -> tuple[str, ...]:
    return ("submission_id", "report_date", "row_index", "hospital", "dept",
            *(f.column for f in domain.count_fields()))


def copy_into_raw(conn: psycopg.Connection, subs: Iterable[generator.GeneratedSubmission], keys: dict[str, str],
                  *, submissions_table: str = "raw.submissions", rows_table: str = "raw.submission_rows",
                  batch: int = 2000) -> tuple[int, int]:
    """COPY submissions into raw (or look-alike tables) in batches; returns (submissions, department rows)."""
    count = rows = 0
    pending: list[tuple[tuple, list[tuple]]] = []

    def flush() -> None:
        with conn.transaction(), conn.cursor() as cur:
            if rows_table == "raw.submission_rows":  # the months' partitions, as the loader makes them
                days = [submission[3] for submission, _ in pending]
                cur.execute("select raw.ensure_month_partitions(%s, %s)", (min(days), max(days)))
            with cur.copy(f"copy {submissions_table} ({', '.join(SUBMISSION_COLUMNS)}) from stdin") as copy:
                for submission, _ in pending:
                    copy.write_row(submission)
            with cur.copy(f"copy {rows_table} ({', '.join(row_columns())}) from stdin") as copy:
                for _, department_rows in pending:
                    for row in department_rows:
                        copy.write_row(row)
        pending.clear()

    for sub in subs:
        pending.append(raw_tuples(sub, keys.get(sub.institution_code, "bench")))
        count += 1
        rows += len(sub.data)
        if len(pending) >= batch:
            flush()
    if pending:
        flush()
    return count, rows
