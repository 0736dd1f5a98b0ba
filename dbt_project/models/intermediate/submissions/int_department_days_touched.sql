-- The department rows the latest run (re)wrote: the current versions of the institution-dates it touched.
-- The staged gate measures these, so a problem is judged on what arrived, never diluted by history, and a
-- superseded version can no longer fail a run.
with

department_days as (

    select * from {{ ref('int_department_days_classified') }}

),

final as (

    select * from department_days
    where processed_at = (select max(latest.processed_at) from department_days as latest)

)

select * from final  -- noqa: AM04
