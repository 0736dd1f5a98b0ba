with

source as (

    select * from {{ source('registry', 'regions') }}

),

renamed as (

    select
        region_code,
        region_name,
        region_level,
        parent_code as parent_region_code,
        edition as region_edition
    from source

)

select * from renamed
