"""Each field definition and each exclusion, on hand-built patients whose counts are worked out here.

Every patient is admitted 2025-03-01 08:00 and discharged 2025-03-03 10:00 (a 50 h stay, aged 50, nothing
recorded) unless the case says otherwise; "+2h" in a comment means two hours after admission.
"""

from __future__ import annotations

import pytest
from calc_support import COUNTS_EVERY_PATIENT, compute, one_row, patient

from vte import domain
from vte.calculator import EXAMPLE_CSV, calculate_file

FIELDS = domain.count_field_names()

# Assessment times relative to the default admission (2025-03-01 08:00).
H2 = "2025-03-01 10:00"  # +2 h
H20 = "2025-03-02 04:00"  # +20 h
H24 = "2025-03-02 08:00"  # +24 h exactly: still "within 24 h"
H30 = "2025-03-02 14:00"  # +30 h
H48 = "2025-03-03 08:00"  # +48 h


def test_the_fields_are_the_standards_31_in_its_order():
    row = one_row([patient()])
    assert list(row) == ["hospital", "dept", *FIELDS] and len(FIELDS) == 31


# --- exclusions (Table 1 note 3) ----------------------------------------------------------------------

# A patient who meets every condition the fields look at: assessed at +1 h and +25 h at high risk, low bleeding
# risk, every prophylaxis, an ultrasound, an operation, a hospital-associated DVT, and died.
EVERYTHING = dict(vte_assessments="2025-03-01 09:00=high;2025-03-02 09:00=high", bleeding_assessments="low",
                  prophylaxis="basic;mechanical;drug", vte_tests="US", surgery="Y", vte_diagnosis="Y", new_dvt="Y",
                  died="Y")
# Counted for such a patient in quality control: every field but those of PTE, high bleeding risk (the only
# bleeding assessment is low) and principal diagnosis PTE.
EVERYTHING_COUNTS = {name: 1 for name in FIELDS} | {
    "highHemorrhageRiskAssessment": 0, "newPe": 0, "newDvtAndPe": 0, "peDie": 0, "surgeryPe": 0,
    "surgeryDvtAndPe": 0}
# The same patient, excluded from quality control: only the fields Table 1 marks 否 still count them.
EXCLUDED_COUNTS = {name: (n if name in COUNTS_EVERY_PATIENT else 0) for name, n in EVERYTHING_COUNTS.items()}


def counts(row: dict) -> dict:
    return {name: row[name] for name in FIELDS}


def test_a_patient_in_quality_control_counts_in_every_field_they_meet():
    assert counts(one_row([patient(**EVERYTHING)])) == EVERYTHING_COUNTS


@pytest.mark.parametrize("age", ["12", "0", "5"])
def test_under_13_is_excluded(age):
    assert counts(one_row([patient(**EVERYTHING, age=age)])) == EXCLUDED_COUNTS


def test_13_is_not_excluded():
    assert counts(one_row([patient(**EVERYTHING, age="13")])) == EVERYTHING_COUNTS


def test_a_stay_of_24_hours_or_less_is_excluded():
    # 住院时间≤24h (B.1, the digest): exactly 24 h is excluded, 24 h and one minute is not.
    exactly = dict(admitted_at="2025-03-02 10:00", discharged_at="2025-03-03 10:00",
                   vte_assessments="2025-03-02 11:00=high;2025-03-03 09:00=high")
    assert counts(one_row([patient(**(EVERYTHING | exactly))])) == EXCLUDED_COUNTS
    longer = exactly | {"admitted_at": "2025-03-02 09:59"}
    assert counts(one_row([patient(**(EVERYTHING | longer))])) == EVERYTHING_COUNTS
    short = dict(admitted_at="2025-03-03 01:00", discharged_at="2025-03-03 06:00",
                 vte_assessments="2025-03-03 02:00=high;2025-03-03 05:00=high")
    assert counts(one_row([patient(**(EVERYTHING | short))])) == EXCLUDED_COUNTS


def test_vte_present_on_admission_is_excluded():
    assert counts(one_row([patient(**EVERYTHING, vte_on_admission="Y")])) == EXCLUDED_COUNTS


def test_the_exclusions_are_applied_where_table_1_says_so():
    # The domain seed's flag is what the calculator applies: it must be Table 1's 是/否 column.
    flagged = {f.name for f in domain.count_fields() if not f.excludes_non_assessable}
    assert flagged == COUNTS_EVERY_PATIENT


# --- process fields: one case per field ---------------------------------------------------------------

CASES = [
    # field, patients, expected count, how it is worked out
    ("dischargeHospital",
     [patient(), patient(age=5), patient(patient_id="same", admitted_at="2025-03-03 01:00",
                                         discharged_at="2025-03-03 05:00"),
      patient(patient_id="same", admitted_at="2025-03-03 12:00", discharged_at="2025-03-03 20:00")],
     4, "every episode, excluded or not, a patient discharged twice counts twice"),
    ("distinctDischargeHospital",
     [patient(), patient(age=5), patient(patient_id="same", admitted_at="2025-03-03 01:00",
                                         discharged_at="2025-03-03 05:00"),
      patient(patient_id="same", admitted_at="2025-03-03 12:00", discharged_at="2025-03-03 20:00")],
     3, "the same four episodes are three patients"),
    ("dischargeHospitalNodaily",
     [patient(), patient(age=5), patient(admitted_at="2025-03-03 01:00", discharged_at="2025-03-03 05:00"),
      patient(vte_on_admission="Y", vte_diagnosis="Y"), patient(age=13)],
     2, "the adult and the 13-year-old; not the child, the short stay nor the VTE on admission"),
    ("riskAssessment",
     [patient(vte_assessments=f"{H2}=low"), patient(),
      patient(admitted_at="2025-03-02 14:00", vte_assessments="2025-03-02 15:00=low")],
     1, "assessed (even low risk) counts; not assessed does not; the third stayed 20 h: excluded"),
    ("initRiskAssessment",
     [patient(vte_assessments=f"{H2}=low"), patient(vte_assessments=f"{H30}=high"),
      patient(age=5, vte_assessments="2025-03-01 09:00=low"), patient(vte_assessments=f"{H24}=mid;{H48}=low"),
      patient()],
     3, "+2 h, the excluded child at +1 h (no exclusion for this field) and exactly +24 h; not +30 h only"),
    ("riskAssessmentInDaily",
     [patient(vte_assessments=f"{H2}=low"), patient(vte_assessments=f"{H30}=high"),
      patient(age=5, vte_assessments="2025-03-01 09:00=low"), patient(vte_assessments=f"{H24}=mid;{H48}=low"),
      patient()],
     2, "as initRiskAssessment without the excluded child: +2 h and +24 h"),
    ("highRiskAssessment",
     [patient(vte_assessments=f"{H2}=low;{H30}=mid"), patient(vte_assessments=f"{H2}=low"),
      patient(vte_assessments=f"{H2}=high;{H48}=low"), patient(vte_on_admission="Y", vte_diagnosis="Y",
                                                            vte_assessments=f"{H2}=mid")],
     2, "any assessment moderate or high (the first, the third even though later low); the fourth is excluded"),
    ("highRiskAssessmentInDaily",
     [patient(vte_assessments=f"{H2}=mid"), patient(vte_assessments=f"{H2}=low;{H48}=high"),
      patient(vte_assessments=f"{H30}=high"), patient(age=10, vte_assessments="2025-03-01 09:00=mid"),
      patient(vte_assessments=f"{H2}=low;{H20}=mid")],
     2, "one assessment both within 24 h and moderate/high: +2 h mid, +20 h mid; not low at +2 h then high later"),
    ("repeatRiskAssessment",
     [patient(vte_assessments=f"{H2}=low;{H30}=low"), patient(vte_assessments=f"{H2}=high"),
      patient(age=9, vte_assessments=f"{H2}=low;{H30}=low;{H48}=low"),
      patient(vte_assessments=f"{H2}=low;{H30}=mid;{H48}=high")],
     2, "two or more assessments: the first and the fourth; the third is excluded"),
    ("hemorrhageRiskAssessment",
     [patient(vte_assessments=f"{H2}=mid", bleeding_assessments="low"), patient(vte_assessments=f"{H2}=mid"),
      patient(vte_assessments=f"{H2}=low", bleeding_assessments="low"),
      patient(vte_assessments=f"{H2}=high", bleeding_assessments="high"),
      patient(vte_assessments="2025-03-02 11:00=high", bleeding_assessments="low", admitted_at="2025-03-02 10:00")],
     2, "moderate/high risk and a bleeding assessment: the first and fourth; the third is low risk, the fifth "
        "stayed 24 h"),
    ("highHemorrhageRiskAssessment",
     [patient(vte_assessments=f"{H2}=mid", bleeding_assessments="low;high"),
      patient(vte_assessments=f"{H2}=mid", bleeding_assessments="low"),
      patient(vte_assessments=f"{H2}=low", bleeding_assessments="high"),
      patient(age=3, vte_assessments=f"{H2}=high", bleeding_assessments="high")],
     1, "any bleeding assessment high, among moderate/high VTE risk: the first only (the third is low VTE risk, "
        "see Q.B.1.5; the fourth excluded)"),
    ("highRiskLowHemorrhage",
     [patient(vte_assessments=f"{H2}=mid", bleeding_assessments="low"),
      patient(vte_assessments=f"{H2}=mid", bleeding_assessments="low;high"), patient(vte_assessments=f"{H2}=mid"),
      patient(vte_assessments=f"{H2}=low", bleeding_assessments="low"),
      patient(vte_assessments=f"{H2}=high", bleeding_assessments="low;low")],
     2, "moderate/high and bleeding-assessed, never high bleeding: the first and the fifth"),
    ("precaution",
     [patient(vte_assessments=f"{H2}=mid", prophylaxis="basic"),
      patient(vte_assessments=f"{H2}=mid", bleeding_assessments="high", prophylaxis="mechanical"),
      patient(vte_assessments=f"{H2}=mid", bleeding_assessments="low"),
      patient(vte_assessments=f"{H2}=low", prophylaxis="drug"),
      patient(vte_assessments=f"{H2}=high", bleeding_assessments="low", prophylaxis="drug"),
      patient(age=9, vte_assessments=f"{H2}=mid", prophylaxis="basic")],
     2, "moderate/high, not at high bleeding risk, any prophylaxis: the first (no bleeding assessment) and fifth"),
    ("precautionNoBase",
     [patient(vte_assessments=f"{H2}=mid", prophylaxis="basic"),
      patient(vte_assessments=f"{H2}=mid", bleeding_assessments="low", prophylaxis="mechanical"),
      patient(vte_assessments=f"{H2}=mid", prophylaxis="drug"),
      patient(vte_assessments=f"{H2}=mid", bleeding_assessments="high", prophylaxis="drug;mechanical"),
      patient(vte_assessments=f"{H2}=low", prophylaxis="drug")],
     2, "as precaution but mechanical and/or drug: the second and third"),
    ("medicine",
     [patient(vte_assessments=f"{H2}=mid", bleeding_assessments="low", prophylaxis="drug"),
      patient(vte_assessments=f"{H2}=mid", prophylaxis="drug"),
      patient(vte_assessments=f"{H2}=mid", bleeding_assessments="high", prophylaxis="drug"),
      patient(vte_assessments=f"{H2}=low", bleeding_assessments="low", prophylaxis="drug"),
      patient(vte_assessments=f"{H2}=high", bleeding_assessments="low", prophylaxis="basic;mechanical")],
     1, "moderate/high with low bleeding risk (assessed) and a drug: the first only"),
    ("mechanical",
     [patient(vte_assessments=f"{H2}=mid", prophylaxis="mechanical"),
      patient(vte_assessments=f"{H2}=high", bleeding_assessments="high", prophylaxis="mechanical"),
      patient(vte_assessments=f"{H2}=low", prophylaxis="mechanical"),
      patient(vte_assessments=f"{H2}=mid", prophylaxis="basic;drug"),
      patient(vte_on_admission="Y", vte_diagnosis="Y", vte_assessments=f"{H2}=mid", prophylaxis="mechanical")],
     2, "moderate/high with mechanical prophylaxis, whatever the bleeding risk: the first two"),
    ("basePreventNodaily",
     [patient(prophylaxis="basic"), patient(vte_assessments=f"{H2}=low", prophylaxis="basic"),
      patient(prophylaxis="mechanical"),
      patient(admitted_at="2025-03-03 01:00", discharged_at="2025-03-03 09:00", prophylaxis="basic")],
     2, "basic prophylaxis whatever the risk: the first two; the fourth stayed 8 h"),
    ("zgwBasePreventNodaily",
     [patient(vte_assessments=f"{H2}=mid", prophylaxis="basic"),
      patient(vte_assessments=f"{H2}=low", prophylaxis="basic"),
      patient(vte_assessments=f"{H2}=high", prophylaxis="mechanical"),
      patient(vte_assessments=f"{H2}=high", bleeding_assessments="high", prophylaxis="basic;drug")],
     2, "moderate/high with basic prophylaxis: the first and the fourth"),
    ("highVte",
     [patient(vte_assessments=f"{H2}=high"), patient(vte_assessments=f"{H2}=mid"),
      patient(vte_assessments=f"{H2}=low;{H48}=high"), patient(age=3, vte_assessments=f"{H2}=high")],
     2, "any assessment high: the first and third; the fourth is excluded"),
    ("highVteCheck",
     [patient(vte_assessments=f"{H2}=high", vte_tests="US"), patient(vte_assessments=f"{H2}=high"),
      patient(vte_assessments=f"{H2}=mid", vte_tests="CTPA"), patient(vte_assessments=f"{H2}=high", vte_tests="VQ"),
      patient(age=3, vte_assessments=f"{H2}=high", vte_tests="CTPA")],
     2, "high risk and CTPA, ultrasound or V/Q: the first and fourth"),
]


@pytest.mark.parametrize("field, patients, expected, why", CASES, ids=[c[0] for c in CASES])
def test_process_field(field, patients, expected, why):
    assert one_row(patients)[field] == expected, why


def test_every_field_has_a_case():
    assert {c[0] for c in CASES} | set(OUTCOMES) == set(FIELDS)


# --- outcome fields: one set of VTE patients, every outcome field worked out on it ------------------------

VTE_PATIENTS = [
    patient(vte_on_admission="Y", vte_diagnosis="Y", principal_pte="Y", died="Y"),  # V1 admitted with PTE, died
    patient(vte_diagnosis="Y", new_dvt="Y", surgery="Y"),  # V2 post-operative DVT
    patient(vte_diagnosis="Y", new_pte="Y", died="Y"),  # V3 hospital PTE (not principal), died
    patient(vte_diagnosis="Y", new_dvt="Y", new_pte="Y", surgery="Y", principal_pte="Y", died="Y"),  # V4
    patient(vte_diagnosis="Y"),  # V5 a VTE diagnosis whose 入院病情 is 临床未确定
    patient(vte_on_admission="Y", vte_diagnosis="Y", new_pte="Y", surgery="Y"),  # V6 readmitted, marked hospital PTE
    patient(age=8, vte_diagnosis="Y", new_dvt="Y", surgery="Y"),  # V7 a child with hospital DVT
    patient(died="Y"),  # V8 died without VTE
    patient(surgery="Y"),  # V9 operated, no VTE
]
OUTCOMES = {
    "chuyuanVte": (7, "V1-V7: any VTE diagnosis, present on admission or not, excluded patients too"),
    "hospitalVte": (5, "V2, V3, V4, V6, V7: a hospital-associated DVT or PTE"),
    "newDvt": (2, "V2, V7: hospital DVT without hospital PTE"),
    "newPe": (2, "V3, V6: hospital PTE without hospital DVT (V6's VTE on admission does not matter)"),
    "newDvtAndPe": (1, "V4"),
    "vteDie": (3, "V1, V3, V4: a VTE diagnosis and died; V8 died without VTE"),
    "peDie": (2, "V1, V4: principal diagnosis PTE and died"),
    "surgery": (5, "V2, V4, V6, V7, V9"),
    "surgeryDvt": (2, "V2, V7"),
    "surgeryPe": (1, "V6"),
    "surgeryDvtAndPe": (1, "V4"),
}


@pytest.mark.parametrize("field", list(OUTCOMES))
def test_outcome_field(field):
    expected, why = OUTCOMES[field]
    assert one_row(VTE_PATIENTS)[field] == expected, why


# --- rows: campus × department ------------------------------------------------------------------------


def test_one_row_per_campus_and_department_with_distinct_patients_per_row():
    rows = compute([
        patient(hospital="总院", dept="0403"), patient(hospital="总院", dept="0403"),
        patient(hospital="总院", dept="0301"), patient(hospital="东院区", dept="0403"),
        # one patient discharged from two departments on one day (a short first stay)
        patient(patient_id="x", dept="0301", admitted_at="2025-03-03 00:10", discharged_at="2025-03-03 03:00"),
        patient(patient_id="x", dept="0304", admitted_at="2025-03-01 03:00", discharged_at="2025-03-03 00:05"),
    ])
    assert list(rows) == [("东院区", "0403"), ("总院", "0301"), ("总院", "0304"), ("总院", "0403")]
    assert {k: (r["dischargeHospital"], r["distinctDischargeHospital"]) for k, r in rows.items()} == {
        ("东院区", "0403"): (1, 1), ("总院", "0301"): (2, 2), ("总院", "0304"): (1, 1), ("总院", "0403"): (2, 2)}


# --- the example file of docs/calculator.md -----------------------------------------------------------

# Worked out by hand in docs/calculator.md ("The example file"), in the standard's field order.
EXAMPLE_ROWS = {
    ("东院区", "0301"): [1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 0, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0],
    ("东院区", "0304"): [4, 3, 1, 1, 3, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0],
    ("总院", "0301"): [5, 5, 3, 2, 3, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 0, 0, 1, 2, 1, 0, 0, 0, 0],
    ("总院", "0403"): [4, 4, 3, 3, 3, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 2, 3, 2, 2, 2, 1, 1, 1, 0, 0, 0, 0, 4, 1, 0, 0],
}


def test_the_example_file_gives_the_documented_counts():
    day = calculate_file(EXAMPLE_CSV)
    assert day.date.isoformat() == "2025-03-03" and day.episodes == 14 and day.excluded == 6
    assert {(r["hospital"], r["dept"]): [r[name] for name in FIELDS] for r in day.rows} == EXAMPLE_ROWS
