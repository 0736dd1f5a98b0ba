-- GB/T 2260 divisions with the city and province each belongs to.
with

regions as (

    select * from {{ ref('stg_vte__regions') }}

),

parents as (

    select * from {{ ref('stg_vte__regions') }}

),

grandparents as (

    select * from {{ ref('stg_vte__regions') }}

),

located as (

    select
        regions.region_code,
        regions.region_name,
        regions.region_level,
        regions.parent_region_code,
        regions.region_edition,
        case regions.region_level
            when 'county' then parents.region_code
            when 'city' then regions.region_code
        end as city_code,
        case regions.region_level
            when 'county' then parents.region_name
            when 'city' then regions.region_name
        end as city_name,
        case regions.region_level
            when 'county' then grandparents.region_code
            when 'city' then parents.region_code
            else regions.region_code
        end as province_code,
        case regions.region_level
            when 'county' then grandparents.region_name
            when 'city' then parents.region_name
            else regions.region_name
        end as province_name
    from regions
    left join parents
        on regions.parent_region_code = parents.region_code
    left join grandparents
        on parents.parent_region_code = grandparents.region_code

),

final as (

    select * from located

)

select * from final
