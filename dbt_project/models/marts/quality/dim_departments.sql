-- Every department (institution × campus × department id) that has reported, with its first and last month.
with

department_months as (

    select * from {{ ref('int_department_months_aggregated') }}

),

departments as (

    select
        institution_code,
        hospital,
        department,
        min(month_start) as first_reported_month,
        max(month_start) as last_reported_month
    from department_months
    group by institution_code, hospital, department

),

final as (

    select
        {{ surrogate_key(['institution_code', 'hospital', 'department']) }} as department_key,
        departments.*
    from departments

)

select * from final
