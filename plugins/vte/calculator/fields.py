"""One rule per count field: which discharged episodes a field counts (docs/calculator.md quotes the standard).

A field counts the episodes of its department row that meet its condition (``CONDITIONS``), except
``distinctDischargeHospital``, which counts distinct patient ids. Whether a field leaves out the
patients excluded from quality control (Table 1 note 3) is not decided here but read from the domain's
one definition (``count_fields.csv``, column ``excludes_non_assessable``), so ``counts`` applies the
exclusion exactly where the standard's Table 1 says 是.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from vte import domain
from vte.calculator.records import Episode

DAY = timedelta(hours=24)
MODERATE_OR_HIGH = ("mid", "high")
DISTINCT_FIELD = "distinctDischargeHospital"  # counts patients, not episodes


# --- exclusions (Table 1 note 3; B.1 "不纳入质控患者"; A.6 "排除不评估患者") ---------------------------------


def under_13(e: Episode) -> bool:
    """年龄小于13周岁: the age in completed years at admission is below 13."""
    return e.age < 13


def stay_at_most_24h(e: Episode) -> bool:
    """住院时间≤24h (B.1; Table 1 says 不足24小时, A.6 24小时内出院): discharge − admission ≤ 24 h."""
    return e.discharged_at - e.admitted_at <= DAY


def vte_present_on_admission(e: Episode) -> bool:
    """诊断编码内容为VTE相关诊断，且入院病情为“有”."""
    return e.vte_on_admission


EXCLUSIONS: dict[str, Callable[[Episode], bool]] = {
    "age_under_13": under_13,
    "stay_at_most_24h": stay_at_most_24h,
    "vte_on_admission": vte_present_on_admission,
}


def excluded(e: Episode) -> bool:
    """Not in quality control: any one exclusion suffices."""
    return any(rule(e) for rule in EXCLUSIONS.values())


# --- facts of one episode -----------------------------------------------------------------------------


def assessed(e: Episode) -> bool:
    return bool(e.vte_assessments)


def assessed_within_24h(e: Episode) -> bool:
    """Some VTE assessment at most 24 h after admission (none is before it: records.py checks)."""
    return any(a.at - e.admitted_at <= DAY for a in e.vte_assessments)


def moderate_or_high(e: Episode) -> bool:
    """Some VTE assessment (任何一次 / 不同动态时点) gave moderate or high risk."""
    return any(a.level in MODERATE_OR_HIGH for a in e.vte_assessments)


def moderate_or_high_within_24h(e: Episode) -> bool:
    """One assessment both within 24 h of admission and at moderate or high risk."""
    return any(a.level in MODERATE_OR_HIGH and a.at - e.admitted_at <= DAY for a in e.vte_assessments)


def high_risk(e: Episode) -> bool:
    return any(a.level == "high" for a in e.vte_assessments)


def reassessed(e: Episode) -> bool:
    """有2次以上VTE风险评估纪录 (Table 1 note 2): two or more assessments (at different times)."""
    return len(e.vte_assessments) >= 2


def bleeding_assessed(e: Episode) -> bool:
    return bool(e.bleeding_assessments)


def high_bleeding(e: Episode) -> bool:
    """任何一次出血风险评估…为高风险: some bleeding assessment gave high risk."""
    return "high" in e.bleeding_assessments


def low_bleeding(e: Episode) -> bool:
    """Assessed for bleeding risk, and never found at high risk."""
    return bleeding_assessed(e) and not high_bleeding(e)


def hospital_dvt_only(e: Episode) -> bool:
    return e.new_dvt and not e.new_pte


def hospital_pte_only(e: Episode) -> bool:
    return e.new_pte and not e.new_dvt


def hospital_dvt_and_pte(e: Episode) -> bool:
    return e.new_dvt and e.new_pte


def hospital_vte(e: Episode) -> bool:
    return e.new_dvt or e.new_pte


# --- the 31 fields: the condition an episode meets to be counted ---------------------------------------

CONDITIONS: dict[str, Callable[[Episode], bool]] = {
    "dischargeHospital": lambda e: True,
    DISTINCT_FIELD: lambda e: True,  # distinct patient ids of the row's episodes
    "dischargeHospitalNodaily": lambda e: True,
    "riskAssessment": assessed,
    "initRiskAssessment": assessed_within_24h,
    "riskAssessmentInDaily": assessed_within_24h,
    "highRiskAssessment": moderate_or_high,
    "highRiskAssessmentInDaily": moderate_or_high_within_24h,
    "repeatRiskAssessment": reassessed,
    "hemorrhageRiskAssessment": lambda e: moderate_or_high(e) and bleeding_assessed(e),
    # Restricted to moderate/high VTE risk, as its denominator hemorrhageRiskAssessment (rule Q.B.1.5).
    "highHemorrhageRiskAssessment": lambda e: moderate_or_high(e) and high_bleeding(e),
    "highRiskLowHemorrhage": lambda e: moderate_or_high(e) and low_bleeding(e),
    # 无出血风险 = not at high bleeding risk (a patient without a bleeding assessment has no recorded risk).
    "precaution": lambda e: moderate_or_high(e) and not high_bleeding(e) and bool(e.prophylaxis),
    "precautionNoBase": lambda e: (moderate_or_high(e) and not high_bleeding(e)
                                   and bool(e.prophylaxis & {"mechanical", "drug"})),
    "medicine": lambda e: moderate_or_high(e) and low_bleeding(e) and "drug" in e.prophylaxis,
    "mechanical": lambda e: moderate_or_high(e) and "mechanical" in e.prophylaxis,
    "basePreventNodaily": lambda e: "basic" in e.prophylaxis,
    "zgwBasePreventNodaily": lambda e: moderate_or_high(e) and "basic" in e.prophylaxis,
    "highVte": high_risk,
    "highVteCheck": lambda e: high_risk(e) and bool(e.vte_tests),
    "chuyuanVte": lambda e: e.vte_diagnosis,
    "hospitalVte": hospital_vte,
    "newDvt": hospital_dvt_only,
    "newPe": hospital_pte_only,
    "newDvtAndPe": hospital_dvt_and_pte,
    "vteDie": lambda e: e.vte_diagnosis and e.died,
    "peDie": lambda e: e.principal_pte and e.died,
    "surgery": lambda e: e.surgery,
    "surgeryDvt": lambda e: e.surgery and hospital_dvt_only(e),
    "surgeryPe": lambda e: e.surgery and hospital_pte_only(e),
    "surgeryDvtAndPe": lambda e: e.surgery and hospital_dvt_and_pte(e),
}


def applies_exclusions(name: str) -> bool:
    """Table 1's 排除不纳入质控患者 column, as the domain definition holds it."""
    return domain.fields_by_name()[name].excludes_non_assessable


def counts(name: str, e: Episode) -> bool:
    """Whether field ``name`` counts episode ``e`` (for distinctDischargeHospital: counts its patient)."""
    if applies_exclusions(name) and excluded(e):
        return False
    return CONDITIONS[name](e)
