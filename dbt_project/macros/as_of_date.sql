{#- The day the build reports up to: var('as_of_date') when given, else yesterday in Asia/Shanghai (the last day
    whose reports can be in). One definition, so completeness and partial periods agree. -#}
{% macro as_of_date() -%}
    {% if var('as_of_date') -%}
        '{{ var("as_of_date") }}'::date
    {%- else -%}
        (now() at time zone 'Asia/Shanghai')::date - 1
    {%- endif %}
{%- endmacro %}
