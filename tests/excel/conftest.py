"""Fixtures: the real intake service (``vte serve``) in a subprocess, and fresh accounts per test."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from excel_server import start_server, stop_server

from vte import registry

@pytest.fixture(scope="session")
def server_url(warehouse_url, tmp_path_factory) -> str:
    url, process = start_server(tmp_path_factory.mktemp("excel-intake"))
    yield url
    stop_server(process)


@pytest.fixture
def account(db) -> registry.Credentials:
    return registry.register(db, code="H" + uuid.uuid4().hex[:10], name="测试医院", level="二级", county_code="330328",
                             joined_on=date(2024, 1, 1))
