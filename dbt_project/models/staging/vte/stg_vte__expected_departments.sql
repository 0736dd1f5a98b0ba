with

source as (

    select * from {{ source('registry', 'expected_departments') }}

),

renamed as (

    select
        expected_department_id,
        institution_code,
        campus,
        department_code,
        department_name,
        effective_from,
        effective_to,
        source as roster_source,
        confirmed_by,
        confirmed_at
    from source
    -- withdrawn: closed on its first date, never expected
    where effective_to is null or effective_to > effective_from

)

select * from renamed
