"""Hostile input: no request, with or without a key, can crash, exhaust or rewind the intake service.

Each attack runs against the real ``vte serve``; after each, the server must still answer and its peak
resident memory (VmHWM) must stay below MEMORY_BOUND_MB.
"""

from __future__ import annotations

import json
import select
import socket
import subprocess
import time
from datetime import timedelta

import httpx
import pytest
from intake_support import (JOINED_ON, SERVER_ENV, payload, peak_memory_mb, row, start_server, stop_server,
                            worker_processes)

from vte import client, registry
from vte.intake.signing import BODY_SIGN_HEADER, body_sign, sign
from vte.landing import LandingZone, read_document

# A worker idles at about 125 MiB and peaks near 240 MiB after a 5 MiB body (at most two large bodies
# are parsed at once). Before the hardening one 900 KB body took 3.6 GB and killed the process.
MEMORY_BOUND_MB = 600
HEADER_TIMEOUT, BODY_TIMEOUT = 1, 2


@pytest.fixture(scope="module")
def hostile(warehouse_url, tmp_path_factory):
    """A server of its own, with short timeouts and a TMPDIR that must stay empty (nothing spooled to disk)."""
    directory = tmp_path_factory.mktemp("hostile")
    spool = directory / "tmp"
    spool.mkdir()
    server = start_server(directory, env={**SERVER_ENV, "TMPDIR": str(spool),
                                          "VTE_INTAKE_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
                                          "VTE_INTAKE_BODY_TIMEOUT": str(BODY_TIMEOUT)})
    server.spool = spool
    yield server
    stop_server(server)


@pytest.fixture
def hospital(db) -> registry.Credentials:
    return registry.register(db, code="HX" + str(time.time_ns())[-9:], name="攻防测试医院", level="二级",
                             county_code="330328", joined_on=JOINED_ON)


def still_serving(server) -> None:
    assert server.http.get("/healthz").status_code == 200
    for process in worker_processes(server):
        peak = peak_memory_mb(process)
        assert peak < MEMORY_BOUND_MB, f"worker {process.pid} peaked at {peak:.0f} MiB"


def code_of(response: httpx.Response) -> int:
    assert response.status_code < 500, response.text[:500]
    return response.json()["code"]


# --- Work only for the authenticated, bounded by the input ----------------------------------------------------

@pytest.mark.parametrize("size", [900_000, 5 * 1024 * 1024 - 100])
def test_an_unsigned_body_of_empty_rows_is_refused_without_looking_at_them(hostile, size):
    body = b'{"data":[' + b",".join([b"{}"] * ((size - 11) // 3)) + b"]}"
    started = time.monotonic()
    response = hostile.post(body)
    result = response.json()
    assert code_of(response) == 42201 and time.monotonic() - started < 10
    assert {p["field"] for p in result["data"]["problems"]} == {"accessKey", "timestamp", "sign"}
    still_serving(hostile)


def test_a_signed_body_of_bad_rows_stops_at_the_problem_limit(hostile, hospital):
    body = payload(rows=[{"hospital": "本院", "dept": f"d{i}"} for i in range(2000)])  # 31 missing counts each
    result = hostile.submit(hospital, body).json()
    assert result["code"] == 42201 and result["data"]["problemCount"] == 1000
    assert result["data"]["validationStopped"] is True and "1000" in result["message"]
    too_many = hostile.submit(hospital, payload(rows=[{}] * 100_000)).json()
    assert too_many["code"] == 42201
    assert [(p["code"], p["field"]) for p in too_many["data"]["problems"]] == [("too_many_rows", "data")]
    still_serving(hostile)


def test_report_dates_before_joining_are_refused_until_the_platform_moves_the_date(hostile, hospital):
    ancient = hostile.submit(hospital, {"date": "0001-01-01", "data": [row()]}).json()
    assert ancient["code"] == 42201 and ancient["data"]["problems"][0]["code"] == "date_too_early"
    early = (JOINED_ON - timedelta(days=1)).isoformat()
    refused = hostile.submit(hospital, {"date": early, "data": [row()]}).json()
    assert refused["code"] == 42201 and JOINED_ON.isoformat() in refused["message"] + str(refused["data"])
    subprocess.run(["vte", "accounts", "joined-on", hospital.institution_code, "2023-06-01"], check=True,
                   capture_output=True)
    assert hostile.submit(hospital, {"date": early, "data": [row()]}, dry_run=True).json()["code"] == 0


# --- A signature is used once --------------------------------------------------------------------------------

def test_a_replayed_first_version_cannot_rewind_the_correction(hostile, hospital, settings):
    day = payload(days_ago=3)
    first = client.envelope(hospital.access_key, hospital.access_secret, day)
    assert hostile.post(first).json()["data"]["version"] == 1
    correction = {**day, "data": [row(dept="骨科", newPe=0), row(dept="普外科")]}
    assert hostile.submit(hospital, correction).json()["data"]["version"] == 2

    replay = hostile.post(first)
    assert replay.status_code == 401 and replay.json()["code"] == 40104
    versions = LandingZone(settings=settings).versions(hospital.institution_code, day["date"])
    assert len(versions) == 2 and read_document(versions[-1])["payload"] == correction


def test_a_captured_signature_carries_no_other_data_and_fetches_no_feedback(hostile, hospital):
    captured = client.envelope(hospital.access_key, hospital.access_secret, payload(days_ago=4))
    assert hostile.post(captured, dry_run=True).json()["code"] == 0  # a dry run uses the signature too
    forged = {**captured, "date": payload(days_ago=5)["date"], "data": [row(newPe=99)]}
    assert code_of(hostile.post(forged)) == 40104
    query = {"accessKey": captured["accessKey"], "timestamp": captured["timestamp"], "sign": captured["sign"]}
    assert code_of(hostile.http.get("/xt/api/feedback", params=query)) == 40104


def test_the_optional_body_signature_is_verified_when_sent(hostile, hospital):
    def send(body: dict, signed_body: bytes) -> httpx.Response:
        raw = json.dumps(body).encode()
        return hostile.http.post("/xt/api/submit", content=raw, params={"dryRun": "true"}, headers={
            "Content-Type": "application/json", BODY_SIGN_HEADER: body_sign(hospital.access_secret, signed_body)})

    honest = client.envelope(hospital.access_key, hospital.access_secret, payload())
    assert code_of(send(honest, json.dumps(honest).encode())) == 0
    signed = client.envelope(hospital.access_key, hospital.access_secret, payload())
    altered = {**signed, "data": [row(newPe=7)]}
    assert code_of(send(altered, json.dumps(signed).encode())) == 40105


# --- Revocation and rotation take effect at once, in every worker --------------------------------------------

@pytest.fixture(scope="module")
def two_workers(warehouse_url, tmp_path_factory):
    # Accounts re-read only every 10 minutes: whatever works here works because the registry is asked live.
    server = start_server(tmp_path_factory.mktemp("two-workers"), workers=2,
                          env={**SERVER_ENV, "VTE_INTAKE_ACCOUNTS_REFRESH": "600"})
    yield server
    stop_server(server)


def fresh_connection_codes(server, creds, count: int = 6) -> list[int]:
    """Each on a new connection, so that the kernel spreads them over both workers."""
    codes = []
    for _ in range(count):
        body = client.envelope(creds.access_key, creds.access_secret, payload())
        codes.append(httpx.post(f"{server.url}/xt/api/submit", json=body, params={"dryRun": "true"}).json()["code"])
    return codes


def test_a_rotated_secret_works_on_the_very_next_request_and_the_old_one_is_refused(two_workers, hospital, db):
    assert len(worker_processes(two_workers)) == 2
    assert fresh_connection_codes(two_workers, hospital) == [0] * 6
    rotated = registry.rotate(db, hospital.access_key)
    assert fresh_connection_codes(two_workers, rotated) == [0] * 6
    assert fresh_connection_codes(two_workers, hospital) == [40101] * 6


def test_a_revoked_key_is_refused_on_the_very_next_request(two_workers, hospital, db):
    assert fresh_connection_codes(two_workers, hospital) == [0] * 6
    registry.revoke(db, hospital.access_key)
    assert fresh_connection_codes(two_workers, hospital) == [40301] * 6


# --- Every refusal is a refusal ----------------------------------------------------------------------------

def test_absurd_timestamps_are_refused_on_every_endpoint(hostile, hospital):
    body = client.envelope(hospital.access_key, hospital.access_secret, payload())
    result = hostile.post({**body, "timestamp": 10**400}).json()
    assert result["code"] == 42201 and result["data"]["problems"][0]["code"] == "bad_timestamp"
    raw = json.dumps(body).replace(str(body["timestamp"]), "9" * 5000).encode()
    assert code_of(hostile.post(raw)) == 40001
    huge = "9" * 1000
    query = {"accessKey": hospital.access_key, "timestamp": huge, "sign": "0" * 32}
    assert code_of(hostile.http.get("/xt/api/feedback", params=query)) == 40002
    form = {"accessKey": hospital.access_key, "timestamp": huge, "sign": "0" * 32}
    upload = hostile.http.post("/xt/api/upload", data=form, files={"file": ("a.xlsx", b"PK\x03\x04", "x")})
    assert code_of(upload) == 42201
    still_serving(hostile)


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def stream_upload(server, fields: dict[str, str], *, total: int) -> tuple[bytes, int]:
    """A chunked multipart upload without Content-Length: the fields, then up to ``total`` bytes of file,
    sent until the server answers. Returns (the answer, the file bytes sent by then)."""
    boundary = "vteboundary"
    head = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                   for k, v in fields.items())
    head += f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.xlsx"\r\n\r\n'
    host, port = server.url.removeprefix("http://").split(":")
    sent = 0
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(f"POST /xt/api/upload HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n"
                     f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n".encode() + _chunk(head.encode()))
        block = _chunk(b"\0" * 65536)
        answer = b""
        while sent < total:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(block)
            except OSError:  # the server closed the connection after answering
                break
            sent += 65536
        sock.settimeout(10)
        try:
            while chunk := sock.recv(65536):
                answer += chunk
                if b"\r\n\r\n" in answer and b'"code"' in answer:
                    break
        except OSError:
            pass
    return answer, sent


def test_a_chunked_upload_with_a_wrong_signature_is_refused_before_its_file_is_read(hostile, hospital):
    timestamp = client.fresh_timestamp(hospital.access_key)
    fields = {"accessKey": hospital.access_key, "timestamp": str(timestamp), "sign": sign("x", "y", timestamp)}
    answer, sent = stream_upload(hostile, fields, total=500 * 1024 * 1024)
    assert answer.startswith(b"HTTP/1.1 401") and b'"code":40101' in answer
    assert sent < 50 * 1024 * 1024, f"{sent} bytes went in before the refusal"
    assert list(hostile.spool.iterdir()) == []
    still_serving(hostile)


def test_an_unsigned_chunked_upload_is_cut_off_at_the_size_limit(hostile):
    answer, sent = stream_upload(hostile, {}, total=500 * 1024 * 1024)
    assert answer.startswith(b"HTTP/1.1 413") and b'"code":41301' in answer
    assert sent < 60 * 1024 * 1024
    assert list(hostile.spool.iterdir()) == []
    still_serving(hostile)


def test_silent_and_slow_clients_are_cut_off(hostile):
    host, port = hostile.url.removeprefix("http://").split(":")
    silent = [socket.create_connection((host, int(port))) for _ in range(5)]
    dribbling = [socket.create_connection((host, int(port))) for _ in range(5)]
    for sock in dribbling:
        sock.sendall(b"POST /xt/api/submit HTTP/1.1\r\nHost: x\r\n")
    slow_body = socket.create_connection((host, int(port)))
    slow_body.sendall(b"POST /xt/api/submit HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 1000\r\n\r\n{")
    assert hostile.http.get("/healthz").status_code == 200  # others are served meanwhile
    deadline = time.monotonic() + HEADER_TIMEOUT + BODY_TIMEOUT + 5
    for sock in silent + dribbling + [slow_body]:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        answer = b""
        while chunk := sock.recv(65536):  # raises a timeout if the server never lets go
            answer += chunk
        sock.close()
        if sock in silent + dribbling:
            assert answer.startswith(b"HTTP/1.1 408") and b"40801" in answer
    still_serving(hostile)


def test_downloads_are_logged_as_served_not_refused(hostile, settings):
    responses = [hostile.http.get("/xt/excel/template"), hostile.http.get("/openapi.json")]
    ids = {r.headers["X-Request-ID"] for r in responses if r.status_code == 200}
    assert len(ids) == 2
    # A request is logged once its answer is sent: the client may read the answer first.
    deadline, outcomes = time.monotonic() + 10, {}
    while len(outcomes) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
        for path in settings.audit_dir.glob("intake-*.jsonl"):
            for line in path.read_text().splitlines():
                record = json.loads(line)
                if record["request_id"] in ids:
                    outcomes[record["request_id"]] = record["outcome"]
    assert set(outcomes.values()) == {"served"} and len(outcomes) == 2
