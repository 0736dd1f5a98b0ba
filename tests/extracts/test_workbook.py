"""The extract workbook and CSV files hold what the published marts say, for the period and the region."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from datetime import timezone
from decimal import Decimal

import openpyxl
import pytest

from vte.extracts.create import create_extract
from vte.extracts.manifest import file_sha256
from vte.extracts.periods import parse_period
from vte.extracts.tables import date_spans
from vte.publication.publish import current_publication

from extract_support import MONTH, check_ranks, sheet_records

pytestmark = pytest.mark.slow  # the shared published pipeline takes minutes to build

SHEETS = ["封面 Cover", "概览 Overview", "同比环比 Comparison", "机构明细 Institutions", "机构矩阵 Institution matrix",
          "地市 Cities", "区县 Counties", "排名 Ranking", "漏斗图 Funnel plot", "上报完整性 Completeness",
          "科室完整性 Departments", "数据质量 Data quality", "趋势 Trend", "区县对比 County comparison", "图例 Legend",
          "说明 About", "图表数据 Chart data"]
RESTATEMENT = "修订说明 Restatement"  # before the legend, in a revision that follows one of another publication
CJK = re.compile(r"[\u4e00-\u9fff]")


def _as_float(value) -> float | None:
    return None if value is None else float(value)


def _indicator_values(conn, level: str, code: str, period_type: str, period_start) -> dict[str, tuple]:
    rows = conn.execute(
        "select indicator_id, numerator, denominator, rate, target, meets_target, rate_same_period_last_year"
        " from marts.fct_indicator_values where level = %s and entity_code = %s and period_type = %s"
        " and period_start = %s", (level, code, period_type, period_start)).fetchall()
    return {r[0]: r[1:] for r in rows}


def _check_indicator_row(record: dict, expected: tuple) -> None:
    numerator, denominator, rate, target, meets, last_year = expected
    assert record["分子 Numerator"] == numerator
    assert record["分母 Denominator"] == denominator
    assert record["指标值(%) Rate (%)"] == _as_float(rate)
    assert record["目标值(%) Target (%)"] == _as_float(target)
    assert record["是否达标 Met target"] == {True: "达标 met", False: "未达标 not met", None: None}[meets]
    assert record["去年同期(%) Same period last year (%)"] == _as_float(last_year)
    change = None if rate is None or last_year is None else float(rate - last_year)
    assert record["同比变化(百分点) Change (percentage points)"] == change


def test_the_workbook_has_every_sheet_with_bilingual_headers(province_month):
    workbook = province_month.files[0]
    assert workbook.suffix == ".xlsx"
    book = openpyxl.load_workbook(workbook, read_only=True)
    restated = [RESTATEMENT] if "restatement" in province_month.manifest else []
    assert book.sheetnames == SHEETS[:-3] + restated + SHEETS[-3:]
    for name in book.sheetnames[1:-2]:
        headers = list(sheet_records(workbook, name)[0])
        for header in headers:
            last_chinese = max((m.end() for m in CJK.finditer(header)), default=None)
            assert last_chinese and re.search("[A-Za-z]{2}", header[last_chinese:]), \
                f"{name}: {header!r} is not Chinese then English"


def test_overview_equals_the_published_indicator_values(province_month, marts):
    period = parse_period(MONTH)
    expected = _indicator_values(marts, "province", "330000", "month", period.start)
    indicators = dict(marts.execute("select indicator_id, is_supplementary from marts.dim_indicators").fetchall())
    overview = sheet_records(province_month.files[0], "概览 Overview")
    assert [r["指标编号 Indicator ID"] for r in overview] == \
        sorted(indicators, key=lambda i: (indicators[i], i))
    assert len([i for i in indicators if not indicators[i]]) == 18 and len(indicators) == 23
    for record in overview:
        indicator = record["指标编号 Indicator ID"]
        _check_indicator_row(record, expected[indicator])
        assert (record["补充指标 Supplementary"] is not None) == indicators[indicator]


def test_institution_and_county_sheets_equal_the_marts(province_month, marts, published_pipeline):
    start = parse_period(MONTH).start
    for sheet, level, code_header, expected_codes in (
            ("机构明细 Institutions", "institution", "机构编码 Institution code",
             {i.code for i in published_pipeline.institutions}),
            ("区县 Counties", "county", "区县编码 County code",
             {i.county_code for i in published_pipeline.institutions})):
        published = {(r[0], r[1]): r[2:] for r in marts.execute(
            "select entity_code, indicator_id, numerator, denominator, rate, target, meets_target,"
            " rate_same_period_last_year from marts.fct_indicator_values where level = %s"
            " and period_type = 'month' and period_start = %s", (level, start))}
        records = sheet_records(province_month.files[0], sheet)
        assert {r[code_header] for r in records} == expected_codes
        assert len(records) == len(expected_codes) * 23
        for record in records:
            _check_indicator_row(record, published[(record[code_header], record["指标编号 Indicator ID"])])


def test_ranking_orders_by_funnel_position_then_rate(province_month, marts):
    ranking = sheet_records(province_month.files[0], "排名 Ranking")
    targets = dict(marts.execute(
        "select indicator_id, higher_is_better from marts.dim_indicators where target_rate is not null").fetchall())
    assert set(targets) == {"B.1.1", "B.1.4", "B.2.2"}
    assert {r["指标编号 Indicator ID"] for r in ranking} == set(targets)
    start = parse_period(MONTH).start
    for indicator, higher_is_better in targets.items():
        rows = [r for r in ranking if r["指标编号 Indicator ID"] == indicator]
        values = {code: v for code, v in marts.execute(
            "select entity_code, rate from marts.fct_indicator_values where level = 'institution'"
            " and period_type = 'month' and period_start = %s and indicator_id = %s", (start, indicator))}
        assert {r["机构编码 Institution code"] for r in rows} == set(values)
        check_ranks(rows, higher_is_better)


def test_completeness_and_data_quality_equal_the_marts(province_month, marts, published_pipeline):
    start = parse_period(MONTH).start
    completeness = sheet_records(province_month.files[0], "上报完整性 Completeness")
    expected = {r[0]: r[1:] for r in marts.execute(
        "select entity_code, days_expected, days_received, days_late, days_missing, missing_dates"
        " from marts.fct_reporting_completeness where period_type = 'month' and period_start = %s"
        " and (level = 'institution' or entity_code = '330000')", (start,))}
    assert [r["编码 Code"] for r in completeness] == ["330000", *sorted(i.code for i in published_pipeline.institutions)]
    for record in completeness:
        days_expected, received, late, missing, missing_dates = expected[record["编码 Code"]]
        assert (record["应报天数 Days expected"], record["已报天数 Days received"], record["迟报天数 Days late"],
                record["缺报天数 Days missing"]) == (days_expected, received, late, missing)
        listed = record["缺报日期 Missing dates"]
        assert (listed.split(", ") if listed else []) == [d.isoformat() for d in missing_dates or []]

    quality = {r["机构编码 Institution code"]: r for r in sheet_records(province_month.files[0], "数据质量 Data quality")}
    for table, column in (("fct_quarantined_rows", "隔离行数 Quarantined rows"),
                          ("fct_warning_rows", "警告行数 Warning rows")):
        counts = dict(marts.execute(
            f"select institution_code, count(*) from marts.{table} where report_date between %s and %s"
            " group by 1", (start, parse_period(MONTH).end)).fetchall())
        assert {code: r[column] for code, r in quality.items()} == \
            {i.code: counts.get(i.code, 0) for i in published_pipeline.institutions}


def test_the_departments_sheet_lists_the_roster_departments_that_missed_days(province_month, marts, published_pipeline):
    start = parse_period(MONTH).start
    records = sheet_records(province_month.files[0], "科室完整性 Departments")
    expected = marts.execute(
        "select institution_code, campus, department_code, days_expected, days_reported, days_reported_zero,"
        " days_missing, missing_dates from marts.fct_department_completeness where period_type = 'month'"
        " and period_start = %s and has_roster and (days_missing > 0 or days_reported_zero > 0"
        " or days_not_expected > 0) order by 1, 2, 3", (start,)).fetchall()
    assert [(r["机构编码 Institution code"], r["院区 Campus"], r["科室编码 Department code"], r["应报天数 Days expected"],
             r["已报天数 Days reported"], r["报零天数 Days stated zero"], r["缺报天数 Days missing"],
             r["缺报日期 Missing dates"]) for r in records] == [(*row[:-1], date_spans(row[-1])) for row in expected]
    # the declared department that never reports: missing from its first expected day, not read as zero
    code, name, since = published_pipeline.phantom_department
    phantom = next(r for r in records if r["科室编码 Department code"] == code)
    assert (phantom["机构编码 Institution code"], phantom["科室名称 Department"]) == (published_pipeline.roster_code, name)
    days = (parse_period(MONTH).end - since).days + 1
    assert (phantom["应报天数 Days expected"], phantom["缺报天数 Days missing"], phantom["已报天数 Days reported"],
            phantom["报零天数 Days stated zero"], phantom["完整率(%) Completeness (%)"]) == (days, days, 0, 0, 0)
    assert phantom["缺报日期 Missing dates"] == f"{since.isoformat()}~{parse_period(MONTH).end:%m-%d}"
    # the institutions without a roster are counted as a whole only
    assert {r["机构编码 Institution code"] for r in records} <= {published_pipeline.roster_code}


def test_trend_covers_twelve_months_and_both_charts_are_native(province_month, marts):
    trend = sheet_records(province_month.files[0], "趋势 Trend")
    assert [r["月份 Month"] for r in trend] == [f"2025-{m:02d}" for m in range(4, 13)] + \
        [f"2026-{m:02d}" for m in range(1, 4)]
    published = {(f"{r[0]:%Y-%m}", r[1]): float(r[2]) for r in marts.execute(
        "select period_start, indicator_id, rate from marts.fct_indicator_values where level = 'province'"
        " and period_type = 'month' and indicator_id in ('B.1.1', 'B.1.4', 'B.2.2') and rate is not null")}
    for record in trend:
        for header, value in record.items():
            if header.split(" ")[0] in ("B.1.1", "B.1.4", "B.2.2"):  # the marks beside them: test_partial_…
                assert value == published.get((record["月份 Month"], header.split(" ")[0])), (record, header)
    with zipfile.ZipFile(province_month.files[0]) as package:
        charts = [package.read(n).decode() for n in package.namelist() if re.fullmatch(r"xl/charts/chart\d+\.xml", n)]
    cities = len({r["地市编码 City code"] for r in sheet_records(province_month.files[0], "地市 Cities")})
    trend_charts = [c for c in charts if "<c:lineChart>" in c and "<c:barChart>" not in c]
    bar_charts = [c for c in charts if "<c:barChart>" in c]
    # One trend chart per target indicator; one sorted bar chart per target indicator for the counties, the
    # cities (when there are several) and the period comparison; each with its target line.
    assert len(trend_charts) == 3 and all("目标值 target" in c for c in trend_charts)
    assert len(bar_charts) == 3 * (2 + (cities > 1)) and all("<c:lineChart>" in c for c in bar_charts)


def test_the_funnel_sheet_equals_the_marts_with_one_chart_per_target_indicator(province_month, marts):
    start = parse_period(MONTH).start
    published = {(r[0], r[1]): r[2:] for r in marts.execute(
        "select institution_code, indicator_id, denominator, rate, regional_rate, lower_998_limit, lower_95_limit,"
        " upper_95_limit, upper_998_limit from marts.fct_institution_funnel where region_level = 'province'"
        " and region_code = '330000' and period_type = 'month' and period_start = %s", (start,))}
    funnel = sheet_records(province_month.files[0], "漏斗图 Funnel plot")
    assert len(funnel) == len(published) > 0
    for r in funnel:
        expected = published[(r["机构编码 Institution code"], r["指标编号 Indicator ID"])]
        assert (r["分母 Denominator"], r["指标值(%) Rate (%)"], r["区域值(%) Regional rate (%)"],
                r["99.8%下限(%) Lower 99.8% limit (%)"], r["95%下限(%) Lower 95% limit (%)"],
                r["95%上限(%) Upper 95% limit (%)"], r["99.8%上限(%) Upper 99.8% limit (%)"]) == \
            tuple(_as_float(v) for v in expected)
    with zipfile.ZipFile(province_month.files[0]) as package:
        scatter = [n for n in package.namelist() if re.fullmatch(r"xl/charts/chart\d+\.xml", n)
                   and "<c:scatterChart>" in package.read(n).decode()]
    assert len(scatter) == len({r["指标编号 Indicator ID"] for r in funnel})


def test_partial_periods_are_marked(published_pipeline, marts):
    """The pipeline's last month (October 2026, reported through the 31st but the as-of date is today) and a
    finished month with every expected day in show their marks as fct_indicator_values says."""
    rows = dict(marts.execute(
        "select period_start, is_partial_period from marts.fct_indicator_values where level = 'province'"
        " and period_type = 'month' and indicator_id = 'B.1.1'").fetchall())
    extract = create_extract(parse_period(MONTH), actor="test", settings=published_pipeline.settings)
    overview = sheet_records(extract.files[0], "概览 Overview")
    partial = rows[parse_period(MONTH).start]
    assert all((r["部分期间 Partial period"] is not None) == partial for r in overview)


def test_csv_files_hold_the_same_tables_with_a_byte_order_mark(province_month):
    by_name = {p.name: p for p in province_month.files}
    for csv_name, sheet in (("overview.csv", "概览 Overview"), ("ranking.csv", "排名 Ranking"),
                            ("institutions.csv", "机构明细 Institutions")):
        raw = by_name[csv_name].read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
        records = sheet_records(province_month.files[0], sheet)
        assert rows[0] == list(records[0])
        assert len(rows) - 1 == len(records)
        for row, record in zip(rows[1:], records):
            for text, value in zip(row, record.values()):
                assert (text == "") if value is None else (Decimal(text) == Decimal(str(value))
                                                          if isinstance(value, (int, float)) else text == value)


def test_manifest_names_the_publication_the_files_and_is_audited(province_month, marts):
    manifest = json.loads(province_month.manifest_path.read_text(encoding="utf-8"))
    publication = current_publication(marts)
    assert manifest["publication"]["publication_id"] == publication.publication_id
    assert manifest["publication"]["run_id"] == publication.run_id
    assert manifest["period"] == {"label": MONTH, "type": "month", "start": "2026-03-01", "end": "2026-03-31"}
    assert (manifest["region"]["code"], manifest["kind"]) == ("330000", "final")
    assert province_month.directory.parts[-4:-1] == (MONTH, "330000", "final")
    assert province_month.directory.name == f"r{manifest['revision']:03d}"
    assert [f["name"] for f in manifest["files"]] == [p.name for p in province_month.files]
    assert all(f["sha256"] == file_sha256(province_month.directory / f["name"]) for f in manifest["files"])
    assert manifest["inputs"] == {"name": "inputs.json.gz", "bytes": province_month.inputs_path.stat().st_size,
                                  "sha256": file_sha256(province_month.inputs_path)}
    counted, newest = marts.execute(
        "select count(distinct submission_id), max(received_at) from marts.fct_department_days"
        " where report_date between '2026-03-01' and '2026-03-31'").fetchone()
    assert manifest["submissions"]["counted_submissions"] == counted
    assert manifest["submissions"]["newest_received_at"] == newest.astimezone(timezone.utc).isoformat()
    assert manifest["generator"]["name"] == "vte-warehouse" and manifest["generator"]["version"]
    audited = marts.execute(
        "select details from ops.admin_audit where action = 'extract.create' and subject = %s",
        (str(province_month.directory),)).fetchall()
    assert any(d["content_sha256"] == manifest["content_sha256"] for (d,) in audited)


def test_a_city_extract_holds_only_its_institutions(published_pipeline, marts):
    city, = marts.execute("select city_code from marts.dim_institutions where institution_code = %s",
                          (published_pipeline.institutions[0].code,)).fetchone()
    members = {r[0] for r in marts.execute(
        "select institution_code from marts.dim_institutions where city_code = %s", (city,))}
    extract = create_extract(parse_period("2026Q1"), city, actor="test", settings=published_pipeline.settings)
    assert extract.directory.parts[-4:-1] == ("2026Q1", city, "final")
    overview = sheet_records(extract.files[0], "概览 Overview")
    expected = _indicator_values(marts, "city", city, "quarter", parse_period("2026Q1").start)
    for record in overview:
        _check_indicator_row(record, expected[record["指标编号 Indicator ID"]])
    institutions = sheet_records(extract.files[0], "机构明细 Institutions")
    assert {r["机构编码 Institution code"] for r in institutions} == members


def test_cities_matrix_and_comparison_equal_the_marts(province_month, marts):
    start = parse_period(MONTH).start
    workbook = province_month.files[0]
    cities = sheet_records(workbook, "地市 Cities")
    published = {(r[0], r[1]): r[2:] for r in marts.execute(
        "select entity_code, indicator_id, numerator, denominator, rate, target, meets_target,"
        " rate_same_period_last_year from marts.fct_indicator_values where level = 'city'"
        " and period_type = 'month' and period_start = %s", (start,))}
    assert {r["地市编码 City code"] for r in cities} == {code for code, _ in published} != set()
    for record in cities:
        _check_indicator_row(record, published[(record["地市编码 City code"], record["指标编号 Indicator ID"])])

    long = {(r["机构编码 Institution code"], r["指标编号 Indicator ID"]): r["指标值(%) Rate (%)"]
            for r in sheet_records(workbook, "机构明细 Institutions")}
    matrix = sheet_records(workbook, "机构矩阵 Institution matrix")
    assert len(matrix) * 23 == len(long)
    for record in matrix:
        for header, value in record.items():
            if header.endswith("Rate (%)"):
                assert value == long[(record["机构编码 Institution code"], header.split(" ")[0])]

    previous = dict(marts.execute(
        "select indicator_id, rate from marts.fct_indicator_values where level = 'province'"
        " and period_type = 'month' and period_start = '2026-02-01'").fetchall())
    current = _indicator_values(marts, "province", "330000", "month", start)
    for record in sheet_records(workbook, "同比环比 Comparison"):
        indicator = record["指标编号 Indicator ID"]
        assert record["上月(%) Previous month (%)"] == _as_float(previous.get(indicator))
        assert record["本期(%) This period (%)"] == _as_float(current[indicator][2])
        assert record["去年同期(%) Same period last year (%)"] == _as_float(current[indicator][5])


def test_the_legend_explains_every_rule_code_the_data_quality_sheet_names(province_month):
    workbook = province_month.files[0]
    named = {code for r in sheet_records(workbook, "数据质量 Data quality")
             for key in ("隔离规则 Quarantine rules", "警告规则 Warning rules") for code in (r[key] or "").split(", ")
             if code}
    legend = {r["代码 Code"]: r for r in sheet_records(workbook, "图例 Legend")}
    assert named and named <= set(legend)
    assert all(legend[code]["中文含义 Meaning (Chinese)"] and legend[code]["英文含义 Meaning (English)"]
               for code in named)
    overview = {r["指标编号 Indicator ID"] for r in sheet_records(workbook, "概览 Overview")}
    assert overview <= set(legend)
