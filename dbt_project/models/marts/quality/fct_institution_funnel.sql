-- Fair institution comparison (funnel plot): each institution's rate of an indicator with a target against
-- the rate of its county, city and province in the same period, with the 95 % and 99.8 % control limits of
-- the binomial at that regional rate for the institution's denominator, and where the institution lies.
-- Limits: the usual normal approximation, p ± z × sqrt(p × (1 − p) / n), p the regional proportion, n the
-- institution's denominator, z = 1.96 (95 %) and 3.09 (99.8 %), clipped to 0-100 %. Where n × p or
-- n × (1 − p) is under 5 the approximation is poor: fct_indicator_values marks such a value
-- is_small_denominator, carried here.
-- Built from fct_indicator_values of the same build, so it holds the same periods: all of them, or only the
-- periods the run touched, which the publish step replaces (vte.publication.scope).
-- The row_access 'institution' policy lets an analyst read the rows of its own institutions; a row also shows
-- its region's rate, so the restrictive policy below requires that region to be one the analyst may read too
-- (a city's analyst sees the province's rate only with province totals).
{{
    config(
        indexes=[{'columns': ['region_code', 'period_type', 'period_start']}],
        post_hook=["{{ region_granted_policy() }}"],
    )
}}

with

indicator_values as (

    select * from {{ ref('fct_indicator_values') }}

),

institutions as (

    select * from {{ ref('dim_institutions') }}

),

indicators as (

    select * from {{ ref('dim_indicators') }}

),

-- Read twice (the institutions and their regions): not materialized, so PostgreSQL plans each reading from the
-- table itself. Materialized, its row estimate was so far off that a national day's funnel ran for over a
-- quarter of an hour instead of 14 seconds.
target_values as not materialized (

    -- the indicators the standard sets a target for are the ones institutions are compared on
    select
        indicator_values.*,
        indicators.higher_is_better
    from indicator_values
    inner join indicators
        on indicator_values.indicator_id = indicators.indicator_id
    where
        indicators.target_rate is not null
        and indicator_values.level in ('institution', 'county', 'city', 'province')

),

institution_regions as (

    select
        target_values.*,
        regions.region_level,
        regions.region_code
    from target_values
    inner join institutions
        on target_values.entity_code = institutions.institution_code
    cross join
        lateral (
            values
            ('county', institutions.county_code),
            ('city', institutions.city_code),
            ('province', institutions.province_code)
        ) as regions (region_level, region_code)
    where target_values.level = 'institution' and target_values.denominator > 0

),

compared as (

    select
        institution_regions.*,
        region_values.entity_name as region_name,
        region_values.numerator as region_numerator,
        region_values.denominator as region_denominator,
        institution_regions.numerator::numeric / institution_regions.denominator as proportion,
        region_values.numerator::numeric / region_values.denominator as regional_proportion
    from institution_regions
    inner join target_values as region_values
        on
            institution_regions.region_level = region_values.level
            and institution_regions.region_code = region_values.entity_code
            and institution_regions.period_type = region_values.period_type
            and institution_regions.period_start = region_values.period_start
            and institution_regions.indicator_id = region_values.indicator_id

),

limited as (

    select
        compared.*,
        sqrt(compared.regional_proportion * (1 - compared.regional_proportion) / compared.denominator)
            as standard_error
    from compared

),

final as (

    select
        limited.region_level,
        limited.region_code,
        limited.region_name,
        limited.entity_code as institution_code,
        limited.entity_name as institution_name,
        limited.period_type,
        limited.period_start,
        limited.indicator_id,
        limited.higher_is_better,
        limited.numerator,
        limited.denominator,
        limited.rate,
        limited.region_numerator,
        limited.region_denominator,
        limited.is_small_denominator,
        limited.is_partial_period,
        round(100 * limited.regional_proportion, 4) as regional_rate,
        round(100 * greatest(limited.regional_proportion - 3.09 * limited.standard_error, 0), 4) as lower_998_limit,
        round(100 * greatest(limited.regional_proportion - 1.96 * limited.standard_error, 0), 4) as lower_95_limit,
        round(100 * least(limited.regional_proportion + 1.96 * limited.standard_error, 1), 4) as upper_95_limit,
        round(100 * least(limited.regional_proportion + 3.09 * limited.standard_error, 1), 4) as upper_998_limit,
        case
            when limited.proportion > limited.regional_proportion + 3.09 * limited.standard_error then 'above_998'
            when limited.proportion > limited.regional_proportion + 1.96 * limited.standard_error then 'above_95'
            when limited.proportion < limited.regional_proportion - 3.09 * limited.standard_error then 'below_998'
            when limited.proportion < limited.regional_proportion - 1.96 * limited.standard_error then 'below_95'
            else 'within'
        end as funnel_flag
    from limited

)

select * from final
