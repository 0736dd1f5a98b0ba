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
        confirmed_at,
        closed_at,
        -- withdrawn: closed on its first date, never expected (kept: withdrawing is a change to republish)
        coalesce(effective_to = effective_from, false) as is_withdrawn
    from source

)

select * from renamed
