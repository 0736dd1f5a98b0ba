-- Every indicator for every entity (department, campus, institution, community, county, city, province)
-- and period (month, quarter, year): Σ numerator / Σ denominator of the published rows in scope, never an
-- average of rates, with the target and the same period of the year before.
-- Built from the month aggregate, so a rebuild reads ~700 × 30 × 12 rows a year, not the day rows. Unless
-- the publication is complete, only the periods the run touched are computed (int_publication_periods, with
-- the year before each for the comparison): the publish step replaces those periods of the published table.
-- depends_on: {{ ref('count_fields') }}
{{ config(indexes=[{'columns': ['period_type', 'period_start']}]) }}
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
        case
            when grouping(department) = 0 then 'department'
            when grouping(hospital) = 0 then 'campus'
            when grouping(institution_code) = 0 then 'institution'
            when grouping(community_name) = 0 then 'community'
            when grouping(county_code) = 0 then 'county'
            when grouping(city_code) = 0 then 'city'
            else 'province'
        end as level,
        coalesce(institution_code, community_name, county_code, city_code, province_code) as entity_code,
        coalesce(institution_name, community_name, county_name, city_name, province_name) as entity_name,
        {%- for column in counts %}
            sum({{ column }}) as {{ column }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from located_periods
    group by grouping sets (
        (period_type, period_start, institution_code, institution_name, hospital, department),
        (period_type, period_start, institution_code, institution_name, hospital),
        (period_type, period_start, institution_code, institution_name),
        (period_type, period_start, community_name),
        (period_type, period_start, county_code, county_name),
        (period_type, period_start, city_code, city_name),
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
        compared_sums.period_type,
        compared_sums.period_start,
        indicators.indicator_id,
        indicators.target_rate as target,
        indicators.higher_is_better,
        case indicators.numerator_column
            {%- for column in counts %}
                when '{{ column }}' then compared_sums.{{ column }}
            {%- endfor %}
        end as numerator,
        case indicators.denominator_column
            {%- for column in counts %}
                when '{{ column }}' then compared_sums.{{ column }}
            {%- endfor %}
        end as denominator,
        case indicators.numerator_column
            {%- for column in counts %}
                when '{{ column }}' then compared_sums.last_year_{{ column }}
            {%- endfor %}
        end as last_year_numerator,
        case indicators.denominator_column
            {%- for column in counts %}
                when '{{ column }}' then compared_sums.last_year_{{ column }}
            {%- endfor %}
        end as last_year_denominator
    from compared_sums
    cross join indicators

),

final as (

    select
        entity_key,
        level,
        entity_code,
        entity_name,
        campus,
        department,
        period_type,
        period_start,
        indicator_id,
        numerator,
        denominator,
        target,
        round(100.0 * numerator / nullif(denominator, 0), 4) as rate,
        case
            when denominator = 0 or target is null or higher_is_better is null then null
            when higher_is_better then 100.0 * numerator >= target * denominator
            else 100.0 * numerator <= target * denominator
        end as meets_target,
        round(100.0 * last_year_numerator / nullif(last_year_denominator, 0), 4) as rate_same_period_last_year
    from indicator_sums
    where
        {{ complete }}
        or exists (
            select 1 from publication_periods
            where
                publication_periods.period_type = indicator_sums.period_type
                and publication_periods.period_start = indicator_sums.period_start
        )

)

select * from final
