-- The indicator periods the next publication replaces: the months of the report dates processed since the
-- last publication, and the months a roster change since then reaches (from its date up to as_of_date: the
-- expected departments of fct_department_completeness moved); their quarters and years, the same periods a
-- year later (whose comparison with the year before moved) and the month and quarter after each (whose
-- comparison with the period before moved, fct_indicator_changes). fct_indicator_values recomputes only these,
-- unless the publication is complete.
with

roster as (

    select * from {{ ref('stg_vte__expected_departments') }}

),

last_publication as (

    select coalesce(max(processed_through), '-infinity'::timestamptz) as processed_through
    from {{ source('ops', 'publications') }}
    where success and published_schema = '{{ var("published_schema") }}'

),

-- the first report date each roster change reaches: a stretch added or confirmed, or closed (withdrawn too)
roster_changes as (

    select roster.effective_from as changed_from
    from roster
    cross join last_publication
    where roster.confirmed_at > last_publication.processed_through
    union
    select roster.effective_to as changed_from
    from roster
    cross join last_publication
    where roster.closed_at > last_publication.processed_through

),

touched_months as (

    select distinct date_trunc('month', report_date)::date as month_start
    from {{ ref('int_department_days_touched') }}
    union
    select roster_months.month_start::date as month_start
    from roster_changes
    cross join
        lateral generate_series(
            date_trunc('month', roster_changes.changed_from),
            date_trunc('month', {{ as_of_date() }}),
            interval '1 month'
        ) as roster_months (month_start)

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
