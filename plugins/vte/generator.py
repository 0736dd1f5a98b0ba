"""Synthetic institutions and their daily submissions, for demos and load tests.

Counts come from simulated patient episodes: each department-day has a number of discharges, and every
other count is the number of those episodes that pass one more clinical step (assessed, assessed within
24 h, moderate/high risk, bleeding-assessed, given prophylaxis, developed VTE, ...). The steps are nested
binomial and multinomial draws, so every consistency rule of ``vte.domain.rules()`` holds by construction;
defects are then injected on purpose, at the rates asked, and recorded.

Institutions differ in size and quality, volumes follow the week and the season, and process measures
improve slowly after an institution joins. Everything is deterministic by seed, and each institution has
its own random stream, so one institution's data does not depend on which others are generated.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import shutil
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import psycopg
from tqdm import tqdm

from vte import domain, registry
from vte.config import REFERENCE_DIR, Settings

REGION_FILE = REFERENCE_DIR / "regions" / "330000_2023.csv"
INSTITUTIONS_FILE = "institutions.csv"
SUBMISSIONS_DIR = "submissions"
CREDENTIALS_FILE = "credentials.json"
MAX_INSTITUTIONS = 20_000  # a national scale; keeps each county under the 999 codes it has

REFUSABLE_KINDS = (
    "missing_field", "extra_field", "negative_count", "non_integer",
    "bad_date", "duplicate_row", "empty_data", "string_count",
)


@dataclass(frozen=True)
class SyntheticInstitution:
    code: str  # H + county code + 3 digits, e.g. H330328001
    name: str  # e.g. 文成县人民医院
    level: str  # 二级 | 三级
    county_code: str  # county-level GB/T 2260 code
    community: str | None  # county medical community (医共体), e.g. 文成县医共体
    joined_on: date  # first report date
    campuses: tuple[str, ...]  # the rows' `hospital` values
    departments: tuple[str, ...]  # the rows' `dept` ids (see DEPARTMENTS)


@dataclass(frozen=True)
class Defects:
    """Rates of injected defects, each in [0, 1]."""

    refusable: float = 0.0  # share of submissions made malformed
    quarantine: float = 0.0  # share of department rows given a numerator > denominator break
    warning: float = 0.0  # share of department rows given a break of a warning rule

    def __post_init__(self) -> None:
        for name in ("refusable", "quarantine", "warning"):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"the {name} rate must be between 0 and 1, got {rate}")
        if self.quarantine + self.warning > 1.0:
            raise ValueError(
                f"a row gets at most one defect: quarantine + warning rates must not exceed 1, "
                f"got {self.quarantine} + {self.warning}"
            )


@dataclass(frozen=True)
class GeneratedSubmission:
    institution_code: str
    date: str
    data: list[dict]
    # None, or ';'-separated marks '<severity>:<kind or rule id>[@<row index>]', e.g. 'quarantine:Q.B.2.2@4'
    defect: str | None


@dataclass(frozen=True)
class DefectMark:
    severity: str  # 'refusable' | 'quarantine' | 'warning'
    detail: str  # a refusable kind or a rule id
    row: int | None  # index in data of the row concerned, when there is one


@dataclass(frozen=True)
class DatasetSummary:
    out_dir: Path
    institutions: int
    submissions: int
    rows: int
    defects: dict[str, int] = field(default_factory=dict)  # '<severity>:<detail>' -> count


def parse_defect(defect: str | None) -> list[DefectMark]:
    marks = []
    for part in (defect or "").split(";"):
        if not part:
            continue
        severity, _, rest = part.partition(":")
        detail, _, row = rest.partition("@")
        marks.append(DefectMark(severity, detail, int(row) if row else None))
    return marks


# --- departments --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Department:
    code: str  # the `dept` id, after the 诊疗科目 codes
    name: str
    daily_discharges: float  # mean in a large 三级 hospital
    surgery_share: float  # episodes with an operation (including interventional procedures)
    midhigh_share: float  # assessed patients at moderate/high VTE risk
    excluded_share: float  # age < 13, stay <= 24 h or VTE on admission: outside quality control
    hospital_vte_rate: float  # hospital-associated VTE per episode
    admitted_vte_rate: float  # VTE present on admission, confirmed by discharge


DEPARTMENTS = tuple(Department(*row) for row in (
    ("0202", "全科医疗科", 2.0, 0.03, 0.35, 0.10, 0.0012, 0.0015),
    ("0301", "呼吸内科", 8.0, 0.05, 0.40, 0.08, 0.0020, 0.0060),
    ("0302", "消化内科", 7.0, 0.15, 0.25, 0.12, 0.0010, 0.0010),
    ("0303", "神经内科", 8.0, 0.05, 0.45, 0.08, 0.0025, 0.0015),
    ("0304", "心血管内科", 9.0, 0.30, 0.35, 0.10, 0.0015, 0.0030),
    ("0305", "血液内科", 3.0, 0.02, 0.35, 0.10, 0.0030, 0.0020),
    ("0306", "肾内科", 3.0, 0.10, 0.30, 0.08, 0.0015, 0.0015),
    ("0307", "内分泌科", 4.0, 0.02, 0.25, 0.10, 0.0008, 0.0008),
    ("0308", "风湿免疫科", 2.0, 0.02, 0.30, 0.08, 0.0015, 0.0025),
    ("0310", "老年病科", 4.0, 0.03, 0.55, 0.05, 0.0030, 0.0040),
    ("0401", "普通外科", 8.0, 0.80, 0.50, 0.12, 0.0020, 0.0008),
    ("0402", "神经外科", 4.0, 0.70, 0.60, 0.06, 0.0040, 0.0010),
    ("0403", "骨科", 9.0, 0.85, 0.75, 0.06, 0.0040, 0.0015),
    ("0404", "泌尿外科", 6.0, 0.80, 0.40, 0.15, 0.0015, 0.0005),
    ("0405", "胸外科", 4.0, 0.80, 0.60, 0.06, 0.0030, 0.0010),
    ("0406", "心脏大血管外科", 2.0, 0.85, 0.65, 0.04, 0.0035, 0.0020),
    ("0407", "烧伤科", 1.0, 0.60, 0.45, 0.10, 0.0025, 0.0008),
    ("0408", "整形外科", 1.0, 0.90, 0.20, 0.30, 0.0008, 0.0003),
    ("0409", "血管外科", 2.0, 0.75, 0.55, 0.08, 0.0030, 0.0400),
    ("0410", "甲状腺乳腺外科", 4.0, 0.90, 0.30, 0.15, 0.0008, 0.0003),
    ("0411", "胃肠外科", 5.0, 0.85, 0.60, 0.06, 0.0030, 0.0008),
    ("0412", "肝胆胰外科", 4.0, 0.80, 0.60, 0.06, 0.0030, 0.0010),
    ("0501", "妇科", 6.0, 0.70, 0.30, 0.20, 0.0010, 0.0005),
    ("0502", "产科", 8.0, 0.35, 0.25, 0.05, 0.0006, 0.0003),
    ("0701", "儿科", 8.0, 0.02, 0.05, 0.85, 0.0001, 0.0001),
    ("0702", "新生儿科", 3.0, 0.01, 0.05, 0.98, 0.0001, 0.0000),
    ("0800", "小儿外科", 2.0, 0.80, 0.08, 0.85, 0.0002, 0.0001),
    ("1000", "眼科", 4.0, 0.85, 0.05, 0.35, 0.0001, 0.0001),
    ("1100", "耳鼻咽喉科", 4.0, 0.70, 0.10, 0.20, 0.0003, 0.0001),
    ("1200", "口腔科", 1.0, 0.50, 0.05, 0.30, 0.0002, 0.0001),
    ("1300", "皮肤科", 1.0, 0.05, 0.10, 0.15, 0.0005, 0.0005),
    ("1500", "精神科", 1.0, 0.00, 0.15, 0.05, 0.0008, 0.0005),
    ("1600", "感染性疾病科", 2.0, 0.02, 0.30, 0.10, 0.0015, 0.0010),
    ("1901", "肿瘤内科", 6.0, 0.10, 0.50, 0.10, 0.0030, 0.0040),
    ("1902", "放射治疗科", 2.0, 0.02, 0.45, 0.10, 0.0025, 0.0030),
    ("2000", "急诊医学科", 3.0, 0.10, 0.40, 0.40, 0.0020, 0.0050),
    ("2100", "康复医学科", 2.0, 0.02, 0.45, 0.03, 0.0025, 0.0020),
    ("2800", "重症医学科", 1.0, 0.30, 0.85, 0.05, 0.0120, 0.0100),
    ("2801", "外科重症监护室", 1.0, 0.60, 0.85, 0.05, 0.0120, 0.0080),
    ("2802", "急诊重症监护室", 1.0, 0.20, 0.85, 0.05, 0.0100, 0.0120),
    ("5000", "中医科", 2.0, 0.02, 0.30, 0.08, 0.0010, 0.0010),
    ("5001", "针灸推拿科", 1.0, 0.00, 0.25, 0.05, 0.0008, 0.0005),
))
DEPARTMENTS_BY_CODE = {d.code: d for d in DEPARTMENTS}
_CORE_DEPARTMENTS = ("0301", "0303", "0304", "0401", "0403", "0501", "0502", "0701", "2000", "2800")
_MATERNAL_DEPARTMENTS = ("0501", "0502", "0701", "0702", "2800")
_MATERNAL_OPTIONAL = ("0410", "0800", "1000", "1100", "1200", "2000", "2100")
_TCM_DEPARTMENTS = ("5000", "5001", "2100")


def department_units(institution: SyntheticInstitution) -> list[tuple[str, str]]:
    """The (hospital, dept) pairs an institution reports: departments are spread over its campuses in turn."""
    campuses = institution.campuses
    return [(campuses[i % len(campuses)], dept) for i, dept in enumerate(institution.departments)]


# --- institutions -------------------------------------------------------------------------------------

_DIGITS = "零一二三四五六七八九"
_PROVINCIAL_HOSPITALS = {  # 三级 hospitals named after the province or a university, by city
    "330100": ("浙江省人民医院", "浙江大学医学院附属第一医院", "浙江大学医学院附属第二医院", "浙江省中医院",
               "浙江大学医学院附属邵逸夫医院", "浙江省肿瘤医院", "浙江大学医学院附属妇产科医院"),
    "330300": ("温州医科大学附属第一医院", "温州医科大学附属第二医院"),
}
_PRIVATE_BRANDS = ("仁爱", "康华", "博爱", "同济", "华康", "东方")
_EXTRA_CAMPUSES = ("东院区", "西院区", "南院区", "北院区", "新院区")


def _read_regions() -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """City names by code, and (county code, county name, city code) for every county-level division."""
    with open(REGION_FILE, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    cities = {r["region_code"]: r["region_name"] for r in rows if r["region_level"] == "city"}
    counties = [(r["region_code"], r["region_name"], r["parent_code"]) for r in rows if r["region_level"] == "county"]
    return cities, counties


def _chinese_number(n: int) -> str:
    """1-99 in Chinese numerals (十一, 二十三, ...)."""
    tens, units = divmod(n, 10)
    return ((_DIGITS[tens] if tens > 1 else "") + ("十" if tens else "") + (_DIGITS[units] if units else "")) or "零"


def _numbered(prefix: str, start: int, stop: int | None = None) -> Iterator[str]:
    for n in range(start, stop) if stop else itertools.count(start):
        yield f"{prefix}第{_chinese_number(n) if n < 100 else n}人民医院"


def _name_candidates(prefix: str, short: str) -> Iterator[str]:
    """Hospital names of one place, most common first, then numbered without end."""
    yield from (f"{prefix}人民医院", f"{prefix}中医院", f"{prefix}第二人民医院", f"{prefix}妇幼保健院",
                f"{prefix}中西医结合医院", f"{prefix}第三人民医院")
    yield from (f"{short}{brand}医院" for brand in _PRIVATE_BRANDS)
    yield from _numbered(prefix, 4)


def _tertiary_candidates(city_code: str, city: str, district: str) -> Iterator[str]:
    """A city's large hospitals first; when the city has no more, the district's own hospitals."""
    yield from _PROVINCIAL_HOSPITALS.get(city_code, ())
    yield from (f"{city}第一人民医院", f"{city}中心医院", f"{city}中医院", f"{city}第二人民医院",
                f"{city}妇幼保健院", f"{city}第三人民医院", f"{city}中西医结合医院")
    yield from _numbered(city, 4, stop=8)
    yield from (f"{city}{district}第一人民医院", f"{city}{district}中医院")
    yield from _name_candidates(city + district, district[:-1])


def _first_unused(candidates: Iterator[str], used: set[str]) -> str:
    name = next(n for n in candidates if n not in used)
    used.add(name)
    return name


def _departments_for(name: str, level: str, rng: np.random.Generator) -> tuple[str, ...]:
    if "妇幼" in name or "妇产" in name:
        extra = rng.choice(_MATERNAL_OPTIONAL, size=int(rng.integers(3, len(_MATERNAL_OPTIONAL) + 1)), replace=False)
        return tuple(sorted({*_MATERNAL_DEPARTMENTS, *extra.tolist()}))
    core = set(_CORE_DEPARTMENTS) | (set(_TCM_DEPARTMENTS) if "中医" in name else set())
    size = int(rng.integers(32, 43) if level == "三级" else rng.integers(26, 39))
    others = [d.code for d in DEPARTMENTS if d.code not in core]
    weights = np.array([DEPARTMENTS_BY_CODE[c].daily_discharges for c in others])
    extra = rng.choice(others, size=max(0, min(size - len(core), len(others))), replace=False,
                       p=weights / weights.sum())
    return tuple(sorted(core | set(extra.tolist())))


def synthetic_institutions(count: int, seed: int, start: date) -> list[SyntheticInstitution]:
    """`count` institutions spread over Zhejiang's counties; most join on `start`, some within half a year."""
    if not 1 <= count <= MAX_INSTITUTIONS:
        raise ValueError(f"the number of institutions must be between 1 and {MAX_INSTITUTIONS}, got {count}")
    rng = np.random.default_rng([seed, 0x1257])
    cities, counties = _read_regions()
    # Districts of cities and county-level cities hold more hospitals than rural counties.
    weights = np.array([1.3 if name.endswith("区") else 1.2 if name.endswith("市") else 0.8
                        for _, name, _ in counties])
    picks = rng.choice(len(counties), size=count, p=weights / weights.sum())
    used_names: set[str] = set()
    # Codes are H + county + a 3-digit number: sparse within a county, as in a registry where codes are
    # never reused, so that datasets of different seeds rarely share codes.
    sequences = {i: iter(sorted(rng.choice(np.arange(1, 1000), size=int((picks == i).sum()), replace=False)))
                 for i in set(picks.tolist())}
    institutions = []
    for i in picks.tolist():
        county_code, county, city_code = counties[i]
        city = cities[city_code]
        is_district = county.endswith("区")
        level = "三级" if rng.random() < (0.4 if is_district else 0.25 if county.endswith("市") else 0.1) else "二级"
        short = county[:-1] if len(county) > 2 else county
        if is_district and level == "三级":
            name = _first_unused(_tertiary_candidates(city_code, city, county), used_names)
        else:
            prefix = city + county if is_district else county
            name = _first_unused(_name_candidates(prefix, short), used_names)
        community_share = 0.4 if is_district else 0.8
        community = (f"{city + county if is_district else county}医共体"
                     if "妇幼" not in name and rng.random() < community_share and not (is_district and level == "三级")
                     else None)
        extra_campuses = int(rng.choice(3, p=[0.4, 0.45, 0.15]) if level == "三级" else rng.random() < 0.15)
        campuses = ("总院", *sorted(rng.choice(_EXTRA_CAMPUSES, size=extra_campuses, replace=False).tolist(),
                                    key=_EXTRA_CAMPUSES.index))
        joined_on = start if rng.random() < 0.85 else start + timedelta(days=int(rng.integers(1, 181)))
        institutions.append(SyntheticInstitution(
            code=f"H{county_code}{next(sequences[i]):03d}",
            name=name,
            level=level,
            county_code=county_code,
            community=community,
            joined_on=joined_on,
            campuses=campuses,
            departments=_departments_for(name, level, rng),
        ))
    return sorted(institutions, key=lambda inst: inst.code)


# --- counts -------------------------------------------------------------------------------------------

_WEEKDAY_VOLUME = np.array([1.05, 1.10, 1.10, 1.10, 1.20, 0.80, 0.65])  # Monday first; discharges avoid weekends
_VTE_KIND_SHARES = [0.72, 0.16, 0.12]  # hospital-associated VTE: DVT alone, PTE alone, DVT with PTE


def _logit(p):
    return np.log(p / (1 - p))


def _expit(x):
    return 1 / (1 + np.exp(-x))


class _Propensities:
    """Per (day, department) probabilities of each clinical step for one institution.

    An institution level, department offsets and a yearly improvement after joining, on the logit scale.
    """

    def __init__(self, rng: np.random.Generator, years: np.ndarray, n_units: int, level: str):
        self.rng, self.years, self.n_units = rng, years, n_units
        self.level_bonus = 0.3 if level == "三级" else 0.0
        self.improvement = max(-0.1, rng.normal(0.3, 0.15))  # logit per year

    def step(self, mean: float, spread: float, dept_spread: float, improving: bool = True) -> np.ndarray:
        rng = self.rng
        institution = _logit(mean) + rng.normal(0, spread) + (self.level_bonus if improving else 0.0)
        departments = rng.normal(0, dept_spread, self.n_units)
        trend = self.improvement * self.years if improving else np.zeros_like(self.years)
        return _expit(institution + departments[None, :] + trend[:, None])


def _simulate_counts(institution: SyntheticInstitution, days: list[date], rng: np.random.Generator) -> np.ndarray:
    """Counts of shape (days, departments, 31 fields in the standard's order)."""
    depts = [DEPARTMENTS_BY_CODE[code] for code in institution.departments]
    n_units = len(depts)
    day_numbers = np.array([d.toordinal() for d in days])
    years = (day_numbers - institution.joined_on.toordinal()) / 365.25
    weekday = _WEEKDAY_VOLUME[np.array([d.weekday() for d in days])]
    season = 1 + 0.06 * np.cos(2 * np.pi * (np.array([d.timetuple().tm_yday for d in days]) - 15) / 365.25)

    def column(attr: str) -> np.ndarray:
        return np.array([getattr(d, attr) for d in depts])[None, :]

    def binom(n: np.ndarray, p) -> np.ndarray:
        return rng.binomial(n, np.broadcast_to(p, n.shape))

    scale = rng.lognormal(0.0, 0.35) * (1.0 if institution.level == "三级" else 0.3)
    unit_size = rng.lognormal(0.0, 0.3, n_units)[None, :]
    mean_volume = (scale * unit_size * column("daily_discharges") * weekday[:, None] * season[:, None]
                   * (1 + 0.03 * years)[:, None])
    shape = mean_volume.shape
    discharges = rng.poisson(mean_volume * rng.gamma(20.0, 1 / 20.0, shape))  # over-dispersed day to day

    p = _Propensities(rng, years, n_units, institution.level)
    midhigh = _expit(_logit(np.clip(column("midhigh_share"), 0.01, 0.99)) + rng.normal(0, 0.2, (1, n_units)))
    assess = p.step(0.91, 0.6, 0.3)
    within_24h = p.step(0.93, 0.5, 0.3)
    bleed_assess = p.step(0.86, 0.7, 0.3)
    high_bleed = p.step(0.09, 0.3, 0.2, improving=False)
    any_prophylaxis = p.step(0.96, 0.5, 0.3)
    # B.2.2 (drug/mechanical prophylaxis among moderate/high risk) varies most between hospitals: around
    # the 70 % target, some above and some below, and it is the measure that improves most.
    b22 = _expit(_logit(rng.uniform(0.55, 0.85)) + rng.normal(0, 0.25, (1, n_units))
                 + 1.5 * p.improvement * years[:, None])
    no_base = np.clip(b22 / ((1 - bleed_assess * high_bleed) * any_prophylaxis), 0, 1)

    c: dict[str, np.ndarray] = {}
    c["dischargeHospital"] = n = discharges
    c["distinctDischargeHospital"] = n - binom(n, 0.01)
    c["dischargeHospitalNodaily"] = nodaily = binom(n, 1 - column("excluded_share"))
    c["riskAssessment"] = assessed = binom(nodaily, assess)
    c["riskAssessmentInDaily"] = early = binom(assessed, within_24h)
    early_high = binom(early, midhigh)
    c["highRiskAssessment"] = high = early_high + binom(assessed - early, midhigh)
    c["highRiskAssessmentInDaily"] = early_high
    c["initRiskAssessment"] = early + binom(n - nodaily, assess * within_24h)
    c["repeatRiskAssessment"] = binom(assessed, p.step(0.55, 0.5, 0.4))
    c["hemorrhageRiskAssessment"] = bleed_assessed = binom(high, bleed_assess)
    c["highHemorrhageRiskAssessment"] = bleeding = binom(bleed_assessed, high_bleed)
    c["highRiskLowHemorrhage"] = low_bleeding = bleed_assessed - bleeding
    c["precaution"] = prophylaxis = binom(high - bleeding, any_prophylaxis)
    c["precautionNoBase"] = active = binom(prophylaxis, no_base)
    c["medicine"] = binom(low_bleeding, p.step(0.5, 0.4, 0.4))
    # High bleeding risk rules out drugs but not compression devices.
    c["mechanical"] = binom(active, p.step(0.7, 0.4, 0.3)) + binom(bleeding, p.step(0.7, 0.4, 0.3))
    c["zgwBasePreventNodaily"] = basic_high = binom(high, p.step(0.9, 0.5, 0.3))
    c["basePreventNodaily"] = basic_high + binom(nodaily - high, p.step(0.65, 0.5, 0.3))
    c["highVte"] = very_high = binom(high, p.step(0.4, 0.3, 0.3, improving=False))
    c["highVteCheck"] = binom(very_high, p.step(0.35, 0.5, 0.4))

    c["surgery"] = surgery = binom(n, column("surgery_share"))
    vte_rate = column("hospital_vte_rate") * rng.lognormal(0.0, 0.3) * np.exp(-0.1 * years)[:, None]
    surgical = rng.multinomial(binom(surgery, np.clip(vte_rate * 1.3, 0, 1)), _VTE_KIND_SHARES)
    medical = rng.multinomial(binom(n - surgery, np.clip(vte_rate * 0.8, 0, 1)), _VTE_KIND_SHARES)
    c["surgeryDvt"], c["surgeryPe"], c["surgeryDvtAndPe"] = (surgical[..., k] for k in range(3))
    c["newDvt"], c["newPe"], c["newDvtAndPe"] = (surgical[..., k] + medical[..., k] for k in range(3))
    c["hospitalVte"] = hospital_vte = surgical.sum(axis=-1) + medical.sum(axis=-1)
    c["chuyuanVte"] = confirmed = hospital_vte + binom(n - hospital_vte, column("admitted_vte_rate"))
    c["vteDie"] = died = binom(confirmed, 0.04)
    c["peDie"] = binom(died, 0.35)
    return np.stack([c[name] for name in domain.count_field_names()], axis=-1)


# --- defects ------------------------------------------------------------------------------------------


def _quarantine_rules() -> list[domain.Rule]:
    return [r for r in domain.rules() if r.severity == "quarantine"]


def _warning_rules() -> list[domain.Rule]:
    """Warning rules that compare a pair no quarantine rule compares (so breaking one is only a warning)."""
    quarantine_pairs = {(r.lesser, r.greater) for r in _quarantine_rules()}
    return [r for r in domain.rules() if r.severity == "warning" and (r.lesser, r.greater) not in quarantine_pairs]


def _breaks_quarantine(row: dict) -> bool:
    return any(r.is_broken_by(row) for r in _quarantine_rules())


def _break_quarantine(row: dict, rng: np.random.Generator) -> str:
    """Raise a numerator above its denominator; each numerator is the lesser field of one quarantine rule only."""
    rules = _quarantine_rules()
    rule = rules[int(rng.integers(len(rules)))]
    row[rule.lesser] = row[rule.greater] + int(rng.integers(1, 4))
    return rule.rule_id


def _break_warning(row: dict, rng: np.random.Generator) -> str:
    """Break a warning rule without breaking a quarantine rule, raising its lesser or lowering its greater field."""
    rules = _warning_rules()
    for index in rng.permutation(len(rules)).tolist():
        rule = rules[index]
        raised = {**row, rule.lesser: row[rule.greater] + 1}
        lowered = {**row, rule.greater: row[rule.lesser] - 1} if row[rule.lesser] > 0 else None
        for candidate in (raised, lowered):
            if candidate is not None and not _breaks_quarantine(candidate):
                row.update(candidate)
                return rule.rule_id
    raise RuntimeError(f"no warning rule can be broken alone in row {row}")


def _bad_date(day: date, rng: np.random.Generator) -> str:
    forms = (day.strftime("%Y/%m/%d"), day.strftime("%Y%m%d"), day.strftime("%d-%m-%Y"),
             f"{day.year}-02-30", day.strftime("%Y-%m-%dT00:00:00"))
    return forms[int(rng.integers(len(forms)))]


def _make_refusable(kind: str, day: date, rows: list[dict], rng: np.random.Generator) -> tuple[str, list[dict], str]:
    """Malform one submission in the named way; returns (date, data, mark)."""
    date_text = day.isoformat()
    index = int(rng.integers(len(rows)))
    field_name = domain.count_field_names()[int(rng.integers(len(domain.count_field_names())))]
    row = rows[index]
    if kind == "missing_field":
        del row[field_name]
    elif kind == "extra_field":
        row["bedDays"] = row["dischargeHospital"] * 7
    elif kind == "negative_count":
        row[field_name] = -int(rng.integers(1, 10))
    elif kind == "non_integer":
        row[field_name] = row[field_name] + 0.5
    elif kind == "string_count":
        row[field_name] = str(row[field_name])
    elif kind == "duplicate_row":
        rows.append(dict(row))
        index = len(rows) - 1
    elif kind == "bad_date":
        return _bad_date(day, rng), rows, f"refusable:{kind}"
    elif kind == "empty_data":
        return date_text, [], f"refusable:{kind}"
    else:
        raise ValueError(f"unknown refusable defect {kind!r}")
    return date_text, rows, f"refusable:{kind}@{index}"


# --- submissions --------------------------------------------------------------------------------------


def _institution_rngs(seed: int, code: str) -> tuple[np.random.Generator, np.random.Generator]:
    """Separate streams for counts and defects, so asking for defects leaves the clean counts unchanged."""
    key = zlib.crc32(code.encode())
    return np.random.default_rng([seed, key, 0]), np.random.default_rng([seed, key, 1])


def _generate(
    institution: SyntheticInstitution, start: date, end: date, seed: int, defects: Defects, *, clean_as_text: bool
) -> Iterator[GeneratedSubmission | str]:
    """One institution's days in order; with clean_as_text, days without defects come as ready JSON lines.

    Clean days draw nothing from the defect stream, so both forms yield the same data.
    """
    first = max(start, institution.joined_on)
    days = [first + timedelta(days=k) for k in range((end - first).days + 1)]
    if not days:
        return
    count_rng, defect_rng = _institution_rngs(seed, institution.code)
    counts = _simulate_counts(institution, days, count_rng)
    units = department_units(institution)
    keys = ("hospital", "dept", *domain.count_field_names())
    refused = defect_rng.random(len(days)) < defects.refusable
    refusable_kinds = defect_rng.integers(len(REFUSABLE_KINDS), size=len(days))
    defective_rows = defect_rng.random((len(days), len(units)))
    row_marks = defective_rows < defects.quarantine + defects.warning
    line_template = _clean_line_template(units) if clean_as_text else ""
    for d, day in enumerate(days):
        if clean_as_text and not refused[d] and not row_marks[d].any():
            yield line_template % (day.isoformat(), *counts[d].ravel().tolist())
            continue
        rows = [dict(zip(keys, (hospital, dept, *values)))
                for (hospital, dept), values in zip(units, counts[d].tolist())]
        if refused[d]:
            date_text, rows, mark = _make_refusable(REFUSABLE_KINDS[refusable_kinds[d]], day, rows, defect_rng)
            yield GeneratedSubmission(institution.code, date_text, rows, mark)
            continue
        marks = []
        for index in np.flatnonzero(row_marks[d]).tolist():
            if defective_rows[d, index] < defects.quarantine:
                marks.append(f"quarantine:{_break_quarantine(rows[index], defect_rng)}@{index}")
            else:
                marks.append(f"warning:{_break_warning(rows[index], defect_rng)}@{index}")
        yield GeneratedSubmission(institution.code, day.isoformat(), rows, ";".join(marks) or None)


def institution_submissions(
    institution: SyntheticInstitution, start: date, end: date, seed: int, defects: Defects = Defects()
) -> list[GeneratedSubmission]:
    """One institution's submissions, one per day from max(start, joined_on) to end."""
    return list(_generate(institution, start, end, seed, defects, clean_as_text=False))


def iter_submissions(
    institutions: Iterable[SyntheticInstitution], start: date, end: date, seed: int, defects: Defects = Defects()
) -> Iterator[GeneratedSubmission]:
    """Every institution's daily submissions, institution by institution, in date order."""
    if end < start:
        raise ValueError(f"the end date {end} is before the start date {start}")
    for institution in institutions:
        yield from institution_submissions(institution, start, end, seed, defects)


def expected_submissions(institutions: Iterable[SyntheticInstitution], start: date, end: date) -> int:
    return sum(max(0, (end - max(start, inst.joined_on)).days + 1) for inst in institutions)


# --- files --------------------------------------------------------------------------------------------

_CSV_FIELDS = ("code", "name", "level", "county_code", "community", "joined_on", "campuses", "departments")


def _submission_line(submission: GeneratedSubmission) -> str:
    record = {"date": submission.date, "data": submission.data, "defect": submission.defect}
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def _start_dataset(out_dir: Path, institutions: list[SyntheticInstitution]) -> None:
    """Replace a previous dataset's files (only the files a dataset consists of) and write institutions.csv."""
    shutil.rmtree(out_dir / SUBMISSIONS_DIR, ignore_errors=True)
    (out_dir / CREDENTIALS_FILE).unlink(missing_ok=True)
    (out_dir / SUBMISSIONS_DIR).mkdir(parents=True)
    with open(out_dir / INSTITUTIONS_FILE, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(_CSV_FIELDS)
        for inst in institutions:
            writer.writerow([inst.code, inst.name, inst.level, inst.county_code, inst.community or "",
                             inst.joined_on.isoformat(), "|".join(inst.campuses), "|".join(inst.departments)])


class _Tally:
    def __init__(self) -> None:
        self.submissions = self.rows = 0
        self.defects: Counter[str] = Counter()

    def add(self, submission: GeneratedSubmission) -> None:
        self.submissions += 1
        self.rows += len(submission.data)
        self.defects.update(f"{m.severity}:{m.detail}" for m in parse_defect(submission.defect))

    def merge(self, other: _Tally) -> None:
        self.submissions += other.submissions
        self.rows += other.rows
        self.defects.update(other.defects)

    def summary(self, out_dir: Path, institutions: int) -> DatasetSummary:
        return DatasetSummary(out_dir, institutions, self.submissions, self.rows, dict(sorted(self.defects.items())))


def _progress_bar(progress: bool, total: int | None) -> tqdm:
    return tqdm(total=total, unit="submission", disable=not progress, unit_scale=True, smoothing=0.05)


def write_dataset(
    out_dir: Path,
    institutions: Iterable[SyntheticInstitution],
    submissions: Iterable[GeneratedSubmission],
    *,
    progress: bool = True,
    total: int | None = None,
) -> DatasetSummary:
    """Write institutions.csv and submissions/<code>.jsonl (one line per date), replacing a previous dataset."""
    out_dir = Path(out_dir)
    institutions = list(institutions)
    _start_dataset(out_dir, institutions)
    tally = _Tally()
    written: set[str] = set()
    current_code, current_file = None, None
    with _progress_bar(progress, total) as bar:
        try:
            for submission in submissions:
                if submission.institution_code != current_code:
                    if current_file:
                        current_file.close()
                    current_code = submission.institution_code
                    mode = "a" if current_code in written else "w"
                    current_file = open(out_dir / SUBMISSIONS_DIR / f"{current_code}.jsonl", mode, encoding="utf-8")
                    written.add(current_code)
                current_file.write(_submission_line(submission))
                tally.add(submission)
                bar.update()
        finally:
            if current_file:
                current_file.close()
    return tally.summary(out_dir, len(institutions))


def _clean_line_template(units: list[tuple[str, str]]) -> str:
    """A %-template of the JSON line of a defect-free day (date, then the counts row by row), as json.dumps
    writes it: building the text directly is several times faster than dicts plus json.dumps."""
    def text(value: str) -> str:
        return json.dumps(value, ensure_ascii=False).replace("%", "%%")

    counts = ",".join(f'"{name}":%d' for name in domain.count_field_names())
    rows = ",".join(f'{{"hospital":{text(hospital)},"dept":{text(dept)},{counts}}}' for hospital, dept in units)
    return f'{{"date":"%s","data":[{rows}],"defect":null}}\n'


def _write_institution(args: tuple) -> _Tally:
    out_dir, institution, start, end, seed, defects = args
    tally = _Tally()
    n_units = len(institution.departments)
    path = out_dir / SUBMISSIONS_DIR / f"{institution.code}.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for item in _generate(institution, start, end, seed, defects, clean_as_text=True):
            if isinstance(item, str):
                f.write(item)
                tally.submissions += 1
                tally.rows += n_units
            else:
                f.write(_submission_line(item))
                tally.add(item)
    if not tally.submissions:  # joined after the last date: no file, as write_dataset
        path.unlink()
    return tally


def generate_dataset(
    out_dir: Path,
    institutions: Iterable[SyntheticInstitution],
    start: date,
    end: date,
    seed: int,
    defects: Defects = Defects(),
    *,
    workers: int | None = None,
    progress: bool = True,
) -> DatasetSummary:
    """The files write_dataset(out_dir, institutions, iter_submissions(...)) writes, institutions in parallel."""
    if end < start:
        raise ValueError(f"the end date {end} is before the start date {start}")
    out_dir = Path(out_dir)
    institutions = list(institutions)
    _start_dataset(out_dir, institutions)
    tally = _Tally()
    jobs = [(out_dir, inst, start, end, seed, defects) for inst in institutions]
    workers = workers or os.cpu_count() or 1
    # The pool starts its processes only when given work: with one worker everything runs in this process.
    with _progress_bar(progress, expected_submissions(institutions, start, end)) as bar, \
            ProcessPoolExecutor(max_workers=workers) as pool:
        for done in pool.map(_write_institution, jobs) if workers > 1 else map(_write_institution, jobs):
            tally.merge(done)
            bar.update(done.submissions)
    return tally.summary(out_dir, len(institutions))


def read_institutions(out_dir: Path) -> list[SyntheticInstitution]:
    with open(Path(out_dir) / INSTITUTIONS_FILE, newline="", encoding="utf-8") as f:
        return [
            SyntheticInstitution(
                code=r["code"],
                name=r["name"],
                level=r["level"],
                county_code=r["county_code"],
                community=r["community"] or None,
                joined_on=date.fromisoformat(r["joined_on"]),
                campuses=tuple(r["campuses"].split("|")),
                departments=tuple(r["departments"].split("|")),
            )
            for r in csv.DictReader(f)
        ]


def read_submissions(out_dir: Path) -> Iterator[GeneratedSubmission]:
    """Every stored submission, institution by institution (in institutions.csv order), in date order."""
    out_dir = Path(out_dir)
    for inst in read_institutions(out_dir):
        path = out_dir / SUBMISSIONS_DIR / f"{inst.code}.jsonl"
        if not path.exists():  # joined after the dataset's last date
            continue
        with open(path, encoding="utf-8") as f:
            for line in f:
                record = json.loads(line)
                yield GeneratedSubmission(inst.code, record["date"], record["data"], record["defect"])


# --- registration -------------------------------------------------------------------------------------


def already_registered(conn: psycopg.Connection, institutions: Iterable[SyntheticInstitution]) -> list[str]:
    codes = [inst.code for inst in institutions]
    return [r[0] for r in conn.execute(
        "select institution_code from registry.institutions where institution_code = any(%s) order by 1", (codes,)
    )]


def register_institutions(
    conn: psycopg.Connection, institutions: Iterable[SyntheticInstitution], settings: Settings | None = None
) -> dict[str, registry.Credentials]:
    """Register every institution and open its account, all or none; refuses if any code is already registered."""
    institutions = list(institutions)
    clashes = already_registered(conn, institutions)
    if clashes:
        shown = ", ".join(clashes[:5]) + (" ..." if len(clashes) > 5 else "")
        raise registry.RegistryError(
            f"{len(clashes)} of the generated institutions are already registered ({shown}): "
            "generate with another seed or use a fresh warehouse"
        )
    with conn.transaction():
        return {
            inst.code: registry.register(conn, code=inst.code, name=inst.name, level=inst.level,
                                         county_code=inst.county_code, community=inst.community,
                                         joined_on=inst.joined_on, settings=settings)
            for inst in institutions
        }


def write_credentials(out_dir: Path, credentials: dict[str, registry.Credentials]) -> Path:
    """credentials.json, readable by its owner only: {code: {"accessKey", "accessSecret"}}."""
    path = Path(out_dir) / CREDENTIALS_FILE
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({code: {"accessKey": c.access_key, "accessSecret": c.access_secret}
                   for code, c in sorted(credentials.items())}, f, indent=1)
    return path
