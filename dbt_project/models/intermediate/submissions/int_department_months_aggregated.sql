-- Published (non-quarantined) counts summed by institution, campus, department and month: the small
-- table every indicator period is rolled up from, so the marts never re-read the day rows.
-- Incremental: only the institution-months whose day rows changed since the last run are recomputed,
-- whole, so a department or day that disappeared from a month is removed with it.
-- distinct_discharge_hospital is left out: it is not additive across days or departments.
-- depends_on: {{ ref('count_fields') }}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        unique_key=['institution_code', 'month_start'],
        indexes=[{'columns': ['institution_code', 'month_start']}],
    )
}}

with

-- Read twice: not materialized, so each reader reaches the day rows through their indexes instead of a
-- copy of the whole history.
department_days as not materialized (

    select * from {{ ref('int_department_days_classified') }}

),

touched_months as (

    select distinct
        institution_code,
        date_trunc('month', report_date)::date as month_start
    from department_days
    {% if is_incremental() %}
        where
            {{ processed_since_last_run() }}
            {{ or_in_reprocess_window('report_date') }}
    {% endif %}

),

month_days as (

    select
        department_days.*,
        touched_months.month_start,
        department_days.rule_status = 'quarantined' as is_quarantined
    from department_days
    inner join touched_months
        on
            department_days.institution_code = touched_months.institution_code
            and department_days.report_date >= touched_months.month_start
            and department_days.report_date < touched_months.month_start + interval '1 month'

),

aggregated as (

    select
        institution_code,
        hospital,
        department,
        month_start,
        count(*) filter (where not is_quarantined) as published_days,
        count(*) filter (where is_quarantined) as quarantined_days,
        max(submission_loaded_at) as last_submission_loaded_at,
        max(processed_at) as last_processed_at,
        {%- for column in count_columns(additive_only=true) %}
            coalesce(sum({{ column }}) filter (where not is_quarantined), 0) as {{ column }}
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from month_days
    group by institution_code, hospital, department, month_start

),

final as (

    select
        {{ surrogate_key(['institution_code', 'hospital', 'department', 'month_start']) }} as department_month_key,
        aggregated.*
    from aggregated

)

select * from final
