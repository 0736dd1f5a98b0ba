with

source as (

    select * from {{ source('registry', 'confirmed_outliers') }}

),

renamed as (

    select
        confirmed_outlier_id,
        institution_code,
        report_date,
        campus as hospital,
        department_code as department,
        field_name,
        field_value,
        confirmed_by,
        confirmed_at
    from source

)

select * from renamed
