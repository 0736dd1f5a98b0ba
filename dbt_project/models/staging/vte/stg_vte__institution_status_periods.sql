with

source as (

    select * from {{ source('registry', 'institution_status_periods') }}

),

renamed as (

    select
        institution_code,
        status as institution_status,
        from_date,
        resumed_on
    from source

)

select * from renamed
