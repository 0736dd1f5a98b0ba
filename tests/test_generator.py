"""The synthetic data generator: rule-abiding counts, determinism, defects as asked, registration."""

import json
import re
import stat
import subprocess
from collections import Counter
from datetime import date, timedelta

import pytest

from vte import domain, generator, regions, registry, submission
from vte.generator import Defects

START = date(2025, 1, 1)
FIELDS = domain.count_field_names()
QUARANTINE = {r.rule_id for r in domain.rules() if r.severity == "quarantine"}


def _rate(rows, numerator, denominator):
    return sum(r[numerator] for r in rows) / sum(r[denominator] for r in rows)


@pytest.fixture(scope="module")
def clean():
    institutions = generator.synthetic_institutions(10, seed=7, start=START)
    return institutions, list(generator.iter_submissions(institutions, START, START + timedelta(days=59), seed=7))


def test_institutions_are_plausible_and_located_in_counties():
    institutions = generator.synthetic_institutions(60, seed=3, start=START)
    county_codes = {r["region_code"] for r in regions.read_region_file(generator.REGION_FILE)
                    if r["region_level"] == "county"}
    assert len({i.code for i in institutions}) == len({i.name for i in institutions}) == 60
    for inst in institutions:
        assert re.fullmatch(r"H\d{9}", inst.code) and inst.code[1:7] == inst.county_code in county_codes
        assert inst.level in registry.HOSPITAL_LEVELS and inst.name.endswith("院")
        assert inst.joined_on >= START and inst.campuses[0] == "总院"
        assert set(inst.departments) <= set(generator.DEPARTMENTS_BY_CODE)
        assert all(type(d) is str for d in inst.departments)
    assert {i.level for i in institutions} == {"二级", "三级"}
    assert any(i.community for i in institutions) and any(i.community is None for i in institutions)


def test_clean_rows_satisfy_every_rule_and_the_interface(clean):
    institutions, submissions = clean
    assert len(submissions) > 300
    units = {i.code: generator.department_units(i) for i in institutions}
    for sub in submissions:
        assert sub.defect is None and re.fullmatch(r"\d{4}-\d{2}-\d{2}", sub.date)
        assert [(r["hospital"], r["dept"]) for r in sub.data] == units[sub.institution_code]
        assert len(set(units[sub.institution_code])) == len(sub.data)
        for row in sub.data:
            assert list(row) == ["hospital", "dept", *FIELDS]
            assert all(type(row[f]) is int and row[f] >= 0 for f in FIELDS)
            assert domain.broken_rules(row) == [], (sub.institution_code, sub.date, row)


def test_rates_look_like_vte_quality_data():
    institutions = generator.synthetic_institutions(24, seed=11, start=START)
    institutions = [i for i in institutions if i.joined_on == START]
    submissions = list(generator.iter_submissions(institutions, START, date(2025, 12, 31), seed=11))
    rows = [r for s in submissions for r in s.data]
    assert 0.80 < _rate(rows, "riskAssessment", "dischargeHospitalNodaily") < 0.99
    assert _rate(rows, "hospitalVte", "dischargeHospital") < 0.01
    assert 0.5 < _rate(rows, "precautionNoBase", "highRiskAssessment") < 0.9
    by_institution = {}
    for s in submissions:
        by_institution.setdefault(s.institution_code, []).extend(s.data)
    b22 = [_rate(r, "precautionNoBase", "highRiskAssessment") for r in by_institution.values()]
    assert min(b22) < 0.70 < max(b22), "some institutions should meet the B.2.2 target and some not"
    weekday = Counter()
    for s in submissions:
        weekday[date.fromisoformat(s.date).weekday() >= 5] += sum(r["dischargeHospital"] for r in s.data) / 5
    assert weekday[True] / 2 < weekday[False] / 5 * 0.85, "fewer discharges at weekends"
    by_quarter = [[r for s in submissions if (date.fromisoformat(s.date).month - 1) // 3 == q for r in s.data]
                  for q in (0, 3)]
    assert (_rate(by_quarter[1], "precautionNoBase", "highRiskAssessment")
            > _rate(by_quarter[0], "precautionNoBase", "highRiskAssessment")), "prophylaxis improves over the year"


def _files(directory):
    return {p.relative_to(directory): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_same_seed_same_files_and_parallel_equals_serial(tmp_path):
    institutions = generator.synthetic_institutions(5, seed=21, start=START)
    end, defects = START + timedelta(days=20), Defects(refusable=0.1, quarantine=0.02, warning=0.02)
    serial = generator.write_dataset(tmp_path / "a", institutions,
                                     generator.iter_submissions(institutions, START, end, 21, defects), progress=False)
    parallel = generator.generate_dataset(tmp_path / "b", generator.synthetic_institutions(5, seed=21, start=START),
                                          START, end, 21, defects, workers=2, progress=False)
    other = generator.generate_dataset(tmp_path / "c", generator.synthetic_institutions(5, seed=22, start=START),
                                       START, end, 22, defects, workers=1, progress=False)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    assert (serial.submissions, serial.rows, serial.defects) == (parallel.submissions, parallel.rows, parallel.defects)
    assert _files(tmp_path / "a") != _files(tmp_path / "c") and other.rows > 0
    assert generator.read_institutions(tmp_path / "a") == institutions
    assert list(generator.read_submissions(tmp_path / "a")) == list(
        generator.iter_submissions(institutions, START, end, 21, defects))


def _malformations(sub) -> set[str]:
    """What is wrong with a submission, judged without the generator's help."""
    found = set()
    try:
        date.fromisoformat(sub.date)
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", sub.date):
            found.add("bad_date")
    except ValueError:
        found.add("bad_date")
    if not sub.data:
        found.add("empty_data")
    keys = Counter((r["hospital"], r["dept"]) for r in sub.data)
    if any(n > 1 for n in keys.values()):
        found.add("duplicate_row")
    for row in sub.data:
        if set(FIELDS) - set(row):
            found.add("missing_field")
        if set(row) - {"hospital", "dept", *FIELDS}:
            found.add("extra_field")
        for f in set(FIELDS) & set(row):
            value = row[f]
            if isinstance(value, str):
                found.add("string_count")
            elif isinstance(value, float) and not value.is_integer():
                found.add("non_integer")
            elif value < 0:
                found.add("negative_count")
    return found


def test_defects_are_injected_at_the_asked_rates_and_are_what_they_say():
    institutions = generator.synthetic_institutions(10, seed=5, start=START)
    defects = Defects(refusable=0.3, quarantine=0.05, warning=0.05)
    end = START + timedelta(days=70)
    submissions = list(generator.iter_submissions(institutions, START, end, 5, defects))
    clean = {(s.institution_code, s.date): s for s in generator.iter_submissions(institutions, START, end, 5)}

    refused = [s for s in submissions if s.defect and s.defect.startswith("refusable:")]
    assert abs(len(refused) / len(submissions) - 0.3) < 0.07
    kinds = Counter()
    for sub in refused:
        (mark,) = generator.parse_defect(sub.defect)
        assert _malformations(sub) == {mark.detail}, sub.defect
        kinds[mark.detail] += 1
    assert set(kinds) == set(generator.REFUSABLE_KINDS)

    marks, rows = Counter(), 0
    for sub in submissions:
        if sub in refused:
            continue
        assert _malformations(sub) == set()
        by_row = {m.row: m for m in generator.parse_defect(sub.defect)}
        original = clean[(sub.institution_code, sub.date)].data
        for index, row in enumerate(sub.data):
            rows += 1
            broken = {r.rule_id for r in domain.broken_rules(row)}
            mark = by_row.get(index)
            if mark is None:
                assert broken == set() and row == original[index]
            elif mark.severity == "quarantine":
                assert broken & QUARANTINE == {mark.detail}
            else:
                assert mark.severity == "warning" and mark.detail in broken and not broken & QUARANTINE
            marks[mark.severity if mark else None] += 1
    assert abs(marks["quarantine"] / rows - 0.05) < 0.015
    assert abs(marks["warning"] / rows - 0.05) < 0.015


def test_the_intake_refuses_exactly_the_refusable_submissions():
    institutions = generator.synthetic_institutions(4, seed=9, start=START)
    defects = Defects(refusable=0.4, quarantine=0.05, warning=0.05)
    for sub in generator.iter_submissions(institutions, START, START + timedelta(days=40), 9, defects):
        problems = submission.validate_payload({"date": sub.date, "data": sub.data}, today=date(2026, 1, 1))
        marks = generator.parse_defect(sub.defect)
        if marks and marks[0].severity == "refusable":
            assert problems, sub.defect
            assert marks[0].row is None or {p.row for p in problems} == {marks[0].row}, (sub.defect, problems)
        else:
            assert problems == []
            flagged = {(w.row, w.rule_id) for w in submission.rule_warnings(sub.data) if w.severity == "quarantine"}
            assert flagged == {(m.row, m.detail) for m in marks if m.severity == "quarantine"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--institutions", "0"], "--institutions must be between 1"),
        (["--end", "2024-12-31"], "--end 2024-12-31 is before --start 2025-01-01"),
        (["--quarantine", "1.5"], "--quarantine must be a rate between 0 and 1"),
        (["--refusable", "-0.1"], "--refusable must be a rate between 0 and 1"),
        (["--start", "2025-02-30"], "--start '2025-02-30' is not a date"),
    ],
)
def test_cli_refuses_bad_arguments(tmp_path, args, message):
    base = {"--institutions": "2", "--start": "2025-01-01", "--end": "2025-01-03"}
    base.update(dict(zip(args[::2], args[1::2])))
    result = subprocess.run(["vte", "generate", "--out", str(tmp_path), *[x for kv in base.items() for x in kv]],
                            capture_output=True, text=True)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert not (tmp_path / "institutions.csv").exists()


def test_cli_register_creates_institutions_and_credentials(db, settings, tmp_path):
    args = ["vte", "generate", "--institutions", "3", "--start", "2025-03-01", "--end", "2025-03-04",
            "--seed", "914", "--out", str(tmp_path), "--register", "--no-progress"]
    subprocess.run(args, capture_output=True, text=True, check=True)
    institutions = generator.read_institutions(tmp_path)
    stored = {r[0]: r[1:] for r in db.execute(
        "select institution_code, institution_name, hospital_level, county_code, community_name, joined_on "
        "from registry.institutions where institution_code = any(%s)", ([i.code for i in institutions],))}
    assert stored == {i.code: (i.name, i.level, i.county_code, i.community, i.joined_on) for i in institutions}

    path = tmp_path / generator.CREDENTIALS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    credentials = json.loads(path.read_text())
    accounts = registry.account_statuses(db, settings)
    assert set(credentials) == set(stored)
    for code, c in credentials.items():
        assert accounts[c["accessKey"]] == registry.ActiveAccount(c["accessKey"], c["accessSecret"], code,
                                                                  stored[code][-1])
    assert len(list(generator.read_submissions(tmp_path))) == sum(
        max(0, (date(2025, 3, 4) - max(date(2025, 3, 1), i.joined_on)).days + 1) for i in institutions)

    again = subprocess.run(args, capture_output=True, text=True)
    assert again.returncode == 2 and "already registered" in again.stderr
