-- One row per institution and report date: how many versions arrived, when the first one did, and
-- whether that was late (after the end of D+1, Asia/Shanghai).
with

submissions as (

    select * from {{ ref('stg_vte__submissions') }}

),

summarized as (

    select
        institution_code,
        report_date,
        count(*) as version_count,
        max(version) as current_version,
        min(received_at) as first_received_at,
        max(received_at) as last_received_at
    from submissions
    group by institution_code, report_date

),

final as (

    select
        institution_code,
        report_date,
        version_count,
        current_version,
        first_received_at,
        last_received_at,
        first_received_at >= ((report_date + 2)::timestamp at time zone 'Asia/Shanghai') as is_late
    from summarized

)

select * from final
