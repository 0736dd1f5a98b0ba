"""The hospitals' own report: a published world of its own (real intake, loader, dbt and publication through
Airflow), its intake serving the pages, and a headless Chromium."""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest
from reports_world import INTAKE_ENV, burst, institutions, land_history, plan, send_yesterday

from vte import generator, pipeline, stack, warehouse
from vte.config import Settings
from vte.landing import LandingZone

# the console's browser helpers: Chromium's flags, a network cut off but for one host
sys.path.insert(0, str(Path(__file__).parent.parent / "console"))


@pytest.fixture(scope="session")
def world(vte_home):
    # Outside pytest's base directory, as the console's world (pg_ctl runs as the embedded server's own user).
    home = Path(tempfile.mkdtemp(prefix="vte-reports-tests-"))
    settings = Settings(home=home, warehouse_url=None)
    try:
        result = plan(settings)
        registered = institutions(result.start)
        with psycopg.connect(warehouse.start(settings), autocommit=True) as conn:
            result.credentials = generator.register_institutions(conn, registered, settings)
        yesterday = land_history(result, LandingZone(settings=settings), registered)
        intake, result.intake_url = stack.start_intake(settings, extra_env=INTAKE_ENV)
        try:
            send_yesterday(result, yesterday)
            time.sleep(3)  # the bucket refills before the burst
            burst(result)
            assert pipeline.run_once(settings), "vte pipeline run failed: see the output above"
            yield result
        finally:
            intake.terminate()
            intake.wait(timeout=30)
    finally:
        warehouse.stop(settings)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def page():
    from console_support import chromium_page

    with chromium_page(viewport={"width": 1280, "height": 900}, accept_downloads=True) as opened:
        yield opened
