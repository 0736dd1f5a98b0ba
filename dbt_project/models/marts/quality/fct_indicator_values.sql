-- Every indicator for every entity (department, campus, institution, community, county, city, province)
-- and period (month, quarter, year): Σ numerator / Σ denominator of the published rows in scope, never an
-- average of rates, with the target and the same period of the year before.
-- Built from the month aggregate, so a rebuild reads ~700 × 30 × 12 rows a year, not the day rows. Unless
-- the publication is complete, only the periods the run touched are computed (int_publication_periods, with
-- the year before each for the comparison): the publish step replaces those periods of the published table.
-- A value is partial (is_partial_period) while its period is not over at the as-of date (var('as_of_date'),
-- default yesterday in Asia/Shanghai, as fct_reporting_completeness) or while its entity's expected report
-- days are not all in. The flag turns false only when a period's last expected report arrives, and a report
-- for a date touches that date's periods, so the sliced publication rewrites it then.
-- A rate's denominator is small (is_small_denominator) when n × p < 5 or n × (1 − p) < 5 at the province's
-- rate p of the same indicator and period: below that the binomial's normal approximation, which the funnel
-- limits (fct_institution_funnel) rest on, does not hold and one patient moves the rate visibly.
-- depends_on: {{ ref('count_fields') }}
-- Analyzed as soon as it is built: the models read from it in the same build (the funnel, the ranking, the
-- changes) are planned before autovacuum has looked at a new table, and on a national day's 37 million rows
-- the funnel's plan without statistics ran for over a quarter of an hour.
{{ config(indexes=[{'columns': ['period_type', 'period_start']}], post_hook=["analyze {{ this }}"]) }}
{%- set counts = count_columns(additive_only=true) %}
{%- set complete = 'true' if publication_is_complete() else 'false' %}

with

department_months as (

    select * from {{ ref('int_department_months_aggregated') }}

),

institutions as (

    select * from {{ ref('dim_institutions') }}

),

indicators as (

    select * from {{ ref('dim_indicators') }}

),

publication_periods as (

    select * from {{ ref('int_publication_periods') }}

),

completeness as (

    select * from {{ ref('fct_reporting_completeness') }}

),

as_of as (

    select {{ as_of_date() }} as as_of_date

),

published_months as (

    select * from department_months
    where published_days > 0

),

department_periods as (

    -- Each month counts towards itself, its quarter and its year.
    select
        published_months.*,
        periods.period_type,
        periods.period_start
    from published_months
    cross join
        lateral (
            values
            ('month', published_months.month_start),
            ('quarter', date_trunc('quarter', published_months.month_start)::date),
            ('year', date_trunc('year', published_months.month_start)::date)
        ) as periods (period_type, period_start)
    where
        periods.period_type in (
            '{{ var("indicator_period_types") | join("', '") }}'  -- noqa: LT05
        )
        and (
            {{ complete }}
            or exists (
                select 1 from publication_periods
                where
                    publication_periods.period_type = periods.period_type
                    and periods.period_start in (
                        publication_periods.period_start, (publication_periods.period_start - interval '1 year')::date
                    )
            )
        )

),

located_periods as (

    select
        department_periods.*,
        institutions.institution_name,
        institutions.community_name,
        institutions.county_code,
        institutions.county_name,
        institutions.city_code,
        institutions.city_name,
        institutions.province_code,
        institutions.province_name
    from department_periods
    inner join institutions
        on department_periods.institution_code = institutions.institution_code

),

entity_sums as (

    select
        period_type,
        period_start,
        hospital as campus,
        department,
        {{ grouped_entity(with_departments=true) }},
        coalesce(institution_name, community_name, county_name, city_name, province_name) as entity_name,
        province_code,
        {%- for column in counts %}
            sum({{ column }}) as {{ column }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from located_periods
    group by grouping sets (
        -- every entity lies in one province: carrying its code splits no group
        (period_type, period_start, province_code, institution_code, institution_name, hospital, department),
        (period_type, period_start, province_code, institution_code, institution_name, hospital),
        (period_type, period_start, province_code, institution_code, institution_name),
        (period_type, period_start, province_code, community_name),
        (period_type, period_start, province_code, county_code, county_name),
        (period_type, period_start, province_code, city_code, city_name),
        (period_type, period_start, province_code, province_name)
    )

),

keyed_sums as (

    select
        entity_sums.*,
        concat_ws('|', entity_sums.level, entity_sums.entity_code, entity_sums.campus, entity_sums.department)
            as entity_key
    from entity_sums
    -- institutions outside any county medical community form no community
    where not (entity_sums.level = 'community' and entity_sums.entity_code is null)

),

compared_sums as (

    select
        keyed_sums.*,
        {%- for column in counts %}
            last_year.{{ column }} as last_year_{{ column }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from keyed_sums
    left join keyed_sums as last_year
        on
            keyed_sums.entity_key = last_year.entity_key
            and keyed_sums.period_type = last_year.period_type
            and (keyed_sums.period_start - interval '1 year')::date = last_year.period_start

),

indicator_sums as (

    select
        compared_sums.entity_key,
        compared_sums.level,
        compared_sums.entity_code,
        compared_sums.entity_name,
        compared_sums.campus,
        compared_sums.department,
        compared_sums.province_code,
        compared_sums.period_type,
        compared_sums.period_start,
        indicators.indicator_id,
        indicators.target_rate as target,
        indicators.higher_is_better,
        {{ indicator_count('indicators.numerator_column', 'compared_sums', counts) }} as numerator,
        {{ indicator_count('indicators.denominator_column', 'compared_sums', counts) }} as denominator,
        {{ indicator_count('indicators.numerator_column', 'compared_sums', counts, 'last_year_') }}
            as last_year_numerator,
        {{ indicator_count('indicators.denominator_column', 'compared_sums', counts, 'last_year_') }}
            as last_year_denominator
    from compared_sums
    cross join indicators

),

built_sums as (

    select indicator_sums.* from indicator_sums
    where
        {{ complete }}
        or exists (
            select 1 from publication_periods
            where
                publication_periods.period_type = indicator_sums.period_type
                and publication_periods.period_start = indicator_sums.period_start
        )

),

province_sums as (

    select
        built_sums.province_code,
        built_sums.period_type,
        built_sums.period_start,
        built_sums.indicator_id,
        built_sums.numerator,
        built_sums.denominator
    from built_sums
    where built_sums.level = 'province'

),

entity_gaps as (

    -- The entities whose expected report days in a period are not all in; a community's are its members'.
    select
        completeness.level,
        completeness.entity_code,
        completeness.period_type,
        completeness.period_start,
        completeness.days_received < completeness.days_expected as has_missing_days
    from completeness
    union all
    select
        'community' as level,
        institutions.community_name as entity_code,
        completeness.period_type,
        completeness.period_start,
        bool_or(completeness.days_received < completeness.days_expected) as has_missing_days
    from completeness
    inner join institutions
        on completeness.entity_code = institutions.institution_code
    where completeness.level = 'institution' and institutions.community_name is not null
    group by institutions.community_name, completeness.period_type, completeness.period_start

),

final as (

    select
        built_sums.entity_key,
        built_sums.level,
        built_sums.entity_code,
        built_sums.entity_name,
        built_sums.campus,
        built_sums.department,
        built_sums.period_type,
        built_sums.period_start,
        built_sums.indicator_id,
        built_sums.numerator,
        built_sums.denominator,
        built_sums.target,
        {{ indicator_rate('built_sums.numerator', 'built_sums.denominator') }} as rate,
        {{ indicator_meets_target(
            'built_sums.numerator', 'built_sums.denominator', 'built_sums.target', 'built_sums.higher_is_better'
        ) }} as meets_target,
        {{ indicator_rate('built_sums.last_year_numerator', 'built_sums.last_year_denominator') }}
            as rate_same_period_last_year,
        (
            built_sums.period_start
            + case built_sums.period_type
                when 'month' then interval '1 month' when 'quarter' then interval '3 months' else interval '1 year'
            end
        )::date - 1 > as_of.as_of_date
        or coalesce(entity_gaps.has_missing_days, false) as is_partial_period,
        {{ indicator_is_small_denominator(
            'built_sums.denominator', 'province_sums.numerator', 'province_sums.denominator'
        ) }} as is_small_denominator
    from built_sums
    cross join as_of
    left join province_sums
        on
            built_sums.province_code = province_sums.province_code
            and built_sums.period_type = province_sums.period_type
            and built_sums.period_start = province_sums.period_start
            and built_sums.indicator_id = province_sums.indicator_id
    left join entity_gaps
        on
            case
                when built_sums.level in ('department', 'campus') then 'institution' else built_sums.level
            end = entity_gaps.level
            and built_sums.entity_code = entity_gaps.entity_code
            and built_sums.period_type = entity_gaps.period_type
            and built_sums.period_start = entity_gaps.period_start

)

select * from final
