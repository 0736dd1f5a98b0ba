{#- The domain is defined once, in the seeds; these macros read them when a model runs so that the SQL
    generated for every count field and consistency rule follows the seed. Models that call them declare
    `-- depends_on: {{ ref('<seed>') }}` so the seed is loaded first. While dbt parses (execute is false)
    they return a stand-in of the right shape. -#}

{% macro seed_relation(seed_name) %}
    {#- The seed's table. Unit tests replace ref() with a fixture CTE, which run_query cannot read: there the
        seed is read from its schema (seeds: +schema in dbt_project.yml), so unit tests use the real rules. -#}
    {% set relation = ref(seed_name) %}
    {% if (relation | string).startswith('__dbt__cte__') %}
        {{ return(api.Relation.create(database=target.database, schema=generate_schema_name('ref', none), identifier=seed_name)) }}
    {% endif %}
    {{ return(relation) }}
{% endmacro %}

{% macro count_columns(additive_only=false) %}
    {% if not execute %}
        {{ return(['discharge_hospital']) }}
    {% endif %}
    {% set query %}
        select column_name from {{ seed_relation('count_fields') }}
        {% if additive_only %}where is_additive{% endif %}
        order by position
    {% endset %}
    {{ return(run_query(query).columns[0].values() | list) }}
{% endmacro %}

{% macro consistency_rules() %}
    {#- Each rule as {rule_id, severity, lesser, greater} with snake_case column names. -#}
    {% if not execute %}
        {{ return([{'rule_id': 'Q', 'severity': 'quarantine', 'lesser': 'discharge_hospital', 'greater': 'discharge_hospital'}]) }}
    {% endif %}
    {% set query %}
        select
            r.rule_id,
            r.severity,
            lesser.column_name as lesser,
            greater.column_name as greater
        from {{ seed_relation('consistency_rules') }} as r
        inner join {{ seed_relation('count_fields') }} as lesser on r.lesser_field = lesser.field_name
        inner join {{ seed_relation('count_fields') }} as greater on r.greater_field = greater.field_name
        order by r.rule_id
    {% endset %}
    {% set rules = [] %}
    {% for row in run_query(query).rows %}
        {% do rules.append({'rule_id': row[0], 'severity': row[1], 'lesser': row[2], 'greater': row[3]}) %}
    {% endfor %}
    {{ return(rules) }}
{% endmacro %}

{% macro broken_rule_ids(severity, relation_alias) %}
    {#- An array of the ids of the rules of this severity the row breaks (empty when none). -#}
    array_remove(array[
        {%- for rule in consistency_rules() if rule.severity == severity %}
        case when {{ relation_alias }}.{{ rule.lesser }} > {{ relation_alias }}.{{ rule.greater }} then '{{ rule.rule_id }}' end
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    ]::text [], null)
{% endmacro %}

{% macro implausible_fields(relation_alias) %}
    {#- An array of the field names (the standard's camelCase) whose count exceeds var('plausible_max_count'). -#}
    {% if not execute %}
        {{ return("array[]::text []") }}
    {% endif %}
    {% set query %}
        select column_name, field_name from {{ seed_relation('count_fields') }} order by position
    {% endset %}
    array_remove(array[
        {%- for row in run_query(query).rows %}
        case when {{ relation_alias }}.{{ row[0] }} > {{ var('plausible_max_count') }} then '{{ row[1] }}' end
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    ]::text [], null)
{% endmacro %}

{% macro refuse_non_additive_indicators(indicators_table=none, count_fields_table=none) %}
    {#- Every indicator is summed over the days of its month and the departments of its region, so one defined
        on a field that is not additive (count_fields.is_additive: distinctDischargeHospital counts a patient
        once per day and department) would count patients several times: refused with a one-line message.
        The tables default to the seeds; a test passes a copy holding such an indicator. -#}
    {% if not execute %}
        {{ return('') }}
    {% endif %}
    {% set query %}
        select indicators.indicator_id, fields.field_name
        from {{ indicators_table or seed_relation('indicators') }} as indicators
        inner join {{ count_fields_table or seed_relation('count_fields') }} as fields
            on fields.field_name in (indicators.numerator_field, indicators.denominator_field)
        where not fields.is_additive
        order by indicators.indicator_id, fields.field_name
    {% endset %}
    {% set refused = run_query(query).rows %}
    {% if refused | length > 0 %}
        {{ exceptions.raise_compiler_error(
            "indicator " ~ refused[0][0] ~ " is defined on " ~ refused[0][1] ~ ", which is not additive across days"
            ~ " or departments (count_fields.is_additive = false), but indicators are summed over months and"
            ~ " regions: define it on an additive field") }}
    {% endif %}
    {{ return('') }}
{% endmacro %}
