-- Every indicator for every institution, community, county, city and province on every report day: the day as
-- a period, computed as fct_indicator_values computes a month (the indicator_values macros): Σ numerator /
-- Σ denominator of the published rows of the day, with the target and the small-denominator flag at the
-- province's proportion of the same day.
-- Departments and campuses are left out: ~450,000 department rows a day nationally would become ~10 million
-- indicator rows a day; institutions and above are ~15,000 × 23 a day (the model's YAML weighs the volume).
-- Built from the institution-day sums (int_institution_days_aggregated), and unless the publication is
-- complete only for the report dates the run touched (all institutions of such a date: its regional sums
-- and the province's proportion move): the publish step replaces those dates of the published table.
-- depends_on: {{ ref('count_fields') }}
-- Partitioned by month of report date (macros/month_partitions.sql), as raw is.
{{ config(partition_by_month='report_date',
          indexes=[{'columns': ['report_date']}, {'columns': ['entity_code', 'indicator_id', 'report_date']}]) }}
{%- set counts = count_columns(additive_only=true) %}
{%- set complete = 'true' if publication_is_complete() else 'false' %}

with

institution_days as (

    select * from {{ ref('int_institution_days_aggregated') }}

),

institutions as (

    select * from {{ ref('dim_institutions') }}

),

indicators as (

    select * from {{ ref('dim_indicators') }}

),

published_days as (

    select institution_days.* from institution_days
    where
        institution_days.published_departments > 0
        and (
            {{ complete }}
            or institution_days.report_date in (
                select touched.report_date from {{ ref('int_department_days_touched') }} as touched
            )
        )

),

located_days as (

    select
        published_days.*,
        institutions.institution_name,
        institutions.community_name,
        institutions.county_code,
        institutions.county_name,
        institutions.city_code,
        institutions.city_name,
        institutions.province_code,
        institutions.province_name
    from published_days
    inner join institutions
        on published_days.institution_code = institutions.institution_code

),

entity_sums as (

    select
        report_date,
        {{ grouped_entity(with_departments=false) }},
        coalesce(institution_name, community_name, county_name, city_name, province_name) as entity_name,
        province_code,
        {%- for column in counts %}
            sum({{ column }}) as {{ column }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from located_days
    group by grouping sets (
        -- every entity lies in one province: carrying its code splits no group
        (report_date, province_code, institution_code, institution_name),
        (report_date, province_code, community_name),
        (report_date, province_code, county_code, county_name),
        (report_date, province_code, city_code, city_name),
        (report_date, province_code, province_name)
    )

),

indicator_sums as (

    select
        entity_sums.level,
        entity_sums.entity_code,
        entity_sums.entity_name,
        entity_sums.province_code,
        entity_sums.report_date,
        indicators.indicator_id,
        indicators.target_rate as target,
        indicators.higher_is_better,
        {{ indicator_count('indicators.numerator_column', 'entity_sums', counts) }} as numerator,
        {{ indicator_count('indicators.denominator_column', 'entity_sums', counts) }} as denominator
    from entity_sums
    cross join indicators
    -- institutions outside any county medical community form no community
    where not (entity_sums.level = 'community' and entity_sums.entity_code is null)

),

province_sums as (

    select
        indicator_sums.province_code,
        indicator_sums.report_date,
        indicator_sums.indicator_id,
        indicator_sums.numerator,
        indicator_sums.denominator
    from indicator_sums
    where indicator_sums.level = 'province'

),

final as (

    select
        indicator_sums.level,
        indicator_sums.entity_code,
        indicator_sums.entity_name,
        indicator_sums.report_date,
        indicator_sums.indicator_id,
        indicator_sums.numerator,
        indicator_sums.denominator,
        indicator_sums.target,
        {{ indicator_rate('indicator_sums.numerator', 'indicator_sums.denominator') }} as rate,
        {{ indicator_meets_target(
            'indicator_sums.numerator', 'indicator_sums.denominator', 'indicator_sums.target',
            'indicator_sums.higher_is_better'
        ) }} as meets_target,
        {{ indicator_is_small_denominator(
            'indicator_sums.denominator', 'province_sums.numerator', 'province_sums.denominator'
        ) }} as is_small_denominator
    from indicator_sums
    inner join province_sums
        on
            indicator_sums.province_code = province_sums.province_code
            and indicator_sums.report_date = province_sums.report_date
            and indicator_sums.indicator_id = province_sums.indicator_id

)

select * from final
