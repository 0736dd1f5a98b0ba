"""Hostile workbooks: every known attack is refused with its own code before a reader opens the file, a reader
that dies anyway costs a refusal and not the server, and genuine workbooks still go through.

The unit tests call ``receive_workbook`` (inspection, then the parse in a child process); the last test uploads
to the real ``vte serve`` and watches the serving process's peak memory.
"""

from __future__ import annotations

import io
import threading
import time
import zipfile
from multiprocessing import forkserver
from pathlib import Path

import httpx
import pytest
import xlsxwriter
from excel_server import start_server, stop_server
from excel_workbooks import filled_template, generated_payloads, interleaved_rows

import hostile_workbooks as hostile
from vte import client, registry
from vte.bench.excel import workbook_payloads
from vte.domain import count_field_names
from vte.excel import inspection
from vte.excel.inspection import inspect_workbook
from vte.excel.isolation import parse_isolated
from vte.excel.template import DATA_SHEET, filled_workbook
from vte.excel.upload import Upload, receive_workbook
from vte.landing import LandingZone

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def landing(tmp_path) -> LandingZone:
    return LandingZone(root=tmp_path / "landing")


def receive(landing: LandingZone, content: bytes, **options) -> Upload:
    return receive_workbook(landing, institution_code="H0000000001", access_key="key", file_name="上报.xlsx",
                            content=content, **options)


def refusal(landing: LandingZone, content: bytes, **options):
    """The one reason the upload was refused; nothing of it may have been stored."""
    upload = receive(landing, content, **options)
    assert not upload.accepted and len(upload.errors) == 1, upload.errors
    assert not landing.root.exists(), list(landing.root.rglob("*"))
    return upload.errors[0]


def declared_size(content: bytes, part: str) -> int:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return archive.getinfo(part).file_size


# --- the attacks, refused by the inspection ------------------------------------------------------------------

ATTACKS = {
    "corner cell XFD100000": (hostile.corner_cell, "too_many_columns", "XFD100000"),
    "lying dimension": (hostile.lying_dimension, "too_many_rows", "A1:XFD1048576"),
    "row bomb": (hostile.row_bomb, "too_many_rows", "100000 data rows"),
    "cells without references": (hostile.cells_without_references, "too_many_columns", "BM2"),
    "reference after a '>' in a prefixed tag": (hostile.far_cell_after_a_tricky_attribute, "too_many_columns", "ZZ2"),
    "whitespace bomb": (hostile.whitespace_bomb, "file_too_large", "decompressed"),
    "one huge shared string": (hostile.huge_shared_string, "file_too_large", "decompressed"),
    "entity declaration in a sheet": (hostile.entity_declaration, "xml_entities", hostile.SHEET_PART),
    "entity declaration in the shared strings": (lambda: hostile.entity_declaration(hostile.STRINGS_PART),
                                                 "xml_entities", hostile.STRINGS_PART),
    "entity declaration in the workbook part": (lambda: hostile.entity_declaration("xl/workbook.xml"),
                                                "xml_entities", "xl/workbook.xml"),
    "declaration across two chunks": (hostile.declaration_across_a_chunk_boundary, "xml_entities",
                                      hostile.STRINGS_PART),
    "header understating the size": (lambda: hostile.understated_size(crc_of_what_is_recorded=False),
                                     "damaged_file", hostile.SHEET_PART),
    "header understating size and checksum": (lambda: hostile.understated_size(crc_of_what_is_recorded=True),
                                              "damaged_file", hostile.SHEET_PART),
}


@pytest.mark.parametrize(("build", "code", "named"), ATTACKS.values(), ids=ATTACKS.keys())
def test_each_attack_is_refused_before_a_reader_opens_it_and_nothing_lands(landing, build, code, named):
    content = build()
    error = refusal(landing, content)
    assert error.code == code and named in error.message, error.message
    assert 0 <= error.message.index(error.message_zh) < error.message.index(error.message_en)  # Chinese first
    # Refused by the inspection, which runs before any reader: the parser has no such refusals.
    assert inspect_workbook(content) == error


def test_the_hostile_files_are_what_they_claim(landing):
    corner = hostile.corner_cell()
    assert len(corner) < 11 * 1024
    assert refusal(landing, corner).sheet == DATA_SHEET  # the worksheet part named by its sheet

    bomb = hostile.whitespace_bomb()
    assert len(bomb) < 1.1 * hostile.MIB and declared_size(bomb, hostile.SHEET_PART) > 10 ** 9
    string = hostile.huge_shared_string()
    assert len(string) < 1.1 * hostile.MIB and declared_size(string, hostile.STRINGS_PART) > 10 ** 9

    # With the checksum of what the header records, zipfile reads the sheet cut short and does not complain:
    # counting what the deflate stream really holds is what catches it.
    sneaky = hostile.understated_size(crc_of_what_is_recorded=True)
    with zipfile.ZipFile(io.BytesIO(sneaky)) as archive:
        assert len(archive.read(hostile.SHEET_PART)) == declared_size(sneaky, hostile.SHEET_PART)
    honest = hostile.understated_size(crc_of_what_is_recorded=False)
    with zipfile.ZipFile(io.BytesIO(honest)) as archive, pytest.raises(zipfile.BadZipFile):
        archive.read(hostile.SHEET_PART)


def test_a_workbook_written_the_same_way_but_harmless_is_accepted(landing):
    """The builders make workbooks the parser reads: a refusal above is the attack's, not the builder's."""
    payload = generated_payloads(days=1)[0]
    rows = hostile.header_row() + b"".join(hostile.data_row(n, payload["date"], row)
                                           for n, row in enumerate(payload["data"], start=2))
    dimension = f"A1:AH{len(payload['data']) + 1}"
    upload = receive(landing, hostile.workbook(hostile.sheet_xml(rows, dimension=dimension)))
    assert upload.accepted, upload.errors
    assert [s["rowCount"] for s in upload.submissions] == [len(payload["data"])]
    # Sixty cells without references stay within the 64 columns: refused by the parser for values without
    # a header, not by the inspection.
    assert inspect_workbook(hostile.cells_without_references(60)) is None


# --- genuine workbooks ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ten_thousand_rows() -> tuple[bytes, list[dict]]:
    payloads = workbook_payloads(10_000)
    return filled_workbook(payloads), payloads


def test_a_genuine_ten_thousand_row_template_workbook_is_accepted(landing, ten_thousand_rows):
    content, payloads = ten_thousand_rows
    started = time.perf_counter()
    upload = receive(landing, content)
    elapsed = time.perf_counter() - started
    assert upload.accepted, upload.errors[:3]
    assert upload.row_count == 10_000 and len(upload.submissions) == len(payloads)
    assert (landing.root / "H0000000001" / "_workbooks" / f"{upload.sha256}.xlsx").read_bytes() == content
    print(f"\n10,000 rows received (inspected, parsed in a child, landed) in {elapsed:.2f} s")


def test_real_workbooks_decompress_far_below_the_ratio(ten_thousand_rows):
    """The limit's margin: what openpyxl and xlsxwriter write stays under half of MAX_RATIO."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet(DATA_SHEET)
    sheet.write_row(0, 0, ["date", "hospital", "dept", *count_field_names()])
    for n in range(1, 5_001):  # all counts zero: the most compressible a real report gets
        sheet.write_row(n, 0, ["2025-03-01", "总院", f"D{n:04d}", *[0] * len(count_field_names())])
    book.close()
    for content in (ten_thousand_rows[0], buffer.getvalue()):
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            ratio = sum(m.file_size for m in archive.infolist()) / len(content)
        assert ratio < inspection.MAX_RATIO / 2, ratio
        assert inspect_workbook(content) is None


# --- the parse in a child process ----------------------------------------------------------------------------


HEAVY_ERRORS = {"blank", "value_without_header"}  # its one data row: 33 blank cells, a value in column BL


def test_a_reader_that_dies_at_its_memory_limit_costs_a_refusal(landing):
    heavy = hostile.heavy_within_limits()  # passes the inspection; calamine then builds a 100,002 × 64 grid
    assert inspect_workbook(heavy) is None
    error = refusal(landing, heavy, parse_memory_mb=64)
    assert error.code == "unreadable_workbook" and "memory" in error.message_en
    # With the ordinary limit the same file is read, and refused for its cells like any other.
    upload = receive(landing, heavy)
    assert {e.code for e in upload.errors} == HEAVY_ERRORS


def test_a_rust_abort_in_the_reader_is_a_refusal():
    """Without the inspection, calamine asks for 52 GB for the corner cell: the child aborts, not the server."""
    parsed = parse_isolated(hostile.corner_cell())
    assert [e.code for e in parsed.errors] == ["unreadable_workbook"]


def test_a_parse_past_its_time_is_killed_and_refused():
    started = time.perf_counter()
    parsed = parse_isolated(hostile.heavy_within_limits(), seconds=0.3)
    assert [e.code for e in parsed.errors] == ["workbook_timeout"]
    assert time.perf_counter() - started < 3
    assert _parse_processes() == 0


def test_at_most_two_workbooks_are_parsed_at_once():
    heavy = hostile.heavy_within_limits()
    results, most = [], 0
    threads = [threading.Thread(target=lambda: results.append(parse_isolated(heavy))) for _ in range(4)]
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        most = max(most, _parse_processes())
        time.sleep(0.02)
    assert most == 2
    assert [{e.code for e in r.errors} for r in results] == [HEAVY_ERRORS] * 4


def test_a_wholly_wrong_workbook_returns_its_first_ten_thousand_errors_and_the_total(landing):
    payload = generated_payloads(days=1)[0]
    row = {**payload["data"][0], **{name: "x" for name in count_field_names()}}
    rows = b"".join(hostile.data_row(n, payload["date"], {**row, "dept": f"D{n}"}) for n in range(2, 402))
    upload = receive(landing, hostile.workbook(hostile.sheet_xml(hostile.header_row() + rows)))
    total = 400 * len(count_field_names())
    assert len(upload.errors) == 10_001 and upload.errors[0].code == "too_many_errors"
    assert f"{total} problems" in upload.errors[0].message
    assert {e.code for e in upload.errors[1:]} == {"not_integer"}


def _parse_processes() -> int:
    """Live parse processes: the children of this process's fork server (other servers the session runs have
    fork servers and children of their own)."""
    server = forkserver._forkserver._forkserver_pid
    if server is None:
        return 0
    count = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[1]) == server:
            count += 1
    return count


# --- against the real service --------------------------------------------------------------------------------

# Measured: `vte serve` peaks at ~105 MB after a good upload and ~110 MB after the attacks below (the parse's
# child process is not counted: keeping the parse out of the server is the point). Parsed in the server, as
# before, the corner cell killed it, the row bomb alone added ~190 MB and the huge string several GB.
PEAK_MEMORY_BOUND_MB = 400


@pytest.fixture(scope="module")
def server(warehouse_url, tmp_path_factory):
    """A `vte serve` of its own, so that its peak memory is these uploads' alone."""
    url, process = start_server(tmp_path_factory.mktemp("hostile-intake"))
    yield url, process
    stop_server(process)


def upload(url: str, creds: registry.Credentials, content: bytes) -> httpx.Response:
    timestamp = client.fresh_timestamp(creds.access_key)
    fields = {"accessKey": creds.access_key, "timestamp": str(timestamp),
              "sign": client.sign(creds.access_key, creds.access_secret, timestamp)}
    return httpx.post(f"{url}/xt/api/upload", data=fields, files={"file": ("上报.xlsx", content, XLSX)}, timeout=60)


def peak_memory_mb(pid: int) -> float:
    """The process's peak resident memory since it started (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM for process {pid}")


SERVED_ATTACKS = {
    "corner cell": (hostile.corner_cell, "too_many_columns", "XFD100000"),
    "row bomb": (hostile.row_bomb, "too_many_rows", "100000 data rows"),
    "one huge shared string": (hostile.huge_shared_string, "file_too_large", "decompressed"),
}


def test_the_server_refuses_hostile_uploads_and_stays_up_and_small(server, account):
    url, process = server
    good, _ = filled_template(interleaved_rows(generated_payloads(days=2)))
    first = upload(url, account, good)
    assert first.status_code == 200 and first.json()["code"] == 0, first.text
    baseline = peak_memory_mb(process.pid)

    for name, (build, code, named) in SERVED_ATTACKS.items():
        response = upload(url, account, build())
        assert response.status_code < 500, (name, response.status_code, response.text[:500])
        result = response.json()
        assert result["code"] == 42201, (name, result)
        [error] = result["data"]["errors"]
        assert error["code"] == code and named in error["message"], (name, error)
        assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200, name
        assert process.poll() is None, name

    again = upload(url, account, good)
    assert again.status_code == 200 and again.json()["code"] == 0, again.text
    peak = peak_memory_mb(process.pid)
    print(f"\nvte serve peak resident memory: {baseline:.0f} MB after a good upload, {peak:.0f} MB after the attacks")
    assert peak < PEAK_MEMORY_BOUND_MB
