"""Schemathesis against the service's own OpenAPI document: every operation, with valid and invalid input,
never answers 5xx and leaves the server within its memory bound."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from intake_support import SERVER_ENV, peak_memory_mb, start_server, stop_server, worker_processes
from schemathesis.checks import not_a_server_error
from test_intake_hostile import MEMORY_BOUND_MB

from vte.intake.app import create_app


@pytest.fixture(scope="module")
def openapi_server(warehouse_url, tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("openapi"), env=SERVER_ENV)
    yield server
    stop_server(server)


# The document the server publishes at /openapi.json, taken from the application itself at collection time
# (schemathesis's lazy fixture loader does not support this pytest); the requests go to the real server.
schema = schemathesis.openapi.from_dict(create_app().openapi())


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_operation_answers_a_server_error(case, openapi_server):
    assert openapi_server.http.get("/openapi.json").json() == schema.raw_schema
    response = case.call(base_url=openapi_server.url, timeout=30)
    case.validate_response(response, checks=[not_a_server_error])


def test_the_server_survived_the_schema_run_within_its_memory(openapi_server):
    assert openapi_server.http.get("/healthz").status_code == 200
    for process in worker_processes(openapi_server):
        assert peak_memory_mb(process) < MEMORY_BOUND_MB
