"""The service keeps accepting when the warehouse goes away, and limits each account's request rate."""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from intake_support import JOINED_ON, SERVER_ENV, payload, start_server, stop_server

from vte import client, registry
from vte.landing import LandingZone


class UnixSocketProxy:
    """Forwards PostgreSQL connections to the warehouse's socket until ``close``: a warehouse we can cut off
    without stopping the session's shared one."""

    def __init__(self, target: str):
        self.target = target
        self.directory = tempfile.mkdtemp(prefix="pgp", dir="/tmp")  # socket paths must stay short
        self.path = f"{self.directory}/.s.PGSQL.5432"
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(self.path)
        self.listener.listen()
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                downstream, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(self.target)
            self.connections += [downstream, upstream]
            for a, b in ((downstream, upstream), (upstream, downstream)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket):
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            sink.close()

    def url(self) -> str:
        return f"postgresql://postgres:@/vte?host={self.directory}&port=5432"

    def close(self):
        self.listener.close()
        Path(self.path).unlink(missing_ok=True)
        for connection in self.connections:
            connection.close()


def socket_path(url: str) -> str:
    query = parse_qs(urlsplit(url).query)
    return f"{query['host'][0]}/.s.PGSQL.{query.get('port', ['5432'])[0]}"


def test_submissions_are_accepted_while_the_warehouse_is_unreachable(warehouse_url, db, settings, tmp_path):
    creds = registry.register(db, code="HP" + str(time.time_ns())[-9:], name="断网医院", level="三级",
                              county_code="330106", joined_on=JOINED_ON)
    proxy = UnixSocketProxy(socket_path(warehouse_url))
    server = start_server(tmp_path, env={**SERVER_ENV, "VTE_WAREHOUSE_URL": proxy.url(),
                                         "VTE_INTAKE_ACCOUNTS_REFRESH": "0.3"})
    try:
        assert server.submit(creds, payload(days_ago=1)).json()["code"] == 0
        proxy.close()
        deadline = time.monotonic() + 15
        while not server.http.get("/readyz").json()["data"].get("accountsLastError"):
            assert time.monotonic() < deadline, "the service never noticed the warehouse had gone"
            time.sleep(0.2)

        body = payload(days_ago=2)
        result = server.submit(creds, body).json()
        assert result["code"] == 0, result
        [path] = LandingZone(settings=settings).versions(creds.institution_code, body["date"])
        assert path.name.startswith("v0001-")
        ready = server.http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["data"]["accountsLoaded"] is True
        stranger = registry.Credentials("ak" + "1" * 18, "x", "-")
        assert server.submit(stranger, body).json()["code"] == 40103
    finally:
        proxy.close()
        stop_server(server)


def test_a_service_that_never_reached_the_warehouse_refuses_politely(warehouse_url, tmp_path):
    unreachable = "postgresql://postgres:@/vte?host=/nonexistent"
    server = start_server(tmp_path, env={**SERVER_ENV, "VTE_WAREHOUSE_URL": unreachable}, wait_ready=False)
    try:
        ready = server.http.get("/readyz")
        assert ready.status_code == 503 and ready.json()["data"]["accountsLoaded"] is False
        response = server.submit(registry.Credentials("ak" + "2" * 18, "x", "-"), payload())
        assert response.status_code == 503 and response.json()["code"] == 50301
        assert "Retry-After" in response.headers
    finally:
        stop_server(server)


@pytest.fixture
def throttled(warehouse_url, tmp_path):
    server = start_server(tmp_path, env={**SERVER_ENV, "VTE_INTAKE_RATE": "0.5", "VTE_INTAKE_BURST": "3"})
    yield server
    stop_server(server)


def test_each_account_is_rate_limited(throttled, account, db):
    other = registry.register(db, code="HR" + str(time.time_ns())[-9:], name="邻院", level="二级",
                              county_code="330328", joined_on=JOINED_ON)
    codes = [throttled.submit(account, payload(), dry_run=True) for _ in range(5)]
    assert [r.json()["code"] for r in codes] == [0, 0, 0, 42901, 42901]
    assert codes[3].status_code == 429 and int(codes[3].headers["Retry-After"]) >= 1
    assert throttled.submit(other, payload(), dry_run=True).json()["code"] == 0  # buckets are per account
    # The client waits as told and tries again, so a back-fill of many days gets through.
    started = time.monotonic()
    answer = client.submit(throttled.url, account.access_key, account.access_secret, payload(), dry_run=True)
    assert answer["code"] == 0 and time.monotonic() - started >= 1
