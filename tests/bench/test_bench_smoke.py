"""`vte bench --scale small` runs, prints its table and writes well-formed JSON. No timing is asserted:
the figures depend on the machine; what must hold is that every stage measured its figure and baseline."""

from __future__ import annotations

import json
import math
import os
import subprocess

import pytest

from vte.bench.runner import STAGES

pytestmark = pytest.mark.slow
SMOKE_STAGES = ("intake", "ingest", "excel")


def test_small_bench_prints_the_table_and_writes_every_figure_baseline_and_ratio(vte_home):
    proc = subprocess.run(["vte", "bench", "--scale", "small", "--stages", ",".join(SMOKE_STAGES)],
                          capture_output=True, text=True, timeout=300, env=os.environ | {"VTE_HOME": str(vte_home)})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    written = sorted((vte_home / "bench").glob("*.json"))
    assert len(written) == 1 and f"written: {written[0]}" in proc.stdout
    report = json.loads(written[0].read_text(encoding="utf-8"))
    assert report["scale"] == "small" and report["machine"]["nproc"] == os.cpu_count()
    assert [s["stage"] for s in report["stages"]] == list(SMOKE_STAGES)
    for stage in report["stages"]:
        assert stage["status"] == "done", stage
        assert stage["measures"], stage
        for m in stage["measures"]:
            for key in ("figure", "baseline", "ratio"):
                assert isinstance(m[key], float) and math.isfinite(m[key]) and m[key] > 0, (stage["stage"], m)
            assert math.isclose(m["ratio"], m["figure"] / m["baseline"])
            if m["target"] is not None:
                assert isinstance(m["met"], bool)
            # Each measure is a row of the printed table.
            assert any(line.startswith(stage["stage"]) and m["name"] in line for line in proc.stdout.splitlines())
    # The scratch warehouses are stopped and removed.
    assert not any((vte_home / "bench" / "work").glob("*/warehouse"))


def test_unknown_stage_or_scale_is_refused_with_the_choices(vte_home):
    env = os.environ | {"VTE_HOME": str(vte_home)}
    stage = subprocess.run(["vte", "bench", "--stages", "intake,nosuch"], capture_output=True, text=True, env=env)
    assert stage.returncode == 2 and "nosuch" in stage.stderr and ",".join(STAGES).replace(",", ", ") in stage.stderr
    scale = subprocess.run(["vte", "bench", "--scale", "huge"], capture_output=True, text=True, env=env)
    assert scale.returncode == 2 and "huge" in scale.stderr and "small, province" in scale.stderr


def test_profile_samples_the_stage_with_py_spy_and_names_the_product_s_functions(vte_home):
    """`--profile` samples the stage from outside (py-spy) and writes the collapsed stacks and a summary in
    which the stage's own code appears."""
    env = os.environ | {"VTE_HOME": str(vte_home)}
    proc = subprocess.run(["vte", "bench", "--scale", "small", "--stages", "excel", "--profile"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    [report] = [line.removeprefix("written: ") for line in proc.stdout.splitlines() if line.startswith("written: ")]
    [stage] = json.loads(open(report, encoding="utf-8").read())["stages"]
    profile = stage["details"]["profile"]
    assert isinstance(profile, dict), profile
    stacks = open(profile["stacks"], encoding="utf-8").read()
    assert any(line.rsplit(" ", 1)[1].isdigit() for line in stacks.splitlines())
    top = open(profile["top"], encoding="utf-8").read()
    assert "parse_workbook" in top and "samples" in top
    assert stage["details"]["memory_in_use_peak_gib"] >= stage["details"]["memory_in_use_at_start_gib"] > 0
