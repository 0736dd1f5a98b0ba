-- Reporting institutions with their place in the region hierarchy and their county medical community.
with

institutions as (

    select * from {{ ref('stg_vte__institutions') }}

),

regions as (

    select * from {{ ref('dim_regions') }}

),

final as (

    select
        institutions.institution_code,
        institutions.institution_name,
        institutions.hospital_level,
        institutions.community_name,
        institutions.institution_status,
        institutions.joined_on,
        institutions.county_code,
        regions.region_name as county_name,
        regions.city_code,
        regions.city_name,
        regions.province_code,
        regions.province_name
    from institutions
    left join regions
        on institutions.county_code = regions.region_code

)

select * from final
