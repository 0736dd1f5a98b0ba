-- Published department-day counts: the current version of each date, quarantined rows held out.
-- depends_on: {{ ref('count_fields') }}
with

department_days as (

    select * from {{ ref('int_department_days_classified') }}

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
