"""Fixtures: one intake server for the session, fresh accounts per test."""

from __future__ import annotations

import uuid

import pytest
from intake_support import Server, start_server, stop_server

from vte import registry

# Generous limits so the property test is not throttled; the rate-limit test has its own server.
SERVER_ENV = {"VTE_INTAKE_ACCOUNTS_REFRESH": "1", "VTE_INTAKE_ACCOUNTS_MISS_REFRESH": "0",
              "VTE_INTAKE_RATE": "1000", "VTE_INTAKE_BURST": "1000"}


@pytest.fixture(scope="session")
def intake(warehouse_url, tmp_path_factory) -> Server:
    server = start_server(tmp_path_factory.mktemp("intake"), env=SERVER_ENV)
    yield server
    stop_server(server)


def new_code() -> str:
    return "H" + uuid.uuid4().hex[:10]


@pytest.fixture
def account(db) -> registry.Credentials:
    return registry.register(db, code=new_code(), name="测试医院", level="二级", county_code="330328")
