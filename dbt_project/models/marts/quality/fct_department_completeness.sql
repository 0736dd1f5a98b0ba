-- Department-level reporting completeness, per institution × campus × department and month, quarter and year.
-- A department on the institution's roster (stg_vte__expected_departments) is expected on the days its stretch
-- covers that the institution itself is expected (joined, not suspended or closed, up to as_of_date). On such
-- a day it is missing when the day's newest version has no row for it (or no version arrived), reported_zero
-- when its row states zero for every count (a true zero), reported otherwise. An institution without a roster
-- (or before its roster's first date) has nothing expected below it: its departments' rows say has_roster =
-- false, with what they sent and no expectation, as the institution-level completeness alone did before.
-- Built for the periods of fct_indicator_values of the same build, like fct_submission_counts, so a sliced
-- build reads only the touched periods' days.
-- depends_on: {{ ref('count_fields') }}
{{ config(indexes=[{'columns': ['period_type', 'period_start']}, {'columns': ['institution_code']}]) }}

with

institutions as (

    select * from {{ ref('dim_institutions') }}

),

status_periods as (

    select * from {{ ref('stg_vte__institution_status_periods') }}

),

roster as (

    select * from {{ ref('stg_vte__expected_departments') }}
    where not is_withdrawn

),

department_days as (

    select * from {{ ref('int_department_days_classified') }}

),

indicator_values as (

    select * from {{ ref('fct_indicator_values') }}

),

as_of as (

    select {{ as_of_date() }} as as_of_date

),

periods as (

    select distinct
        indicator_values.period_type,
        indicator_values.period_start,
        (
            indicator_values.period_start
            + case indicator_values.period_type
                when 'month' then interval '1 month'
                when 'quarter' then interval '3 months'
                else interval '1 year'
            end
            - interval '1 day'
        )::date as period_end
    from indicator_values

),

-- the report dates of every period built, read once whatever the number of periods over them
day_range as (

    select
        min(periods.period_start) as first_date,
        least(max(periods.period_end), max(as_of.as_of_date)) as last_date
    from periods
    cross join as_of

),

roster_starts as (

    select
        roster.institution_code,
        min(roster.effective_from) as roster_from
    from roster
    group by roster.institution_code

),

expected_institution_days as (

    select
        institutions.institution_code,
        expected.day::date as report_date
    from institutions
    cross join day_range
    cross join
        lateral generate_series(
            greatest(institutions.joined_on, day_range.first_date), day_range.last_date, interval '1 day'
        ) as expected (day)
    where not exists (
        select 1
        from status_periods
        where
            status_periods.institution_code = institutions.institution_code
            and status_periods.from_date <= expected.day::date
            and (status_periods.resumed_on is null or expected.day::date < status_periods.resumed_on)
    )

),

expected_department_days as (

    select
        expected_institution_days.institution_code,
        expected_institution_days.report_date,
        roster.campus,
        roster.department_code
    from expected_institution_days
    inner join roster
        on
            expected_institution_days.institution_code = roster.institution_code
            and expected_institution_days.report_date >= roster.effective_from
            and (roster.effective_to is null or expected_institution_days.report_date < roster.effective_to)

),

-- each institution's rows through the (institution_code, report_date) index
present_department_days as (

    select
        department_days.institution_code,
        department_days.report_date,
        department_days.hospital as campus,
        department_days.department as department_code,
        (
            {%- for column in count_columns() %}
                department_days.{{ column }} = 0{% if not loop.last %} and{% endif %}
            {%- endfor %}
        ) as is_stated_zero
    from institutions
    cross join day_range
    inner join department_days
        on
            institutions.institution_code = department_days.institution_code
            and department_days.report_date between day_range.first_date and day_range.last_date

),

department_day_statuses as (

    select
        coalesce(expected_department_days.institution_code, present_department_days.institution_code)
            as institution_code,
        coalesce(expected_department_days.report_date, present_department_days.report_date) as report_date,
        coalesce(expected_department_days.campus, present_department_days.campus) as campus,
        coalesce(expected_department_days.department_code, present_department_days.department_code)
            as department_code,
        expected_department_days.institution_code is not null as is_expected,
        case
            when present_department_days.institution_code is null then 'missing'
            when present_department_days.is_stated_zero then 'reported_zero'
            else 'reported'
        end as day_status
    from expected_department_days
    full outer join present_department_days
        on
            expected_department_days.institution_code = present_department_days.institution_code
            and expected_department_days.report_date = present_department_days.report_date
            and expected_department_days.campus = present_department_days.campus
            and expected_department_days.department_code = present_department_days.department_code

),

period_statuses as (

    select
        department_day_statuses.*,
        periods.period_type,
        periods.period_start,
        periods.period_end
    from department_day_statuses
    inner join periods
        on department_day_statuses.report_date between periods.period_start and periods.period_end

),

department_periods as (

    select
        period_statuses.institution_code,
        period_statuses.campus,
        period_statuses.department_code,
        period_statuses.period_type,
        period_statuses.period_start,
        min(period_statuses.period_end) as period_end,
        count(*) filter (where period_statuses.is_expected) as days_expected,
        count(*) filter (where period_statuses.day_status = 'reported') as days_reported,
        count(*) filter (where period_statuses.day_status = 'reported_zero') as days_reported_zero,
        count(*) filter (where period_statuses.day_status = 'missing') as days_missing,
        count(*) filter (where not period_statuses.is_expected) as days_not_expected,
        coalesce(
            array_agg(period_statuses.report_date order by period_statuses.report_date)
            filter (where period_statuses.day_status = 'missing'),
            '{}'::date[]
        ) as missing_dates,
        coalesce(
            array_agg(period_statuses.report_date order by period_statuses.report_date)
            filter (where period_statuses.day_status = 'reported_zero'),
            '{}'::date[]
        ) as reported_zero_dates
    from period_statuses
    group by
        period_statuses.institution_code,
        period_statuses.campus,
        period_statuses.department_code,
        period_statuses.period_type,
        period_statuses.period_start

),

-- the name of the department's newest stretch (it may have been renamed when re-added)
department_names as (

    select distinct on (roster.institution_code, roster.campus, roster.department_code)
        roster.institution_code,
        roster.campus,
        roster.department_code,
        roster.department_name
    from roster
    order by roster.institution_code asc, roster.campus asc, roster.department_code asc, roster.effective_from desc

),

final as (

    select
        {{ surrogate_key([
            'department_periods.institution_code', 'department_periods.campus', 'department_periods.department_code',
            'department_periods.period_type', 'department_periods.period_start',
        ]) }} as department_period_key,
        department_periods.institution_code,
        department_periods.campus,
        department_periods.department_code,
        department_names.department_name,
        department_periods.period_type,
        department_periods.period_start,
        coalesce(roster_starts.roster_from <= department_periods.period_end, false) as has_roster,
        department_names.department_code is not null as is_on_roster,
        -- without a roster nothing is expected below the institution: no expectation, nothing missing
        case
            when roster_starts.roster_from <= department_periods.period_end
                then department_periods.days_expected
        end::integer as days_expected,
        department_periods.days_reported::integer as days_reported,
        department_periods.days_reported_zero::integer as days_reported_zero,
        case
            when roster_starts.roster_from <= department_periods.period_end
                then department_periods.days_missing
        end::integer as days_missing,
        case
            when roster_starts.roster_from <= department_periods.period_end
                then department_periods.days_not_expected
        end::integer as days_not_expected,
        department_periods.missing_dates,
        department_periods.reported_zero_dates,
        case
            when roster_starts.roster_from <= department_periods.period_end
                then round(
                    100.0 * (department_periods.days_expected - department_periods.days_missing)
                    / nullif(department_periods.days_expected, 0), 4
                )
        end as completeness_rate
    from department_periods
    left join roster_starts
        on department_periods.institution_code = roster_starts.institution_code
    left join department_names
        on
            department_periods.institution_code = department_names.institution_code
            and department_periods.campus = department_names.campus
            and department_periods.department_code = department_names.department_code

)

select * from final
