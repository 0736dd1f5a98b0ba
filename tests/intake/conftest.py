"""Fixtures: one intake server for the session, fresh accounts per test."""

from __future__ import annotations

import uuid

import pytest
from intake_support import JOINED_ON, SERVER_ENV, Server, start_server, stop_server

from vte import registry



@pytest.fixture(scope="session")
def intake(warehouse_url, tmp_path_factory) -> Server:
    server = start_server(tmp_path_factory.mktemp("intake"), env=SERVER_ENV)
    yield server
    stop_server(server)


def new_code() -> str:
    return "H" + uuid.uuid4().hex[:10]


@pytest.fixture
def account(db) -> registry.Credentials:
    return registry.register(db, code=new_code(), name="测试医院", level="二级", county_code="330328",
                             joined_on=JOINED_ON)
