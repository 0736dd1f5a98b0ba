-- Current, published department rows that break only warning rules or hold a count outside its usual range
-- (outliers against the department's own history): counted in the indicators, flagged and reported back.
-- depends_on: {{ ref('count_fields') }}
-- depends_on: {{ ref('int_department_days_touched') }}
-- depends_on: {{ ref('dim_institutions') }}
-- depends_on: {{ ref('dim_indicators') }}
{{ config(indexes=[{'columns': ['institution_code', 'report_date']}]) }}
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
        warning_rule_ids,
        outlier_warning_fields,
        outliers,
        {%- for column in count_columns() %}
            {{ column }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from department_days
    where rule_status = 'warning'

)

select * from final
