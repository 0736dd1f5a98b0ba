"""The extract's tables with bilingual headers (Chinese first), shared by the workbook and the CSV files."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from vte.extracts.query import Snapshot

Cell = str | int | Decimal | None

LEVEL_NAMES = {"province": "省 province", "city": "市 city", "county": "区县 county",
               "community": "医共体 community", "institution": "机构 institution", "campus": "院区 campus",
               "department": "科室 department"}


@dataclass(frozen=True)
class Column:
    key: str
    zh: str
    en: str
    kind: str = "text"  # text | count | rate (percent, 4 decimals)

    @property
    def header(self) -> str:
        return f"{self.zh} {self.en}"


@dataclass(frozen=True)
class Table:
    key: str  # file stem of its CSV
    sheet: str  # worksheet name, at most 31 characters
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]
    note: str | None = None  # shown in the workbook under the header when there are no rows
    unit: str | None = None  # the units line under the workbook sheet's title
    source: str | None = None  # the published tables the rows come from, named under the title

    def column_index(self, key: str) -> int:
        return [c.key for c in self.columns].index(key)


INDICATOR_COLUMNS = (
    Column("indicator_id", "指标编号", "Indicator ID"),
    Column("name_zh", "指标名称", "Indicator"),
    Column("name_en", "英文名称", "Indicator (English)"),
    Column("supplementary", "补充指标", "Supplementary"),
    Column("numerator", "分子", "Numerator", "count"),
    Column("denominator", "分母", "Denominator", "count"),
    Column("rate", "指标值(%)", "Rate (%)", "rate"),
    Column("target", "目标值(%)", "Target (%)", "rate"),
    Column("met", "是否达标", "Met target"),
    Column("rate_same_period_last_year", "去年同期(%)", "Same period last year (%)", "rate"),
    Column("change_pp", "同比变化(百分点)", "Change (percentage points)", "rate"),
    Column("partial", "部分期间", "Partial period"),
    Column("small_denominator", "分母过小", "Small denominator"),
)
# The marks of a value: its period not over or its expected days not all in (fct_indicator_values
# .is_partial_period), and a denominator too small for a stable rate (.is_small_denominator).
PARTIAL = "部分 partial"
SMALL = "分母过小 small"
PARTIAL_NOTE = ("部分期间：期间未结束或应报数据未齐，数值仍会变化 partial: the period is not over or its expected "
                "reports are not all in; the value will change")
SMALL_NOTE = ("分母过小：n×p<5 或 n×(1−p)<5（p 为全省比例），比率不稳定 small denominator: n×p or n×(1−p) under 5 "
              "at the province's proportion p; the rate is unstable")
FUNNEL_FLAGS = {
    "above_998": "高于99.8%控制限 above the 99.8% limit", "above_95": "高于95%控制限 above the 95% limit",
    "within": "控制限内 within the limits", "below_95": "低于95%控制限 below the 95% limit",
    "below_998": "低于99.8%控制限 below the 99.8% limit",
}


INDICATOR_UNIT = ("单位：指标值、目标值为百分比(%)，变化为百分点，分子、分母为人次 Units: rates and targets in %, "
                  "changes in percentage points, numerators and denominators in patient episodes")
RATE_UNIT = "单位：百分比(%) Units: percent (%)"
INDICATOR_SOURCE = "marts.fct_indicator_values, marts.dim_indicators"
MET = "达标 met"
NOT_MET = "未达标 not met"
SUPPLEMENTARY = "补充 supplementary"


def _met(value: bool | None) -> str | None:
    return None if value is None else (MET if value else NOT_MET)


def _mark(value: bool | None, text: str) -> str | None:
    return text if value else None


def _indicator_cells(row: dict) -> tuple[Cell, ...]:
    derived = {"supplementary": SUPPLEMENTARY if row["is_supplementary"] else None,
               "met": _met(row["meets_target"]),
               "partial": _mark(row.get("is_partial_period"), PARTIAL),
               "small_denominator": _mark(row.get("is_small_denominator"), SMALL)}
    return tuple(derived[c.key] if c.key in derived else row[c.key] for c in INDICATOR_COLUMNS)


def overview(snapshot: Snapshot) -> Table:
    return Table("overview", "概览 Overview", INDICATOR_COLUMNS,
                 tuple(_indicator_cells(r) for r in snapshot.overview), unit=INDICATOR_UNIT, source=INDICATOR_SOURCE)


def by_institution(snapshot: Snapshot) -> Table:
    columns = (Column("institution_code", "机构编码", "Institution code"),
               Column("institution_name", "机构名称", "Institution"),
               Column("county_name", "区县", "County"), *INDICATOR_COLUMNS)
    return Table("institutions", "机构明细 Institutions", columns, tuple(
        (r["institution_code"], r["institution_name"], r["county_name"], *_indicator_cells(r))
        for r in snapshot.institutions), unit=INDICATOR_UNIT, source=f"{INDICATOR_SOURCE}, marts.dim_institutions")


def institution_matrix(snapshot: Snapshot) -> Table:
    """The institutions' rates as a matrix, one row per institution and one column per indicator: the
    institutions sheet's long table laid out side by side."""
    indicators = [(r["indicator_id"], r["name_zh"]) for r in snapshot.overview]
    rates = {(r["institution_code"], r["indicator_id"]): r["rate"] for r in snapshot.institutions}
    institutions = dict.fromkeys((r["institution_code"], r["institution_name"], r["county_name"])
                                 for r in snapshot.institutions)
    columns = (Column("institution_code", "机构编码", "Institution code"),
               Column("institution_name", "机构名称", "Institution"), Column("county_name", "区县", "County"),
               *(Column(i, f"{i} {name}(%)", "Rate (%)", "rate") for i, name in indicators))
    return Table("institution_matrix", "机构矩阵 Institution matrix", columns, tuple(
        (code, name, county, *(rates.get((code, i)) for i, _ in indicators))
        for code, name, county in institutions), unit=RATE_UNIT, source=f"{INDICATOR_SOURCE}, marts.dim_institutions")


def by_city(snapshot: Snapshot) -> Table:
    """The province's cities (地市), each with every indicator."""
    columns = (Column("city_code", "地市编码", "City code"), Column("city_name", "地市名称", "City"),
               *INDICATOR_COLUMNS)
    return Table("cities", "地市 Cities", columns, tuple(
        (r["city_code"], r["city_name"], *_indicator_cells(r)) for r in snapshot.cities),
        unit=INDICATOR_UNIT, source=f"{INDICATOR_SOURCE}, marts.dim_regions")


def by_county(snapshot: Snapshot) -> Table:
    columns = (Column("county_code", "区县编码", "County code"), Column("county_name", "区县名称", "County"),
               *INDICATOR_COLUMNS)
    return Table("counties", "区县 Counties", columns, tuple(
        (r["county_code"], r["county_name"], *_indicator_cells(r)) for r in snapshot.counties),
        unit=INDICATOR_UNIT, source=f"{INDICATOR_SOURCE}, marts.dim_regions")


VERSUS_REGION = ("优于区域 better than the region", "差于区域 worse than the region")


def _better(flag: str | None, higher_is_better: bool | None) -> str | None:
    """Whether a flag beyond the limits means better or worse than the region, in words."""
    if flag is None or flag == "within" or higher_is_better is None:
        return None
    return VERSUS_REGION[0] if flag.startswith("above") == higher_is_better else VERSUS_REGION[1]


def ranking(snapshot: Snapshot) -> Table:
    """Institutions ranked by where they lie against the funnel's control limits, then by rate."""
    columns = (
        Column("indicator_id", "指标编号", "Indicator ID"), Column("name_zh", "指标名称", "Indicator"),
        Column("rank", "排名", "Rank", "count"),
        Column("institution_code", "机构编码", "Institution code"),
        Column("institution_name", "机构名称", "Institution"),
        Column("numerator", "分子", "Numerator", "count"), Column("denominator", "分母", "Denominator", "count"),
        Column("rate", "指标值(%)", "Rate (%)", "rate"), Column("target", "目标值(%)", "Target (%)", "rate"),
        Column("met", "是否达标", "Met target"),
        Column("regional_rate", "区域值(%)", "Regional rate (%)", "rate"),
        Column("lower_95_limit", "95%下限(%)", "Lower 95% limit (%)", "rate"),
        Column("upper_95_limit", "95%上限(%)", "Upper 95% limit (%)", "rate"),
        Column("funnel_flag", "漏斗图位置", "Funnel position"),
        Column("versus_region", "与区域比较", "Versus the region"),
        Column("partial", "部分期间", "Partial period"),
        Column("note", "说明", "Note"),
    )
    no_rate = "分母为0，无指标值，不排名 denominator 0: no rate, not ranked"
    return Table("ranking", "排名 Ranking", columns, tuple(
        (r["indicator_id"], r["name_zh"], r["rank"], r["institution_code"], r["institution_name"], r["numerator"],
         r["denominator"], r["rate"], r["target"], _met(r["meets_target"]), r.get("regional_rate"),
         r.get("lower_95_limit"), r.get("upper_95_limit"), FUNNEL_FLAGS.get(r.get("funnel_flag")),
         _better(r.get("funnel_flag"), r.get("higher_is_better")), _mark(r.get("is_partial_period"), PARTIAL),
         no_rate if r["rank"] is None else _mark(r.get("is_small_denominator"), SMALL_NOTE))
        for r in snapshot.ranking), unit=INDICATOR_UNIT,
        source="marts.fct_institution_ranking")


FUNNEL_COLUMNS = (
    Column("indicator_id", "指标编号", "Indicator ID"), Column("name_zh", "指标名称", "Indicator"),
    Column("institution_code", "机构编码", "Institution code"),
    Column("institution_name", "机构名称", "Institution"),
    Column("numerator", "分子", "Numerator", "count"), Column("denominator", "分母", "Denominator", "count"),
    Column("rate", "指标值(%)", "Rate (%)", "rate"),
    Column("regional_rate", "区域值(%)", "Regional rate (%)", "rate"),
    Column("lower_998_limit", "99.8%下限(%)", "Lower 99.8% limit (%)", "rate"),
    Column("lower_95_limit", "95%下限(%)", "Lower 95% limit (%)", "rate"),
    Column("upper_95_limit", "95%上限(%)", "Upper 95% limit (%)", "rate"),
    Column("upper_998_limit", "99.8%上限(%)", "Upper 99.8% limit (%)", "rate"),
    Column("funnel_flag", "漏斗图位置", "Funnel position"),
    Column("versus_region", "与区域比较", "Versus the region"),
    Column("partial", "部分期间", "Partial period"),
    Column("small_denominator", "分母过小", "Small denominator"),
)
FUNNEL_METHOD = ("控制限 = p ± z×√(p(1−p)/n)，正态近似，z=1.96 (95%)、3.09 (99.8%)，p 为区域比例，n 为机构分母 "
                 "control limits = p ± z×sqrt(p(1−p)/n), the normal approximation of the binomial, z = 1.96 (95%) "
                 "and 3.09 (99.8%), p the region's proportion, n the institution's denominator")


def funnel(snapshot: Snapshot) -> Table:
    """The funnel plot's data: each institution's rate by its denominator against the region's control limits,
    ordered by indicator and denominator (the workbook draws one chart per indicator from it)."""
    return Table("funnel", "漏斗图 Funnel plot", FUNNEL_COLUMNS, tuple(
        (r["indicator_id"], r["name_zh"], r["institution_code"], r["institution_name"], r["numerator"],
         r["denominator"], r["rate"], r["regional_rate"], r["lower_998_limit"], r["lower_95_limit"],
         r["upper_95_limit"], r["upper_998_limit"], FUNNEL_FLAGS[r["funnel_flag"]],
         _better(r["funnel_flag"], r["higher_is_better"]), _mark(r["is_partial_period"], PARTIAL),
         _mark(r["is_small_denominator"], SMALL))
        for r in snapshot.funnel), note="该期间没有机构的目标指标值 / no institution has a value of a target indicator",
        unit=INDICATOR_UNIT, source="marts.fct_institution_funnel")


def completeness(snapshot: Snapshot) -> Table:
    columns = (
        Column("level", "层级", "Level"), Column("entity_code", "编码", "Code"), Column("entity_name", "名称", "Name"),
        Column("days_expected", "应报天数", "Days expected", "count"),
        Column("days_received", "已报天数", "Days received", "count"),
        Column("days_late", "迟报天数", "Days late", "count"),
        Column("days_missing", "缺报天数", "Days missing", "count"),
        Column("completeness_rate", "完整率(%)", "Completeness (%)", "rate"),
        Column("timeliness_rate", "及时率(%)", "Timeliness (%)", "rate"),
        Column("missing_dates", "缺报日期", "Missing dates"),
    )
    return Table("completeness", "上报完整性 Completeness", columns, tuple(
        (LEVEL_NAMES[r["level"]], r["entity_code"], r["entity_name"], r["days_expected"], r["days_received"],
         r["days_late"], r["days_missing"], r["completeness_rate"], r["timeliness_rate"],
         _dates(r["missing_dates"]))
        for r in snapshot.completeness),
        unit="单位：天；完整率、及时率为百分比(%) Units: days; completeness and timeliness in %",
        source="marts.fct_reporting_completeness")


def _dates(dates) -> str | None:
    return ", ".join(d.isoformat() for d in dates or ()) or None


NOT_ON_ROSTER = "名单外 not on the roster"
SHOWN_SPANS = 4  # a department's dates as at most this many runs of days, so a quarter's row stays short


def date_spans(dates) -> str | None:
    """Dates as runs of consecutive days, ``2026-03-10~03-31, 2026-04-02``; past SHOWN_SPANS runs, the count."""
    spans: list[list] = []
    for day in sorted(dates or ()):
        if spans and (day - spans[-1][1]).days == 1:
            spans[-1][1] = day
        else:
            spans.append([day, day])
    shown = [first.isoformat() if first == last else
             f"{first.isoformat()}~{last.isoformat()[5:] if last.year == first.year else last.isoformat()}"
             for first, last in spans[:SHOWN_SPANS]]
    if len(spans) > SHOWN_SPANS:
        shown.append(f"…（共 {len(dates)} 天 {len(dates)} days in all）")
    return ", ".join(shown) or None


def department_completeness(snapshot: Snapshot) -> Table:
    """The departments on a roster that missed days, stated zeros or reported on days not expected; a missing
    department-day is never read as zero, a stated zero counts as reported."""
    columns = (
        Column("institution_code", "机构编码", "Institution code"),
        Column("institution_name", "机构名称", "Institution"),
        Column("campus", "院区", "Campus"), Column("department_code", "科室编码", "Department code"),
        Column("department_name", "科室名称", "Department"), Column("on_roster", "名单", "Roster"),
        Column("days_expected", "应报天数", "Days expected", "count"),
        Column("days_reported", "已报天数", "Days reported", "count"),
        Column("days_reported_zero", "报零天数", "Days stated zero", "count"),
        Column("days_missing", "缺报天数", "Days missing", "count"),
        Column("days_not_expected", "名单外天数", "Days not expected", "count"),
        Column("completeness_rate", "完整率(%)", "Completeness (%)", "rate"),
        Column("missing_dates", "缺报日期", "Missing dates"),
        Column("reported_zero_dates", "报零日期", "Dates stated zero"),
    )
    return Table("department_completeness", "科室完整性 Departments", columns, tuple(
        (r["institution_code"], r["institution_name"], r["campus"], r["department_code"], r["department_name"],
         None if r["is_on_roster"] else NOT_ON_ROSTER, r["days_expected"], r["days_reported"],
         r["days_reported_zero"], r["days_missing"], r["days_not_expected"], r["completeness_rate"],
         date_spans(r["missing_dates"]), date_spans(r["reported_zero_dates"]))
        for r in snapshot.department_completeness or ()),
        note="名单内的科室每个应报日均已上报，没有报零 / every department on a roster reported every expected day, none stated a"
             " zero (institutions without a roster are counted as a whole in the completeness sheet)",
        unit="单位：天；完整率为百分比(%)；报零为医院明确上报的零，缺报为未上报，不计为零 Units: days; completeness in %; a stated"
             " zero is reported, a missing day is not read as zero",
        source="marts.fct_department_completeness")


def data_quality(snapshot: Snapshot) -> Table:
    columns = (
        Column("institution_code", "机构编码", "Institution code"),
        Column("institution_name", "机构名称", "Institution"),
        Column("quarantined_rows", "隔离行数", "Quarantined rows", "count"),
        Column("quarantined_days", "隔离涉及天数", "Days with quarantined rows", "count"),
        Column("quarantine_rules", "隔离规则", "Quarantine rules"),
        Column("warning_rows", "警告行数", "Warning rows", "count"),
        Column("warning_days", "警告涉及天数", "Days with warning rows", "count"),
        Column("warning_rules", "警告规则", "Warning rules"),
    )
    return Table("data_quality", "数据质量 Data quality", columns, tuple(
        (r["institution_code"], r["institution_name"], r["quarantined_rows"], r["quarantined_days"],
         ", ".join(r["quarantine_rules"]) or None, r["warning_rows"], r["warning_days"],
         ", ".join(r["warning_rules"]) or None)
        for r in snapshot.data_quality),
        unit="单位：科室日数据行、天；规则编码见“图例”表 Units: department-day rows, days; rule codes in the Legend sheet",
        source="marts.fct_submission_counts")


def _target_columns(snapshot: Snapshot) -> tuple[Column, ...]:
    return tuple(Column(t["indicator_id"], f"{t['indicator_id']} {t['name_zh']}(%)", f"{t['name_en']} (%)", "rate")
                 for t in snapshot.target_indicators)


def trend(snapshot: Snapshot) -> Table:
    """The region's target indicators month by month over the 12 months up to the period's end."""
    targets = _target_columns(snapshot)
    columns = (Column("month", "月份", "Month"), *targets, Column("partial", "部分期间", "Partial period"),
               Column("small_denominators", "分母过小的指标", "Indicators with a small denominator"))
    return Table("trend", "趋势 Trend", columns, tuple(
        (r["month"], *(r[c.key] for c in targets), _mark(r.get("is_partial_period"), PARTIAL),
         ", ".join(r.get("small_denominators") or ()) or None) for r in snapshot.trend),
        unit=RATE_UNIT, source=INDICATOR_SOURCE)


def county_comparison(snapshot: Snapshot) -> Table:
    """The target indicators of each county in the period, side by side."""
    targets = _target_columns(snapshot)
    values = {(r["county_code"], r["indicator_id"]): r for r in snapshot.counties}
    counties = dict.fromkeys((r["county_code"], r["county_name"]) for r in snapshot.counties)
    columns = (Column("county_code", "区县编码", "County code"), Column("county_name", "区县名称", "County"),
               *targets, Column("partial", "部分期间", "Partial period"),
               Column("small_denominators", "分母过小的指标", "Indicators with a small denominator"))

    def cells(code: str, name: str) -> tuple[Cell, ...]:
        shown = [values.get((code, c.key)) or {} for c in targets]
        small = [c.key for c, v in zip(targets, shown) if v.get("is_small_denominator")]
        return (code, name, *(v.get("rate") for v in shown),
                _mark(any(v.get("is_partial_period") for v in shown), PARTIAL), ", ".join(small) or None)

    return Table("county_comparison", "区县对比 County comparison", columns,
                 tuple(cells(code, name) for code, name in counties), unit=RATE_UNIT, source=INDICATOR_SOURCE)


PREVIOUS_NAMES = {"month": ("上月", "Previous month"), "quarter": ("上季度", "Previous quarter")}


def comparison(snapshot: Snapshot) -> Table:
    """Each indicator of the region beside the same period last year and, for a month or a quarter, the
    period before (同比、环比), as published."""
    previous = PREVIOUS_NAMES.get(snapshot.period.period_type)
    columns = (
        Column("indicator_id", "指标编号", "Indicator ID"), Column("name_zh", "指标名称", "Indicator"),
        Column("name_en", "英文名称", "Indicator (English)"), Column("supplementary", "补充指标", "Supplementary"),
        Column("rate_same_period_last_year", "去年同期(%)", "Same period last year (%)", "rate"),
        *((Column("rate_previous_period", f"{previous[0]}(%)", f"{previous[1]} (%)", "rate"),) if previous else ()),
        Column("rate", "本期(%)", "This period (%)", "rate"),
        Column("target", "目标值(%)", "Target (%)", "rate"), Column("met", "是否达标", "Met target"),
        Column("change_last_year_pp", "同比变化(百分点)", "Change on last year (percentage points)", "rate"),
        *((Column("change_previous_pp", "环比变化(百分点)", f"Change on the {previous[1].lower()} "
                                                          "(percentage points)", "rate"),) if previous else ()),
    )
    derived = {"supplementary": lambda r: SUPPLEMENTARY if r["is_supplementary"] else None,
               "met": lambda r: _met(r["meets_target"])}
    return Table("comparison", "同比环比 Comparison", columns, tuple(
        tuple(derived[c.key](r) if c.key in derived else r[c.key] for c in columns) for r in snapshot.comparison),
        unit=INDICATOR_UNIT, source=INDICATOR_SOURCE)


def legend(snapshot: Snapshot) -> Table:
    """Every code the extract uses, in words: the indicators, the consistency rules named, the levels and
    the marks."""
    columns = (Column("category", "类别", "Category"), Column("code", "代码", "Code"),
               Column("meaning_zh", "中文含义", "Meaning (Chinese)"), Column("meaning_en", "英文含义", "Meaning (English)"))
    targets = {r["indicator_id"]: r["target"] for r in snapshot.overview}
    indicators = [("指标 indicator", r["indicator_id"], r["name_zh"] + (f"，目标 ≥ {targets[r['indicator_id']]}%"
                                                                     if targets[r["indicator_id"]] else ""),
                   r["name_en"]) for r in snapshot.overview]
    severity = {"quarantine": ("隔离：数据行不计入指标", "quarantine: the row is held out of the indicators"),
                "warning": ("警告：数据行计入指标并标记", "warning: the row is counted and flagged")}
    rules = [("规则 rule", r["rule_id"], f"{r['description_zh']}（{severity[r['severity']][0]}）",
              f"{r['description_en']} ({severity[r['severity']][1]})") for r in snapshot.rules]
    levels = [("层级 level", text, *text.split(" ", 1)) for text in LEVEL_NAMES.values()]
    roster_marks = (NOT_ON_ROSTER,) if snapshot.department_completeness is not None else ()
    marks = [("标记 mark", text, *text.split(" ", 1))
             for text in (MET, NOT_MET, SUPPLEMENTARY, PARTIAL, SMALL, *roster_marks)]
    notes = [("说明 note", PARTIAL, *PARTIAL_NOTE.split(" partial: ", 1)),
             ("说明 note", SMALL, *SMALL_NOTE.split(" small denominator: ", 1))]
    flags = [("漏斗图 funnel", text, *text.split(" ", 1)) for text in (*FUNNEL_FLAGS.values(), *VERSUS_REGION)]
    return Table("legend", "图例 Legend", columns, tuple(indicators + rules + levels + marks + notes + flags),
                 unit="本工作簿所用的全部代码与标记 Every code and mark this workbook uses",
                 source="marts.dim_indicators; consistency_rules (dbt seed)")


def extract_tables(snapshot: Snapshot) -> list[Table]:
    """Every table of an extract, in workbook order."""
    return [overview(snapshot), *([comparison(snapshot)] if snapshot.comparison else []), by_institution(snapshot),
            institution_matrix(snapshot), *([by_city(snapshot)] if snapshot.cities else []), by_county(snapshot),
            ranking(snapshot), funnel(snapshot), completeness(snapshot),
            *([department_completeness(snapshot)] if snapshot.department_completeness is not None else []),
            data_quality(snapshot), trend(snapshot), county_comparison(snapshot)]
