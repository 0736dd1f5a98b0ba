"""The gate's Great Expectations suites, built from the domain: what each check measures and its scope.

Each expectation says what it is about (``meta.scope``): a problem of the feed or of the build stops a
publication; a problem of one institution, date or row is held out by dbt and never reaches these suites
as a failure (README: the decision table). The queries here are also what the pipeline runs to alert the
institution-level findings (vanished institutions).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from vte import domain
from vte.dbt import project_var
from vte.publication.scope import MERGED_VIEW

Stage = Literal["staged", "marts"]

# The tables each stage's suites validate: GX asset name -> table. Adjust here when the dbt project moves one.
GATED_TABLES: dict[str, dict[str, str]] = {
    "staged": {"department_days": "int_department_days_touched"},
    "marts": {
        "indicator_values": "fct_indicator_values",
        "institutions": "dim_institutions",
        "reporting_completeness": "fct_reporting_completeness",
        "institution_funnel": "fct_institution_funnel",
        "institution_ranking": "fct_institution_ranking",
        "submission_counts": "fct_submission_counts",
    },
}
# The schemas the committed project points at; a run retargets them.
DEFAULT_SCHEMAS: dict[str, str] = {"staged": "int", "marts": "marts_candidate"}
# One row of fct_indicator_values per entity (campus and department below an institution), period and indicator.
INDICATOR_VALUES_KEY = ("level", "entity_code", "campus", "department", "period_type", "period_start", "indicator_id")
INDICATOR_VALUES_REQUIRED = ("level", "entity_code", "period_type", "period_start", "indicator_id", "numerator",
                             "denominator")
COMPLETENESS_KEY = ("level", "entity_code", "period_type", "period_start")
FUNNEL_KEY = ("region_level", "region_code", "institution_code", "period_type", "period_start", "indicator_id")
FUNNEL_FLAGS = ("above_998", "above_95", "within", "below_95", "below_998")
RANKING_KEY = FUNNEL_KEY
SUBMISSION_COUNTS_KEY = COMPLETENESS_KEY
SUBMISSION_COUNTS = ("current_submissions", "counted_submissions", "institution_days", "counted_department_rows",
                     "quarantined_department_rows", "quarantined_days", "warning_department_rows", "warning_days")
# The levels every publication has; 'community' too wherever an institution belongs to a county medical
# community (many provinces register none).
LEVELS = ("department", "campus", "institution", "county", "city", "province")
PERIOD_TYPES = ("month", "quarter", "year")

# A department's count for one day above this is a broken feed, not a busy ward: dbt holds the row out.
PLAUSIBLE_MAX_COUNT = int(project_var("plausible_max_count"))
# One institution's problem holds its data out; the same problem at many institutions at once is the feed's
# and stops the publication: at least FEED_MIN_INSTITUTIONS and FEED_INSTITUTION_SHARE of the institutions
# the run touched, covering more than the severity's share of the touched rows.
FEED_MIN_INSTITUTIONS = 3
FEED_INSTITUTION_SHARE = 0.25
FEED_ROW_SHARE = {"quarantine": 0.05, "warning": 0.10}
# A publication may shrink by at most this share of the previous one's rows, and grow by at most this factor.
ROW_COUNT_SHRINK = 0.10
ROW_COUNT_GROWTH = 2.0


def quote_ident(name: str) -> str:
    """A schema name as it may stand in generated SQL: a plain lowercase identifier, else ValueError."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise ValueError(f"schema name {name!r} is not a plain lowercase identifier")
    return name


def feed_wide_breaks_query() -> str:
    """The rules (and plausibility bounds, ``P.<field>``, and outliers against the departments' own history,
    ``O.<field>``) broken at so many institutions at once that the feed, not a hospital, is at fault; one row per
    such rule. A smaller break only holds the rows out."""
    return f"""
with touched as (
    select * from {{batch}} as touched_rows
),
totals as (
    select count(*) as row_count, count(distinct institution_code) as institution_count from touched
),
breaks as (
    select touched.institution_code, broken.rule_id, broken.severity
    from touched
    cross join lateral (
        select unnest(touched.quarantine_rule_ids) as rule_id, 'quarantine' as severity
        union all
        select unnest(touched.warning_rule_ids), 'warning'
        union all
        select 'P.' || unnest(touched.implausible_fields), 'quarantine'
        union all
        select 'O.' || unnest(touched.outlier_held_out_fields), 'quarantine'
        union all
        select 'O.' || unnest(touched.outlier_warning_fields), 'warning'
    ) as broken
)
select
    breaks.rule_id,
    count(*) as broken_rows,
    count(distinct breaks.institution_code) as institutions,
    max(totals.institution_count) as touched_institutions
from breaks
cross join totals
group by breaks.rule_id, breaks.severity
having
    count(distinct breaks.institution_code) >= greatest({FEED_MIN_INSTITUTIONS},
                                                        ceil({FEED_INSTITUTION_SHARE} * max(totals.institution_count)))
    and count(*) > case breaks.severity when 'quarantine' then {FEED_ROW_SHARE['quarantine']}
                                        else {FEED_ROW_SHARE['warning']} end * max(totals.row_count)
""".strip()


def _staged_rows_expectations() -> list:
    import great_expectations.expectations as gxe

    count_columns = [f.column for f in domain.count_fields()]
    keys = ["institution_code", "report_date", "hospital", "department", "submission_id"]
    expectations = [
        gxe.ExpectTableColumnsToMatchSet(
            column_set=[*keys, "quarantine_rule_ids", "warning_rule_ids", "implausible_fields",
                        "outlier_held_out_fields", "outlier_warning_fields", *count_columns],
            exact_match=False, meta={"scope": "build"}),
    ]
    for column in keys:
        expectations.append(gxe.ExpectColumnValuesToNotBeNull(column=column, meta={"scope": "build"}))
    for column in count_columns:
        expectations += [
            gxe.ExpectColumnValuesToBeOfType(column=column, type_="INTEGER", meta={"scope": "build"}),
            gxe.ExpectColumnValuesToNotBeNull(column=column, meta={"scope": "build"}),
            gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0, meta={"scope": "build"}),
        ]
    expectations.append(gxe.UnexpectedRowsExpectation(
        unexpected_rows_query=feed_wide_breaks_query(),
        description=(f"no rule, plausibility bound or outlier broken at {FEED_MIN_INSTITUTIONS}+ institutions and "
                     f"{FEED_INSTITUTION_SHARE:.0%} of those touched at once (one institution's breaks are held out)"),
        meta={"scope": "feed"}))
    return expectations


def _indicator_values_expectations(schema: str) -> list:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectTableRowCountToBeBetween(
            min_value={"$PARAMETER": "indicator_values_min_rows"},
            max_value={"$PARAMETER": "indicator_values_max_rows"},
            description="row count within the tolerance of the previous publication",
        ),
        *(gxe.ExpectColumnValuesToNotBeNull(column=c) for c in INDICATOR_VALUES_REQUIRED),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=list(INDICATOR_VALUES_KEY)),
        gxe.UnexpectedRowsExpectation(
            unexpected_rows_query=_missing_levels_query(schema),
            description="every level of the region hierarchy is present (community where one is registered)"),
        gxe.ExpectColumnValuesToBeInSet(column="period_type", value_set=list(PERIOD_TYPES)),
        gxe.UnexpectedRowsExpectation(
            unexpected_rows_query=_missing_indicators_query(),
            description="all 18 + 5 indicators are present for every period"),
        gxe.ExpectColumnValuesToBeBetween(column="rate", min_value=0, max_value=100,
                                          description="a rate is a percentage (NULL when the denominator is 0)"),
        gxe.ExpectColumnValuesToBeBetween(column="numerator", min_value=0),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="denominator", column_B="numerator", or_equal=True),
        gxe.UnexpectedRowsExpectation(
            unexpected_rows_query="select * from {batch} where (rate is null) <> (denominator = 0)",
            description="rate is NULL exactly when the denominator is 0",
        ),
    ]


# GX substitutes {batch} as an aliased subquery unless the query has a JOIN, where it leaves the aliasing to
# the query: the queries below alias it exactly when they join.
def _missing_levels_query(schema: str) -> str:
    institutions = f"{quote_ident(schema)}.{GATED_TABLES['marts']['institutions']}"
    levels = ", ".join(f"('{level}')" for level in LEVELS)
    return f"""
with required_levels as (
    select level from (values {levels}) as fixed (level)
    union all
    select 'community' where exists (select 1 from {institutions} where community_name is not null)
)
select required_levels.level as missing_level
from required_levels
where exists (select 1 from {{batch}})
    and not exists (select 1 from {{batch}} where level = required_levels.level)
""".strip()


def _missing_indicators_query() -> str:
    indicators = ", ".join(f"('{i.indicator_id}')" for i in domain.indicators())
    return f"""
with periods as (
    select distinct period_type, period_start from {{batch}} as batch_rows
)
select periods.period_type, periods.period_start, indicators.indicator_id as missing_indicator
from periods
cross join (values {indicators}) as indicators (indicator_id)
where not exists (
    select 1 from {{batch}} as facts
    where facts.period_type = periods.period_type and facts.period_start = periods.period_start
        and facts.indicator_id = indicators.indicator_id and facts.level = 'province'
)
""".strip()


def vanished_institutions_query(schema: str) -> str:
    """Institutions missing from a complete month since they first reported, in which at least one of their
    report days was expected (not suspended or closed throughout: fct_reporting_completeness), so their rows
    were lost or all held out. Each is an institution's problem: alerted and shown in its feedback, not a
    reason to stop."""
    facts = f"{quote_ident(schema)}.{MERGED_VIEW}"  # the published values as they will be after publishing
    completeness = f"{quote_ident(schema)}.{GATED_TABLES['marts']['reporting_completeness']}"
    return f"""
with institution_months as (
    select distinct entity_code, period_start
    from {facts}
    where level = 'institution' and period_type = 'month'
),
complete_months as (
    -- every month from the first to the one before the latest, including a month nobody appears in
    select generate_series(min(period_start), max(period_start) - interval '1 month', interval '1 month')::date
        as period_start
    from institution_months
),
first_seen as (
    select entity_code, min(period_start) as first_month
    from institution_months
    group by entity_code
),
expected_months as (
    select completeness.entity_code as institution_code, completeness.period_start
    from {completeness} as completeness
    where completeness.level = 'institution' and completeness.period_type = 'month'
        and completeness.days_expected > 0
)
select expected_months.institution_code, expected_months.period_start as missing_month
from expected_months
inner join first_seen on first_seen.entity_code = expected_months.institution_code
inner join complete_months on complete_months.period_start = expected_months.period_start
where complete_months.period_start >= first_seen.first_month
    and not exists (
        select 1 from institution_months
        where institution_months.entity_code = expected_months.institution_code
            and institution_months.period_start = expected_months.period_start
    )
""".strip()


def _mass_vanishing_query(schema: str) -> str:
    # Vanishing is the feed's problem only when many of the institutions expected in a month vanish from it.
    completeness = f"{quote_ident(schema)}.{GATED_TABLES['marts']['reporting_completeness']}"
    return f"""
with vanished as (
    {vanished_institutions_query(schema)}
)
select vanished.missing_month, count(*) as vanished_institutions
from vanished
group by vanished.missing_month
having count(*) >= greatest(
    {FEED_MIN_INSTITUTIONS},
    ceil({FEED_INSTITUTION_SHARE} * (
        select count(*) from {{batch}} as registered
        where exists (
            select 1 from {completeness} as expected
            where expected.level = 'institution' and expected.period_type = 'month'
                and expected.period_start = vanished.missing_month and expected.days_expected > 0
                and expected.entity_code = registered.institution_code
        )
    )))
""".strip()


def _institutions_expectations(schema: str) -> list:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        gxe.ExpectColumnValuesToNotBeNull(column="institution_code"),
        gxe.ExpectColumnValuesToBeUnique(column="institution_code"),
        gxe.ExpectColumnValuesToBeInSet(column="institution_status", value_set=["active", "suspended", "closed"]),
        gxe.UnexpectedRowsExpectation(
            unexpected_rows_query=_mass_vanishing_query(schema),
            description=(f"no mass vanishing: fewer than {FEED_MIN_INSTITUTIONS} institutions and "
                         f"{FEED_INSTITUTION_SHARE:.0%} of those expected to report in a complete month missing"
                         " from it"),
        ),
    ]


def _reporting_completeness_expectations(schema: str) -> list:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=list(COMPLETENESS_KEY)),
        gxe.ExpectColumnValuesToBeBetween(column="completeness_rate", min_value=0, max_value=100),
        gxe.ExpectColumnValuesToBeBetween(column="timeliness_rate", min_value=0, max_value=100),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="days_expected", column_B="days_received", or_equal=True),
    ]


def _institution_funnel_expectations() -> list:
    import great_expectations.expectations as gxe

    return [
        *(gxe.ExpectColumnValuesToNotBeNull(column=c) for c in (*FUNNEL_KEY, "funnel_flag", "regional_rate")),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=list(FUNNEL_KEY)),
        gxe.ExpectColumnValuesToBeInSet(column="funnel_flag", value_set=list(FUNNEL_FLAGS)),
        gxe.ExpectColumnValuesToBeBetween(column="denominator", min_value=1),
        gxe.UnexpectedRowsExpectation(
            unexpected_rows_query=(
                "select * from {batch} where not (0 <= lower_998_limit and lower_998_limit <= lower_95_limit"
                " and lower_95_limit <= regional_rate and regional_rate <= upper_95_limit"
                " and upper_95_limit <= upper_998_limit and upper_998_limit <= 100)"),
            description="the control limits are ordered around the regional rate, within 0-100 %"),
    ]


def _institution_ranking_expectations() -> list:
    import great_expectations.expectations as gxe

    return [
        *(gxe.ExpectColumnValuesToNotBeNull(column=c) for c in RANKING_KEY),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=list(RANKING_KEY)),
        gxe.ExpectColumnValuesToBeBetween(column="region_rank", min_value=1),
        gxe.ExpectColumnValuesToBeInSet(column="funnel_band", value_set=[1, 2, 3, 4, 5]),
        gxe.UnexpectedRowsExpectation(
            unexpected_rows_query="select * from {batch} where (region_rank is null) <> (funnel_band is null)",
            description="an institution is ranked exactly when it has a funnel position (a rate)"),
    ]


def _submission_counts_expectations() -> list:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        *(gxe.ExpectColumnValuesToNotBeNull(column=c) for c in SUBMISSION_COUNTS_KEY),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=list(SUBMISSION_COUNTS_KEY)),
        *(gxe.ExpectColumnValuesToBeBetween(column=c, min_value=0) for c in SUBMISSION_COUNTS),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="current_submissions", column_B="counted_submissions",
                                                    or_equal=True),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="institution_days", column_B="quarantined_days",
                                                    or_equal=True),
    ]


def suite_expectations(schemas: Mapping[str, str] = DEFAULT_SCHEMAS) -> dict[str, list]:
    """Suite name -> its expectations; the suite of asset ``a`` of stage ``s`` is named ``s_a``."""
    marts = schemas["marts"]
    return {
        "staged_department_days": _staged_rows_expectations(),
        "marts_indicator_values": _indicator_values_expectations(marts),
        "marts_institutions": _institutions_expectations(marts),
        "marts_reporting_completeness": _reporting_completeness_expectations(marts),
        "marts_institution_funnel": _institution_funnel_expectations(),
        "marts_institution_ranking": _institution_ranking_expectations(),
        "marts_submission_counts": _submission_counts_expectations(),
    }
