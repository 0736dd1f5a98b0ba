"""Extracts read the shared published pipeline (tests/conftest.py); helpers to read what they wrote."""

from __future__ import annotations

import psycopg
import pytest

from vte import warehouse
from vte.extracts.create import Extract, create_extract
from vte.extracts.periods import parse_period

from extract_support import MONTH


@pytest.fixture
def marts(published_pipeline) -> psycopg.Connection:
    """A connection to the published pipeline's warehouse, to compute expectations from the marts."""
    with warehouse.connect(published_pipeline.settings, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def province_month(published_pipeline) -> Extract:
    """The provincial extract of a month, made once per module."""
    return create_extract(parse_period(MONTH), actor="test", settings=published_pipeline.settings)

