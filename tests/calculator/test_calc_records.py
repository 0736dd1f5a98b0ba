"""Reading the patient CSV: every bad cell gives one bilingual problem naming row, column, value and expectation."""

from __future__ import annotations

from datetime import date

import pytest
from calc_support import REPORT_DATE, TODAY, csv_text, one_row, patient

from vte.calculator import COLUMN_NAMES, CalculatorError, RecordsError, calculate_text, read_records
from vte.calculator.records import MAX_PROBLEMS
from vte.submission import shown


def problems(rows, report_date=None, columns=COLUMN_NAMES):
    with pytest.raises(RecordsError) as caught:
        calculate_text(csv_text(rows, columns), report_date, today=TODAY)
    return caught.value.problems


def only_problem(rows, **kw):
    found = problems(rows, **kw)
    assert len(found) == 1, [str(p) for p in found]
    return found[0]


BAD_CELLS = [
    # column, value, words of the English message
    ("hospital", "", "must not be empty"),
    ("dept", "x" * 101, "longer than 100 characters"),
    ("dept", "骨\x07科", "control characters"),
    ("age", "12.5", "not a whole number"),
    ("age", "-1", "not a whole number"),
    ("age", "151", "more than 150"),
    ("age", "", "not a whole number"),
    ("admitted_at", "2025/03/01 08:00", "not a time written yyyy-MM-dd HH:mm"),
    ("admitted_at", "2025-02-30 08:00", "not a real date and time"),
    ("admitted_at", "2025-03-01", "not a time written"),
    ("discharged_at", "2025-03-03 25:00", "not a real date and time"),
    ("discharged_at", "2025-03-01 07:00", "not after admitted_at 2025-03-01 08:00"),
    ("vte_on_admission", "yes", "not Y or N"),
    ("vte_on_admission", "", "not Y or N"),
    ("vte_assessments", "2025-03-01 10:00", "lacks '=<risk level>'"),
    ("vte_assessments", "2025-03-01 10:00=very high", "'very high', which is not one of low, mid, high"),
    ("vte_assessments", "yesterday=low", "whose time is not a time written"),
    ("vte_assessments", "2025-03-01 10:00=low;2025-03-01 10:00=mid", "two assessments at the same time"),
    ("vte_assessments", "2025-02-28 10:00=low", "outside the stay"),
    ("vte_assessments", "2025-03-03 10:01=low", "outside the stay"),
    ("bleeding_assessments", "mid", "'mid', which is not one of low, high"),
    ("prophylaxis", "basic;heparin", "'heparin', which is not one of basic, mechanical, drug"),
    ("vte_tests", "D-dimer", "'D-dimer', which is not one of CTPA, US, VQ"),
    ("surgery", "1", "not Y or N"),
    ("new_dvt", "是", "not Y or N"),
    ("died", "dead", "not Y or N"),
]


@pytest.mark.parametrize("column, value, words", BAD_CELLS, ids=[f"{c}={v[:20]!r}" for c, v, _ in BAD_CELLS])
def test_a_bad_cell_is_one_problem_naming_row_column_value_and_expectation(column, value, words):
    problem = only_problem([patient(), patient(**{column: value})])
    assert (problem.row, problem.column) == (3, column)  # the header is row 1
    assert problem.value == shown(value.strip())  # bounded and printable, as the intake echoes values
    assert words in problem.message_en
    assert problem.message_en.startswith(f"row 3, column {column}: value ") and "; expected " in problem.message_en
    assert problem.message_zh.startswith(f"第 3 行 {column}（") and "；应为" in problem.message_zh
    assert str(problem) == f"{problem.message_zh} / {problem.message_en}"


def test_a_vte_diagnosis_column_contradicting_the_row_is_named_once():
    problem = only_problem([patient(new_dvt="Y", principal_pte="Y")])
    assert problem.column == "vte_diagnosis" and problem.value == "N"
    assert "contradicts new_dvt=Y, principal_pte=Y" in problem.message_en


def test_every_bad_cell_of_a_file_is_reported_in_row_and_column_order():
    found = problems([patient(age="x", died="?"), patient(), patient(surgery="maybe", admitted_at="soon")])
    assert [(p.row, p.column) for p in found] == [(2, "age"), (2, "died"), (4, "admitted_at"), (4, "surgery")]


def test_the_patient_id_is_never_shown():
    secret = "p" * 101
    problem = only_problem([patient(patient_id=secret)])
    assert problem.column == "patient_id" and problem.value is None and secret not in str(problem)
    overlap = problems([patient(patient_id="ID-7731"), patient(patient_id="ID-7731", admitted_at="2025-03-02 08:00")])
    assert len(overlap) == 1 and "ID-7731" not in str(overlap[0])


def test_overlapping_stays_of_one_patient_are_refused():
    problem = only_problem([patient(patient_id="a"), patient(),
                            patient(patient_id="a", admitted_at="2025-03-02 08:00")])
    assert (problem.row, problem.column) == (4, "admitted_at")
    assert "overlaps the stay in row 2 of the same patient_id (a repeated row?)" in problem.message_en
    # back to back is not an overlap (a discharge, then a new admission)
    one_row([patient(patient_id="b", admitted_at="2025-03-01 08:00", discharged_at="2025-03-03 01:00"),
             patient(patient_id="b", admitted_at="2025-03-03 01:00", discharged_at="2025-03-03 02:00")])


def test_a_file_holds_one_discharge_day():
    rows = [patient(), patient(), patient(discharged_at="2025-03-04 09:00")]
    problem = only_problem(rows)
    assert (problem.row, problem.column, problem.value) == (4, "discharged_at", "2025-03-04 09:00")
    assert "is not on 2025-03-03, the discharge day of 2 rows of the file" in problem.message_en
    named = problems(rows, report_date=date(2025, 3, 4))
    assert [(p.row, p.column) for p in named] == [(2, "discharged_at"), (3, "discharged_at")]
    assert "is not on the report date 2025-03-04" in named[0].message_en


def test_header_problems_stop_the_reading():
    columns = [c for c in COLUMN_NAMES if c != "age"] + ["name", "died"]
    row = patient() | {"name": "张三"}
    text = ",".join(columns) + "\n" + ",".join(row[c] for c in columns) + "\n"
    found = problems_of_text(text)
    assert [(p.row, p.column) for p in found] == [(1, "age"), (1, "died"), (1, "name")]
    assert "column 'age' is missing: add it" in found[0].message_en
    assert "column 'died' appears 2 times" in found[1].message_en
    assert "unknown column 'name'" in found[2].message_en and "张三" not in str(found[2])


def problems_of_text(text: str | bytes):
    with pytest.raises(RecordsError) as caught:
        read_records(text)
    return caught.value.problems


@pytest.mark.parametrize("text, words", [
    ("", "the file is empty"),
    ("\n\n", "the file is empty"),
    (",".join(COLUMN_NAMES) + "\n", "the header only, no patient rows"),
    (",".join(COLUMN_NAMES) + "\n总院,0403,\"p1\n", "malformed CSV"),
])
def test_files_without_rows_are_refused(text, words):
    found = problems_of_text(text)
    assert len(found) == 1 and words in found[0].message_en


def test_a_row_of_the_wrong_width_is_one_problem():
    text = csv_text([patient(), patient()]).rstrip("\n") + ",extra\n"
    found = problems_of_text(text)
    assert len(found) == 1 and found[0].row == 3 and "has 18 cells but the header has 17 columns" in found[0].message_en


def test_only_utf8_is_read_and_a_bom_is_fine():
    text = csv_text([patient(hospital="东院区")])
    found = problems_of_text(text.encode("gbk"))
    assert len(found) == 1 and "not UTF-8 (row 2" in found[0].message_en and "iconv -f GBK" in found[0].message_en
    assert read_records(b"\xef\xbb\xbf" + text.encode()).episodes[0].hospital == "东院区"


def test_spellings_a_vendor_may_use_are_accepted():
    row = one_row([patient(vte_on_admission="n", surgery="y", vte_assessments=" 2025-03-01T10:00:30=HIGH ; ",
                           bleeding_assessments="Low", prophylaxis="Drug;drug", vte_tests="ctpa", age=" 70 ",
                           dept=" 0403 ", admitted_at="2025-03-01T08:00:00")])
    assert row["dept"] == "0403" and row["surgery"] == 1 and row["highVteCheck"] == 1 and row["medicine"] == 1


def test_problems_stop_at_the_limit():
    found = problems([patient(age="x", died="?") for _ in range(MAX_PROBLEMS)])
    assert len(found) == MAX_PROBLEMS


def test_a_day_the_intake_would_refuse_is_not_computed():
    rows = [patient(admitted_at="2026-01-01 08:00", discharged_at="2026-01-03 10:00")]
    with pytest.raises(CalculatorError) as caught:
        calculate_text(csv_text(rows), today=TODAY)
    assert "the computed submission would be refused" in str(caught.value) and "in the future" in str(caught.value)
    rows = [patient(admitted_at="2019-12-01 08:00", discharged_at="2019-12-03 10:00")]
    with pytest.raises(CalculatorError, match="before 2020-01-01"):
        calculate_text(csv_text(rows), today=TODAY)


def test_the_report_date_is_the_discharge_day():
    day = calculate_text(csv_text([patient()]), today=TODAY)
    assert day.date == REPORT_DATE and day.payload()["date"] == "2025-03-03"
