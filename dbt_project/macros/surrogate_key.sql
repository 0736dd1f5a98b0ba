{#- A text key from several columns (dbt_utils.generate_surrogate_key, which cannot be installed here). -#}
{% macro surrogate_key(columns) -%}
    md5(concat_ws('|', {% for column in columns %}coalesce({{ column }}::text, '~'){% if not loop.last %}, {% endif %}{% endfor %}))
{%- endmacro %}
