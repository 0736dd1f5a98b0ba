-- The indicator periods the next publication replaces: the months of the report dates processed since the
-- last publication, their quarters and years, the same periods a year later (whose comparison with the year
-- before moved) and the month and quarter after each (whose comparison with the period before moved,
-- fct_indicator_changes). fct_indicator_values recomputes only these, unless the publication is complete.
with

touched_months as (

    select distinct date_trunc('month', report_date)::date as month_start
    from {{ ref('int_department_days_touched') }}

),

periods as (

    select
        'month' as period_type,
        month_start as period_start
    from touched_months
    union
    select
        'quarter' as period_type,
        date_trunc('quarter', month_start)::date as period_start
    from touched_months
    union
    select
        'year' as period_type,
        date_trunc('year', month_start)::date as period_start
    from touched_months

),

final as (

    select
        period_type,
        period_start
    from periods
    union
    select
        period_type,
        (period_start + interval '1 year')::date as period_start
    from periods
    union
    select
        period_type,
        (period_start + case period_type when 'month' then interval '1 month' else interval '3 months' end)::date
            as period_start
    from periods
    where period_type in ('month', 'quarter')

)

select * from final
