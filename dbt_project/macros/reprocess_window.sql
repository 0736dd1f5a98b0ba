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
