{#- One definition of an indicator value from summed counts, and of the entity a grouped row sums, shared by
    fct_indicator_values (months, quarters, years), fct_daily_indicator_values (days) and fct_indicator_changes
    (the previous periods), so a day, a month and a comparison are computed the same way. -#}

{% macro indicator_count(role_column, relation_alias, counts, prefix='') %}
    {#- The sum of the indicator's numerator or denominator field (role_column: indicators.numerator_column
        or indicators.denominator_column) out of the wide row of summed counts. -#}
    case {{ role_column }}
        {%- for column in counts %}
            when '{{ column }}' then {{ relation_alias }}.{{ prefix }}{{ column }}
        {%- endfor %}
    end
{%- endmacro %}

{% macro indicator_rate(numerator, denominator) -%}
    round(100.0 * {{ numerator }} / nullif({{ denominator }}, 0), 4)
{%- endmacro %}

{% macro indicator_meets_target(numerator, denominator, target, higher_is_better) %}
    case
        when
            {{ denominator }} = 0 or {{ target }} is null or {{ higher_is_better }} is null
            then null
        when {{ higher_is_better }}
            then 100.0 * {{ numerator }} >= {{ target }} * {{ denominator }}
        else 100.0 * {{ numerator }} <= {{ target }} * {{ denominator }}
    end
{%- endmacro %}

{% macro indicator_is_small_denominator(denominator, province_numerator, province_denominator) %}
    {#- n × p < 5 or n × (1 − p) < 5 at the province's proportion p (fct_indicator_values says why). -#}
    case
        when {{ denominator }} > 0
            then
                {{ denominator }} * {{ province_numerator }} < 5 * {{ province_denominator }}
                or {{ denominator }} * ({{ province_denominator }} - {{ province_numerator }})
                < 5 * {{ province_denominator }}
    end
{%- endmacro %}

{% macro grouped_entity(with_departments=false) %}
    {#- Which entity a row of `group by grouping sets (…)` over located counts sums (department, campus,
        institution, community, county, city or province), as `level` and `entity_code`. A community's code is
        its name, empty for the institutions outside any: the caller drops those rows. -#}
    case
        {%- if with_departments %}
            when grouping(department) = 0 then 'department'
            when grouping(hospital) = 0 then 'campus'
        {%- endif %}
        when grouping(institution_code) = 0 then 'institution'
        when grouping(community_name) = 0 then 'community'
        when grouping(county_code) = 0 then 'county'
        when grouping(city_code) = 0 then 'city'
        else 'province'
    end as level,
    case
        when grouping(community_name) = 0 then community_name
        else coalesce(institution_code, county_code, city_code, province_code)
    end as entity_code
{%- endmacro %}
