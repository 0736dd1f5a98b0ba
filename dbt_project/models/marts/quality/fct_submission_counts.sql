-- What arrived and what became of it, per institution, county, city and province and per month, quarter and
-- year: the current submissions (the newest version of each institution's report date) and their department
-- rows, counted in the indicators, held out (quarantined: a broken quarantine rule or a count above the
-- plausibility bound) or published with warnings, the institution-days of each, and the rules broken. The
-- extracts' cover and data-quality sheet read it; an institution without a current row in the period has a
-- row of zeros. A region sums the institutions that had joined it by the end of the period.
-- Read from every current row (int_department_days_classified), not from the day-grain marts, which a sliced
-- build holds only for the touched dates: the periods are those of fct_indicator_values of the same build,
-- all of them or the ones the run touched, which the publish step replaces (vte.publication.scope). Each
-- institution's rows are read through the (institution_code, report_date) index, a period at a time, so a
-- day's build reads at most its year, whatever the years of history.
{{ config(indexes=[{'columns': ['period_type', 'period_start']}]) }}

with

department_days as (

    select * from {{ ref('int_department_days_classified') }}

),

indicator_values as (

    select * from {{ ref('fct_indicator_values') }}

),

institutions as (

    select * from {{ ref('dim_institutions') }}

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

institution_periods as (

    select
        institutions.institution_code,
        institutions.institution_name,
        institutions.county_code,
        institutions.county_name,
        institutions.city_code,
        institutions.city_name,
        institutions.province_code,
        institutions.province_name,
        periods.period_type,
        periods.period_start,
        periods.period_end
    from periods
    cross join institutions
    where coalesce(institutions.joined_on, periods.period_end) <= periods.period_end

),

period_rows as (

    select
        institution_periods.institution_code,
        institution_periods.period_type,
        institution_periods.period_start,
        department_days.submission_id,
        department_days.report_date,
        department_days.received_at,
        department_days.rule_status,
        department_days.quarantine_rule_ids,
        department_days.warning_rule_ids
    from institution_periods
    inner join department_days
        on
            institution_periods.institution_code = department_days.institution_code
            and department_days.report_date between institution_periods.period_start and institution_periods.period_end

),

institution_counts as (

    select
        period_rows.institution_code,
        period_rows.period_type,
        period_rows.period_start,
        count(distinct period_rows.submission_id) as current_submissions,
        count(distinct period_rows.submission_id) filter (
            where period_rows.rule_status <> 'quarantined'
        ) as counted_submissions,
        count(distinct period_rows.report_date) as institution_days,
        count(*) filter (where period_rows.rule_status <> 'quarantined') as counted_department_rows,
        count(*) filter (where period_rows.rule_status = 'quarantined') as quarantined_department_rows,
        count(distinct period_rows.report_date) filter (
            where period_rows.rule_status = 'quarantined'
        ) as quarantined_days,
        count(*) filter (where period_rows.rule_status = 'warning') as warning_department_rows,
        count(distinct period_rows.report_date) filter (where period_rows.rule_status = 'warning') as warning_days,
        max(period_rows.received_at) as newest_received_at
    from period_rows
    group by period_rows.institution_code, period_rows.period_type, period_rows.period_start

),

-- the rules named: the quarantine rules of held-out rows, the warning rules of rows published with warnings
broken_rules as (

    select
        period_rows.institution_code,
        period_rows.period_type,
        period_rows.period_start,
        'quarantine' as severity,
        rule_ids.rule_id
    from period_rows
    cross join lateral unnest(period_rows.quarantine_rule_ids) as rule_ids (rule_id)
    where period_rows.rule_status = 'quarantined'
    union all
    select
        period_rows.institution_code,
        period_rows.period_type,
        period_rows.period_start,
        'warning' as severity,
        rule_ids.rule_id
    from period_rows
    cross join lateral unnest(period_rows.warning_rule_ids) as rule_ids (rule_id)
    where period_rows.rule_status = 'warning'

),

located as (

    select
        institution_periods.*,
        institution_counts.newest_received_at,
        coalesce(institution_counts.current_submissions, 0) as current_submissions,
        coalesce(institution_counts.counted_submissions, 0) as counted_submissions,
        coalesce(institution_counts.institution_days, 0) as institution_days,
        coalesce(institution_counts.counted_department_rows, 0) as counted_department_rows,
        coalesce(institution_counts.quarantined_department_rows, 0) as quarantined_department_rows,
        coalesce(institution_counts.quarantined_days, 0) as quarantined_days,
        coalesce(institution_counts.warning_department_rows, 0) as warning_department_rows,
        coalesce(institution_counts.warning_days, 0) as warning_days
    from institution_periods
    left join institution_counts
        on
            institution_periods.institution_code = institution_counts.institution_code
            and institution_periods.period_type = institution_counts.period_type
            and institution_periods.period_start = institution_counts.period_start

),

-- a submission, a report day and a row belong to one institution, so a region's counts are its institutions' sums
rolled_up as (

    select
        located.period_type,
        located.period_start,
        case
            when grouping(located.institution_code) = 0 then 'institution'
            when grouping(located.county_code) = 0 then 'county'
            when grouping(located.city_code) = 0 then 'city'
            else 'province'
        end as level,
        coalesce(located.institution_code, located.county_code, located.city_code, located.province_code)
            as entity_code,
        coalesce(located.institution_name, located.county_name, located.city_name, located.province_name)
            as entity_name,
        sum(located.current_submissions)::bigint as current_submissions,
        sum(located.counted_submissions)::bigint as counted_submissions,
        sum(located.institution_days)::bigint as institution_days,
        sum(located.counted_department_rows)::bigint as counted_department_rows,
        sum(located.quarantined_department_rows)::bigint as quarantined_department_rows,
        sum(located.quarantined_days)::bigint as quarantined_days,
        sum(located.warning_department_rows)::bigint as warning_department_rows,
        sum(located.warning_days)::bigint as warning_days,
        max(located.newest_received_at) as newest_received_at
    from located
    group by grouping sets (
        (located.period_type, located.period_start, located.institution_code, located.institution_name),
        (located.period_type, located.period_start, located.county_code, located.county_name),
        (located.period_type, located.period_start, located.city_code, located.city_name),
        (located.period_type, located.period_start, located.province_code, located.province_name)
    )

),

entity_rules as (

    select
        broken_rules.period_type,
        broken_rules.period_start,
        case
            when grouping(institution_periods.institution_code) = 0 then 'institution'
            when grouping(institution_periods.county_code) = 0 then 'county'
            when grouping(institution_periods.city_code) = 0 then 'city'
            else 'province'
        end as level,
        coalesce(
            institution_periods.institution_code,
            institution_periods.county_code,
            institution_periods.city_code,
            institution_periods.province_code
        ) as entity_code,
        array_agg(distinct broken_rules.rule_id order by broken_rules.rule_id) filter (
            where broken_rules.severity = 'quarantine'
        ) as quarantine_rule_ids,
        array_agg(distinct broken_rules.rule_id order by broken_rules.rule_id) filter (
            where broken_rules.severity = 'warning'
        ) as warning_rule_ids
    from broken_rules
    inner join institution_periods
        on
            broken_rules.institution_code = institution_periods.institution_code
            and broken_rules.period_type = institution_periods.period_type
            and broken_rules.period_start = institution_periods.period_start
    group by grouping sets (
        (broken_rules.period_type, broken_rules.period_start, institution_periods.institution_code),
        (broken_rules.period_type, broken_rules.period_start, institution_periods.county_code),
        (broken_rules.period_type, broken_rules.period_start, institution_periods.city_code),
        (broken_rules.period_type, broken_rules.period_start, institution_periods.province_code)
    )

),

ruled as (

    select
        rolled_up.*,
        coalesce(entity_rules.quarantine_rule_ids, '{}'::text[]) as quarantine_rule_ids,
        coalesce(entity_rules.warning_rule_ids, '{}'::text[]) as warning_rule_ids
    from rolled_up
    left join entity_rules
        on
            rolled_up.level = entity_rules.level
            and rolled_up.entity_code = entity_rules.entity_code
            and rolled_up.period_type = entity_rules.period_type
            and rolled_up.period_start = entity_rules.period_start

),

final as (

    select
        level,
        entity_code,
        entity_name,
        period_type,
        period_start,
        current_submissions,
        counted_submissions,
        institution_days,
        counted_department_rows,
        quarantined_department_rows,
        quarantined_days,
        quarantine_rule_ids,
        warning_department_rows,
        warning_days,
        warning_rule_ids,
        newest_received_at
    from ruled

)

select * from final
