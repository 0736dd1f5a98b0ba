{#
    Back-fill: `--vars '{reprocess_from: 2026-01-01, reprocess_to: 2026-01-31}'` (or the vte_transform DAG's
    from_date/to_date params) makes the incremental models re-process those report dates as well as what was
    loaded since their last run.
#}
{% macro or_in_reprocess_window(date_column) -%}
    {%- set first = var('reprocess_from', '') -%}
    {%- set last = var('reprocess_to', '') -%}
    {%- if first and last %}
        or {{ date_column }} between '{{ first }}'::date and '{{ last }}'::date
    {%- endif -%}
{%- endmacro %}

{#
    Whether this build publishes complete marts rather than the slices the run touched: when the marts are
    built in the published schema itself (`vte dbt build`), when nothing was published yet, when the
    publish_all var asks for it, or when the registry or the indicator definitions differ from the published
    ones (an institution moved county: every period's sums move).
#}
{% macro publication_is_complete() %}
    {% if not execute %}
        {{ return(true) }}
    {% endif %}
    {% set published = var('published_schema') %}
    {% if var('marts_schema') == published %}
        {{ return(true) }}
    {% endif %}
    {% if (var('publish_all') | string | lower) in ['true', '1', 'yes'] %}
        {% do log(this.identifier ~ ": complete build, publish_all", info=true) %}
        {{ return(true) }}
    {% endif %}
    {% for table in ['fct_indicator_values', 'fct_department_days', 'dim_institutions', 'dim_indicators'] %}
        {% if adapter.get_relation(database=target.database, schema=published, identifier=table) is none %}
            {% do log(this.identifier ~ ": complete build, nothing published in " ~ published ~ "." ~ table, info=true) %}
            {{ return(true) }}
        {% endif %}
    {% endfor %}
    {% set query %}
        select
            exists (select * from {{ ref('dim_institutions') }} except select * from {{ published }}.dim_institutions)
            or exists (select * from {{ published }}.dim_institutions except select * from {{ ref('dim_institutions') }})
            or exists (select * from {{ ref('dim_indicators') }} except select * from {{ published }}.dim_indicators)
            or exists (select * from {{ published }}.dim_indicators except select * from {{ ref('dim_indicators') }})
    {% endset %}
    {% set changed = run_query(query).columns[0].values()[0] %}
    {% if changed %}
        {% do log(this.identifier ~ ": complete build, the registry or the indicator definitions changed", info=true) %}
    {% endif %}
    {{ return(changed) }}
{% endmacro %}
