"""An intake killed with SIGKILL in the middle of a burst loses nothing it acknowledged and lands nothing twice.

Clients send a burst of distinct (institution, date) reports and retry, with a new signature, whatever got no
answer (a refused connection, a reset, a timeout), as vte.client's users do. The service (two workers, so
writers share their flushes) is killed outright part-way through and started again on the same port and
landing zone. Afterwards every report has exactly one landed version, the acknowledged ones under the
submission id the client was given, and the loader puts each into raw once.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

import httpx
import psutil
from intake_support import JOINED_ON, SERVER_ENV, SUBMIT, row, start_server, stop_server

from vte import client, registry
from vte.ingest import load_landing_zone
from vte.landing import LandingZone
from vte.submission import report_today

CLIENTS = 8
REPORTS_PER_CLIENT = 25
KILL_AFTER_ACKNOWLEDGED = 60  # of 200: the kill lands mid-burst


class Burst:
    def __init__(self, url: str, accounts: list[registry.Credentials]):
        self.url = url
        self.accounts = accounts
        self.acknowledged: dict[tuple[str, str], str] = {}  # (institution, date) -> submission id
        self.lock = threading.Lock()
        self.errors: list[str] = []

    def payload(self, index: int) -> dict:
        day = report_today() - timedelta(days=1 + index)
        return {"date": day.isoformat(), "data": [row(dept="骨科", surgery=index), row(dept="普外科")]}

    def run_client(self, creds: registry.Credentials) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as http:
            for index in range(REPORTS_PER_CLIENT):
                body = self.payload(index)
                deadline = time.monotonic() + 120
                while True:
                    try:
                        answer = http.post(SUBMIT, json=client.envelope(creds.access_key, creds.access_secret, body))
                        result = answer.json()
                    except (httpx.TransportError, ValueError):
                        if time.monotonic() > deadline:
                            self.errors.append(f"{creds.institution_code} {body['date']}: no answer for 120 s")
                            return
                        time.sleep(0.2)  # the service is down: retry, as a client does
                        continue
                    break
                if result["code"] != 0:
                    self.errors.append(f"{creds.institution_code} {body['date']}: {result}")
                    return
                with self.lock:
                    self.acknowledged[(creds.institution_code, body["date"])] = result["data"]["submissionId"]

    def acknowledged_count(self) -> int:
        with self.lock:
            return len(self.acknowledged)


def kill_outright(server) -> None:
    """SIGKILL the service and its workers at once: no shutdown, no flush, no goodbye."""
    main = psutil.Process(server.process.pid)
    for process in [*main.children(recursive=True), main]:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    server.process.wait()
    server.http.close()


def test_a_killed_intake_loses_no_acknowledged_report_and_lands_none_twice(db, settings, tmp_path):
    accounts = [registry.register(db, code=f"KL{uuid.uuid4().hex[:8]}", name=f"断电医院{n}", level="二级",
                                  county_code="330328", joined_on=JOINED_ON) for n in range(CLIENTS)]
    server = start_server(tmp_path, env=SERVER_ENV, workers=2)
    port = server.url.rsplit(":", 1)[1]
    burst = Burst(server.url, accounts)
    clients = [threading.Thread(target=burst.run_client, args=(creds,)) for creds in accounts]
    for thread in clients:
        thread.start()
    try:
        deadline = time.monotonic() + 120
        while burst.acknowledged_count() < KILL_AFTER_ACKNOWLEDGED:
            assert time.monotonic() < deadline, f"the burst stalled: {burst.errors}"
            time.sleep(0.01)
        kill_outright(server)
        killed_at = burst.acknowledged_count()
        time.sleep(1)  # clients find nobody there and retry
        server = start_server(tmp_path, env=SERVER_ENV, workers=2, port=int(port))
        for thread in clients:
            thread.join(timeout=300)
    finally:
        stop_server(server)
    assert not burst.errors
    assert killed_at < CLIENTS * REPORTS_PER_CLIENT, "the kill came after the burst: nothing was tested"
    assert len(burst.acknowledged) == CLIENTS * REPORTS_PER_CLIENT

    zone = LandingZone(settings=settings)
    for (code, day), submission_id in burst.acknowledged.items():
        versions = zone.versions(code, day)
        assert len(versions) == 1, f"{code} {day}: {len(versions)} versions landed"
        assert versions[0].name.endswith(f"-{submission_id}.json")

    load_landing_zone(db, zone)
    loaded = db.execute(
        "select institution_code, report_date::text, submission_id::text from raw.submissions"
        " where institution_code = any(%s)", ([a.institution_code for a in accounts],)).fetchall()
    assert {(code, day): sid for code, day, sid in loaded} == burst.acknowledged
    assert len(loaded) == len(burst.acknowledged)
