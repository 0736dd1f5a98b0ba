-- Reporting completeness and timeliness per institution and per county, city and province, by month,
-- quarter and year. A day is expected from the institution's joined_on up to var('as_of_date') (default:
-- yesterday in Asia/Shanghai, the last complete day), except the days it is suspended or closed
-- (`vte institutions`); it is late when its first version arrived after the end of the next day.
with

institutions as (

    select * from {{ ref('dim_institutions') }}

),

status_periods as (

    select * from {{ ref('stg_vte__institution_status_periods') }}

),

report_days as (

    select * from {{ ref('int_report_days_summarized') }}

),

as_of as (

    select {{ as_of_date() }} as as_of_date

),

member_days as (

    select
        institutions.institution_code,
        expected.day::date as report_date
    from institutions
    cross join as_of
    cross join lateral generate_series(
        institutions.joined_on, as_of.as_of_date, interval '1 day'
    ) as expected (day)

),

expected_days as (

    select
        member_days.institution_code,
        member_days.report_date
    from member_days
    where not exists (
        select 1
        from status_periods
        where
            status_periods.institution_code = member_days.institution_code
            and status_periods.from_date <= member_days.report_date
            and (status_periods.resumed_on is null or member_days.report_date < status_periods.resumed_on)
    )

),

day_statuses as (

    select
        expected_days.institution_code,
        expected_days.report_date,
        report_days.report_date is not null as is_received,
        coalesce(report_days.is_late, false) as is_late
    from expected_days
    left join report_days
        on
            expected_days.institution_code = report_days.institution_code
            and expected_days.report_date = report_days.report_date

),

day_periods as (

    select
        day_statuses.*,
        periods.period_type,
        periods.period_start
    from day_statuses
    cross join lateral (
        values
        ('month', date_trunc('month', day_statuses.report_date)::date),
        ('quarter', date_trunc('quarter', day_statuses.report_date)::date),
        ('year', date_trunc('year', day_statuses.report_date)::date)
    ) as periods (period_type, period_start)

),

institution_periods as (

    select
        day_periods.institution_code,
        day_periods.period_type,
        day_periods.period_start,
        count(*) as days_expected,
        count(*) filter (where day_periods.is_received) as days_received,
        count(*) filter (where day_periods.is_late) as days_late,
        coalesce(
            array_agg(day_periods.report_date order by day_periods.report_date)
            filter (where not day_periods.is_received),
            '{}'::date[]
        ) as missing_dates
    from day_periods
    group by day_periods.institution_code, day_periods.period_type, day_periods.period_start

),

located_periods as (

    select
        institution_periods.*,
        institutions.institution_name,
        institutions.county_code,
        institutions.county_name,
        institutions.city_code,
        institutions.city_name,
        institutions.province_code,
        institutions.province_name
    from institution_periods
    inner join institutions
        on institution_periods.institution_code = institutions.institution_code

),

rolled_up as (

    select
        period_type,
        period_start,
        case
            when grouping(institution_code) = 0 then 'institution'
            when grouping(county_code) = 0 then 'county'
            when grouping(city_code) = 0 then 'city'
            else 'province'
        end as level,
        coalesce(institution_code, county_code, city_code, province_code) as entity_code,
        coalesce(institution_name, county_name, city_name, province_name) as entity_name,
        sum(days_expected)::integer as days_expected,
        sum(days_received)::integer as days_received,
        sum(days_late)::integer as days_late
    from located_periods
    group by grouping sets (
        (period_type, period_start, institution_code, institution_name),
        (period_type, period_start, county_code, county_name),
        (period_type, period_start, city_code, city_name),
        (period_type, period_start, province_code, province_name)
    )

),

final as (

    select
        rolled_up.level,
        rolled_up.entity_code,
        rolled_up.entity_name,
        rolled_up.period_type,
        rolled_up.period_start,
        -- the dates themselves only for an institution; regions have too many to list
        institution_periods.missing_dates,
        rolled_up.days_expected,
        rolled_up.days_received,
        rolled_up.days_late,
        rolled_up.days_expected - rolled_up.days_received as days_missing,
        round(100.0 * rolled_up.days_received / nullif(rolled_up.days_expected, 0), 4) as completeness_rate,
        round(
            100.0 * (rolled_up.days_received - rolled_up.days_late) / nullif(rolled_up.days_received, 0), 4
        ) as timeliness_rate
    from rolled_up
    left join institution_periods
        on
            rolled_up.level = 'institution'
            and rolled_up.entity_code = institution_periods.institution_code
            and rolled_up.period_type = institution_periods.period_type
            and rolled_up.period_start = institution_periods.period_start

)

select * from final
