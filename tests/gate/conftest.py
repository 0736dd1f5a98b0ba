"""Fixtures of the gate tests."""

from __future__ import annotations

import random

import pytest


@pytest.fixture(scope="module")
def rng() -> random.Random:
    return random.Random(20250301)
