-- Published (non-quarantined) counts summed by institution and report date: the small table the daily
-- indicator values (fct_daily_indicator_values) are rolled up from, one row per institution-day instead of
-- ~30 department rows, so a day's regional values read its institutions' rows, not its department rows.
-- Incremental as int_department_months_aggregated: the institution-dates whose rows changed since the last
-- run are recomputed whole. distinct_discharge_hospital is left out: it is not additive across departments.
-- Partitioned by month of report date (macros/month_partitions.sql), as raw is.
-- depends_on: {{ ref('count_fields') }}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        unique_key=['institution_code', 'report_date'],
        partition_by_month='report_date',
        pre_hook=["{{ add_month_partitions() }}"],
        indexes=[{'columns': ['institution_code', 'report_date']}, {'columns': ['report_date']}],
    )
}}

with

department_days as (

    select * from {{ ref('int_department_days_classified') }}

),

touched_days as (

    select
        *,
        rule_status = 'quarantined' as is_quarantined
    from department_days
    {% if is_incremental() %}
        -- a date's rows are (re)written together: all of them or none
        where
            {{ processed_since_last_run() }}
            {{ or_in_reprocess_window('report_date') }}
    {% endif %}

),

aggregated as (

    select
        institution_code,
        report_date,
        count(*) filter (where not is_quarantined) as published_departments,
        count(*) filter (where is_quarantined) as quarantined_departments,
        max(submission_loaded_at) as last_submission_loaded_at,
        max(processed_at) as last_processed_at,
        {%- for column in count_columns(additive_only=true) %}
            coalesce(sum({{ column }}) filter (where not is_quarantined), 0) as {{ column }}
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from touched_days
    group by institution_code, report_date

),

final as (

    select
        {{ surrogate_key(['institution_code', 'report_date']) }} as institution_day_key,
        aggregated.*
    from aggregated

)

select * from final
