"""`vte extract` and `vte diff` as a person runs them: paths printed, and bad arguments refused naming the value."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from vte.publication.publish import current_publication

pytestmark = pytest.mark.slow  # the shared published pipeline takes minutes to build


def _vte(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["vte", *args], capture_output=True, text=True, timeout=120)


def _vte_extract(*args: str) -> subprocess.CompletedProcess:
    return _vte("extract", *args)


def test_prints_the_paths_it_wrote(in_published_home, marts):
    code = in_published_home.institutions[0].county_code
    proc = _vte_extract("--period", "2026Q2", "--region", code, "--final")
    assert proc.returncode == 0, proc.stderr
    paths = [Path(line) for line in proc.stdout.splitlines()]
    revision = paths[0].parent
    assert revision.parent == in_published_home.settings.exports_dir / "2026Q2" / code / "final"
    assert re.fullmatch(r"r\d{3}", revision.name)
    assert paths[0] == revision / f"vte-2026Q2-{code}-final-{revision.name}.xlsx"
    assert [p.name for p in paths[-2:]] == ["inputs.json.gz", "manifest.json"]
    assert all(p.parent == revision and p.is_file() for p in paths)
    assert sorted(p.name for p in revision.iterdir()) == sorted(p.name for p in paths)
    publication = current_publication(marts).publication_id
    assert re.fullmatch(rf"revision {revision.name} from publication {publication} \((new|unchanged: .*)\)\n",
                        proc.stderr)

    again = _vte_extract("--period", "2026Q2", "--region", code, "--final")
    assert again.returncode == 0, again.stderr
    assert again.stdout == proc.stdout, "the same publication gives the same revision"
    assert again.stderr == f"revision {revision.name} from publication {publication} " \
                           "(unchanged: already made from this publication)\n"


def test_reproducing_from_a_publication_without_a_revision_names_the_revisions_there_are(in_published_home, marts):
    code = in_published_home.institutions[0].county_code
    made = _vte_extract("--period", "2026Q2", "--region", code, "--final")
    assert made.returncode == 0, made.stderr
    revision = Path(made.stdout.splitlines()[0]).parent.name
    publication = current_publication(marts).publication_id
    proc = _vte_extract("--period", "2026Q2", "--region", code, "--publication", "999999")
    assert proc.returncode == 2, proc.stdout
    assert proc.stderr == (
        f"error: --publication: no extract revision of 2026Q2 for {code} was made from publication 999999; "
        f"revisions made: final: {revision} (publication {publication}); preliminary: none\n")
    proc = _vte_extract("--period", "2026Q2", "--region", code, "--preliminary", "--publication", "999999")
    assert proc.stderr == (f"error: --publication: no preliminary extract revision of 2026Q2 for {code} was made "
                           "from publication 999999; revisions made: preliminary: none\n")


@pytest.mark.parametrize("args, message", [
    (["--period", "2026-03", "--publication", "abc"],
     "--publication: 'abc' is not a publication id (a positive whole number, see ops.publications)"),
    (["--period", "2026-03", "--publication", "0"], "--publication: '0' is not a publication id"),
    (["--period", "2026-03", "--out", "x"], "--out: only with --publication"),
    (["--period", "2026-3", "--publication", "1"], "--period: period '2026-3' is not a month"),
    (["--period", "2026-03", "--region", "33", "--publication", "1"],
     "--region: region '33' is not a six-digit GB/T 2260 code"),
])
def test_bad_reproduction_arguments_are_refused_in_one_line(in_published_home, args, message):
    proc = _vte_extract(*args)
    assert proc.returncode == 2, proc.stdout
    assert proc.stderr.startswith(f"error: {message}") and proc.stderr.count("\n") == 1, proc.stderr


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


@pytest.mark.parametrize("args, message", [
    (["--period", "2026-13", "--from", "1", "--to", "1"], "--period: period '2026-13': month 13 is not 01-12"),
    (["--period", "2026-03", "--region", "33", "--from", "1", "--to", "1"],
     "--region: region '33' is not a six-digit GB/T 2260 code"),
    (["--period", "2026-03", "--region", "990000", "--from", "1", "--to", "1"],
     "--region: region 990000 is not a division in the published marts"),
    (["--period", "2026-03", "--from", "one", "--to", "1"], "--from: 'one' is not a publication id"),
    (["--period", "2026-03", "--from", "1", "--to", "999999"],
     "--to: publication 999999 is not a successful publication (see ops.publications)"),
    (["--period", "2026-03", "--from", "999998", "--to", "1"],
     "--from: publication 999998 is not a successful publication (see ops.publications)"),
])
def test_vte_diff_refuses_bad_arguments_in_one_line(in_published_home, args, message):
    proc = _vte("diff", *args)
    assert proc.returncode == 2, proc.stdout
    assert proc.stderr.startswith(f"error: {message}") and proc.stderr.count("\n") == 1, proc.stderr


def test_vte_diff_of_a_publication_with_itself_changes_nothing(in_published_home, marts):
    publication = current_publication(marts).publication_id
    proc = _vte("diff", "--period", "2026-03", "--from", str(publication), "--to", str(publication))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("no indicator value of 2026-03 in 330000 ")
    assert proc.stdout.rstrip().endswith(f"changed from publication {publication} to publication {publication}")
