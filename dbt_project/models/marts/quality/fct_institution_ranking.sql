-- Institutions ranked within their county, city and province on each indicator with a target, as the
-- extracts show them: first by where each lies against the funnel's control limits around the region's rate
-- (fct_institution_funnel; better than the region beyond 99.8 % first, worse beyond 99.8 % last), then by rate
-- within each band, the better rate first; ties share a rank (rank(), so 1, 1, 3). A small denominator is
-- ranked like any other (the funnel's limits already widen for it) and keeps its is_small_denominator mark.
-- An institution without a rate (denominator 0) has a row but no rank. The institutions of a region are
-- those that had joined by the end of the period.
-- Built from fct_indicator_values and fct_institution_funnel of the same build, so it holds the same periods,
-- which the publish step replaces (vte.publication.scope). Like the funnel, a row shows its region's rate, so
-- the restrictive policy requires that region to be one the analyst may read too.
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

funnel as (

    select * from {{ ref('fct_institution_funnel') }}

),

institutions as (

    select * from {{ ref('dim_institutions') }}

),

indicators as (

    select * from {{ ref('dim_indicators') }}

),

institution_values as (

    select
        indicator_values.*,
        indicators.higher_is_better,
        (
            indicator_values.period_start
            + case indicator_values.period_type
                when 'month' then interval '1 month'
                when 'quarter' then interval '3 months'
                else interval '1 year'
            end
            - interval '1 day'
        )::date as period_end
    from indicator_values
    inner join indicators
        on indicator_values.indicator_id = indicators.indicator_id
    where
        indicators.target_rate is not null
        and indicator_values.level = 'institution'

),

candidates as (

    select
        regions.region_level,
        regions.region_code,
        institution_values.entity_code as institution_code,
        institutions.institution_name,
        institution_values.period_type,
        institution_values.period_start,
        institution_values.indicator_id,
        institution_values.higher_is_better,
        institution_values.numerator,
        institution_values.denominator,
        institution_values.rate,
        institution_values.target,
        institution_values.meets_target,
        institution_values.is_small_denominator,
        institution_values.is_partial_period,
        funnel.funnel_flag,
        funnel.regional_rate,
        funnel.lower_95_limit,
        funnel.upper_95_limit,
        -- 1 (better than the region beyond 99.8 %) … 5 (worse beyond 99.8 %); empty without a funnel row
        case
            when institution_values.higher_is_better
                then
                    case funnel.funnel_flag
                        when 'above_998' then 1 when 'above_95' then 2 when 'within' then 3
                        when 'below_95' then 4 when 'below_998' then 5
                    end
            else
                case funnel.funnel_flag
                    when 'below_998' then 1 when 'below_95' then 2 when 'within' then 3
                    when 'above_95' then 4 when 'above_998' then 5
                end
        end as funnel_band
    from institution_values
    inner join institutions
        on institution_values.entity_code = institutions.institution_code
    cross join
        lateral (
            values
            ('county', institutions.county_code),
            ('city', institutions.city_code),
            ('province', institutions.province_code)
        ) as regions (region_level, region_code)
    left join funnel
        on
            regions.region_level = funnel.region_level
            and regions.region_code = funnel.region_code
            and institution_values.entity_code = funnel.institution_code
            and institution_values.indicator_id = funnel.indicator_id
            and institution_values.period_type = funnel.period_type
            and institution_values.period_start = funnel.period_start
    where coalesce(institutions.joined_on, institution_values.period_end) <= institution_values.period_end

),

ranked as (

    select
        candidates.*,
        -- no rank without a funnel position (no rate): those rows are ranked apart, then blanked
        case when candidates.funnel_band is not null then rank() over (
            partition by
                candidates.region_level,
                candidates.region_code,
                candidates.period_type,
                candidates.period_start,
                candidates.indicator_id,
                candidates.funnel_band is null
            order by
                candidates.funnel_band,
                case when candidates.higher_is_better then candidates.rate else -candidates.rate end desc
        ) end as region_rank
    from candidates

),

final as (

    select
        region_level,
        region_code,
        institution_code,
        institution_name,
        period_type,
        period_start,
        indicator_id,
        higher_is_better,
        region_rank,
        funnel_band,
        numerator,
        denominator,
        rate,
        target,
        meets_target,
        funnel_flag,
        regional_rate,
        lower_95_limit,
        upper_95_limit,
        is_small_denominator,
        is_partial_period
    from ranked

)

select * from final
