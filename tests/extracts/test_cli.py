"""`vte extract` as a person runs it: paths printed, and bad arguments refused naming the value."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # the shared published pipeline takes minutes to build


def _vte_extract(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["vte", "extract", *args], capture_output=True, text=True, timeout=120)


def test_prints_the_paths_it_wrote(in_published_home):
    code = in_published_home.institutions[0].county_code
    proc = _vte_extract("--period", "2026Q2", "--region", code, "--final")
    assert proc.returncode == 0, proc.stderr
    paths = [Path(line) for line in proc.stdout.splitlines()]
    export_dir = in_published_home.settings.exports_dir / "2026Q2" / code / "final"
    assert paths[0] == export_dir / f"vte-2026Q2-{code}-final.xlsx"
    assert paths[-1] == export_dir / "manifest.json"
    assert all(p.parent == export_dir and p.is_file() for p in paths)
    assert sorted(p.name for p in export_dir.iterdir()) == sorted(p.name for p in paths)


@pytest.mark.parametrize("args, message", [
    (["--period", "2026-13"], "--period: period '2026-13': month 13 is not 01-12"),
    (["--period", "March"], "--period: period 'March' is not a month (2026-03), a quarter (2026Q1) or a year"),
    (["--period", "2026Q7"], "--period: period '2026Q7': quarter 7 is not 1-4"),
    (["--period", "2999-01"], "--period: period 2999-01 is not over yet"),
    (["--period", "2026-03", "--region", "33"], "--region: region '33' is not a six-digit GB/T 2260 code"),
    (["--period", "2026-03", "--region", "990000"], "--region: region 990000 is not a division"),
    (["--period", "2025-03"], "the published marts have no indicator values for 2025-03 in 330000"),
])
def test_bad_arguments_are_refused_naming_the_value(in_published_home, args, message):
    proc = _vte_extract(*args)
    assert proc.returncode == 2, proc.stdout
    assert proc.stderr.startswith(f"error: {message}"), proc.stderr
