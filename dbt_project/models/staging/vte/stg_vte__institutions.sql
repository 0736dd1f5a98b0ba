with

source as (

    select * from {{ source('registry', 'institutions') }}

),

renamed as (

    select
        institution_code,
        institution_name,
        hospital_level,
        county_code,
        community_name,
        status as institution_status,
        joined_on,
        created_at
    from source

)

select * from renamed
