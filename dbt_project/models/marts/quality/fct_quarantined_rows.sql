-- Current department rows held out of the indicators because they break a quarantine rule (a numerator
-- above its denominator), hold a count above the plausibility bound or one far above the department's own
-- history, with every reason; the feedback report to the institution reads it.
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
        quarantine_rule_ids,
        implausible_fields,
        warning_rule_ids,
        outlier_held_out_fields,
        outlier_warning_fields,
        outliers,
        {%- for column in count_columns() %}
            {{ column }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from department_days
    where rule_status = 'quarantined'

)

select * from final
