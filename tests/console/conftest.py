"""A small province of its own for the console: four institutions in three counties of two cities, their
reports landed for two months (one missing day, one late day), users of every role, two alerts, the real
intake and the real console server; and a headless Chromium.

The world has its own warehouse because the review locks months for the whole warehouse, and the province
must accept only once the counties of this world have. The pipeline is not run: the pages read the
registry, raw and review data live (the indicators page is tested against the shared published pipeline).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from console_support import chromium_page, start_console, stop
from console_world import INTAKE_ENV, World, build

from vte import stack, warehouse
from vte.config import Settings


@pytest.fixture(scope="session")
def world(vte_home) -> World:
    # Outside pytest's base directory: a pytest session starting meanwhile resets /tmp/pytest-of-<user> to
    # mode 0700, and pg_ctl, which runs as the embedded server's own user, could then not stop this server.
    home = Path(tempfile.mkdtemp(prefix="vte-console-tests-"))
    settings = Settings(home=home, warehouse_url=None)
    try:
        built = build(settings)
        intake, intake_url = stack.start_intake(settings, extra_env=INTAKE_ENV)
        try:
            console = start_console(settings)
            try:
                yield World(settings, *built, intake_url, console)
            finally:
                stop(console.process)
        finally:
            stop(intake)
    finally:
        warehouse.stop(settings)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def page():
    with chromium_page(viewport={"width": 1280, "height": 900}) as opened:
        yield opened
