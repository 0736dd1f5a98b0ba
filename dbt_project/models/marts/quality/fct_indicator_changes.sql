-- Every indicator of every institution, county medical community, county, city and province beside its
-- previous period and the same period last year (环比、同比), as the extracts show them: the rate, the previous
-- period's rate and the change against each in percentage points. The previous period of a month is the month
-- before, of a quarter the quarter before, of a year the year before (so for a year it is the same period last
-- year). A change is the difference of the two published (rounded) rates, as a reader subtracts them; empty
-- when either rate is (no data, or a denominator of 0).
-- The current values and their marks come from fct_indicator_values of the same build, so it holds the same
-- periods, which the publish step replaces (vte.publication.scope); those include the period after each
-- touched one (int_publication_periods), whose comparison moved. The previous period may lie outside a sliced
-- build, so its sums are read from the month aggregate, each institution's through its index, and rolled up
-- as fct_indicator_values rolls them up.
-- depends_on: {{ ref('count_fields') }}
{{ config(indexes=[{'columns': ['period_type', 'period_start']}]) }}
{%- set counts = count_columns(additive_only=true) %}

with

indicator_values as (

    select * from {{ ref('fct_indicator_values') }}

),

department_months as (

    select * from {{ ref('int_department_months_aggregated') }}

),

institutions as (

    select * from {{ ref('dim_institutions') }}

),

indicators as (

    select * from {{ ref('dim_indicators') }}

),

current_values as (

    select indicator_values.*
    from indicator_values
    where indicator_values.level in ('institution', 'community', 'county', 'city', 'province')

),

periods as (

    select distinct
        current_values.period_type,
        current_values.period_start,
        (
            current_values.period_start
            - case current_values.period_type
                when 'month' then interval '1 month'
                when 'quarter' then interval '3 months'
                else interval '1 year'
            end
        )::date as previous_start
    from current_values

),

-- the published months of each period's previous period: [previous_start, period_start)
previous_months as (

    select
        periods.period_type,
        periods.period_start,
        institutions.institution_code,
        institutions.community_name,
        institutions.county_code,
        institutions.city_code,
        institutions.province_code,
        {%- for column in counts %}
            department_months.{{ column }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from periods
    cross join institutions
    inner join department_months
        on
            institutions.institution_code = department_months.institution_code
            and periods.previous_start <= department_months.month_start
            and periods.period_start > department_months.month_start
    where department_months.published_days > 0

),

previous_sums as (

    select
        period_type,
        period_start,
        {{ grouped_entity(with_departments=false) }},
        {%- for column in counts %}
            sum({{ column }}) as {{ column }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from previous_months
    group by grouping sets (
        (period_type, period_start, institution_code),
        (period_type, period_start, community_name),
        (period_type, period_start, county_code),
        (period_type, period_start, city_code),
        (period_type, period_start, province_code)
    )

),

previous_values as (

    select
        previous_sums.level,
        previous_sums.entity_code,
        previous_sums.period_type,
        previous_sums.period_start,
        indicators.indicator_id,
        {{ indicator_rate(
            indicator_count('indicators.numerator_column', 'previous_sums', counts),
            indicator_count('indicators.denominator_column', 'previous_sums', counts)
        ) }} as rate
    from previous_sums
    cross join indicators
    -- institutions outside any county medical community form no community
    where not (previous_sums.level = 'community' and previous_sums.entity_code is null)

),

final as (

    select
        current_values.level,
        current_values.entity_code,
        current_values.entity_name,
        current_values.period_type,
        current_values.period_start,
        periods.previous_start as previous_period_start,
        current_values.indicator_id,
        current_values.numerator,
        current_values.denominator,
        current_values.rate,
        current_values.target,
        current_values.meets_target,
        previous_values.rate as rate_previous_period,
        current_values.rate_same_period_last_year,
        current_values.is_partial_period,
        current_values.is_small_denominator,
        current_values.rate - previous_values.rate as change_previous_pp,
        current_values.rate - current_values.rate_same_period_last_year as change_last_year_pp
    from current_values
    inner join periods
        on
            current_values.period_type = periods.period_type
            and current_values.period_start = periods.period_start
    left join previous_values
        on
            current_values.level = previous_values.level
            and current_values.entity_code = previous_values.entity_code
            and current_values.period_type = previous_values.period_type
            and current_values.period_start = previous_values.period_start
            and current_values.indicator_id = previous_values.indicator_id

)

select * from final
