-- Published department-day counts: the current version of each date, quarantined rows held out.
-- Partitioned by month of report date (macros/month_partitions.sql), as raw is.
-- depends_on: {{ ref('count_fields') }}
-- depends_on: {{ ref('int_department_days_touched') }}
-- depends_on: {{ ref('dim_institutions') }}
-- depends_on: {{ ref('dim_indicators') }}
{{ config(partition_by_month='report_date', indexes=[{'columns': ['institution_code', 'report_date']}]) }}
with

department_days as (

    {% if publication_is_complete() -%}
        select * from {{ ref('int_department_days_classified') }}
    {%- else -%}
        select * from {{ ref('int_department_days_touched') }}
    {%- endif %}

),

final as (

    select
        department_day_key,
        institution_code,
        hospital,
        department,
        report_date,
        submission_id,
        version,
        channel,
        received_at,
        rule_status,
        warning_rule_ids,
        {%- for column in count_columns() %}
            {{ column }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from department_days
    where rule_status <> 'quarantined'

)

select * from final
