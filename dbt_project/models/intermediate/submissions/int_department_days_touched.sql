-- The department rows (re)processed since the last successful publication: the current versions of the
-- institution-dates the next publication replaces. The staged gate measures these, so a problem is judged on
-- what arrived, never diluted by history, and a superseded version can no longer fail a run; rows of a run
-- that did not publish stay here until one does.
with

department_days as (

    select * from {{ ref('int_department_days_classified') }}

),

last_publication as (

    select max(processed_through) as processed_through
    from {{ source('ops', 'publications') }}
    where success and published_schema = '{{ var("published_schema") }}'

),

final as (

    select department_days.* from department_days
    where department_days.processed_at > coalesce(
        (select last_publication.processed_through from last_publication), '-infinity'::timestamptz
    )

)

select * from final  -- noqa: AM04
