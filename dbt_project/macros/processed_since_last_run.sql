{#- The rows of int_department_days_classified an aggregate over them must read again: every row (re)written
    since the aggregate last read them (a new load, a correction, a back-fill, an outlier confirmed as real:
    each rewrites the whole institution-date with a new processed_at). The aggregate keeps the newest
    processed_at it read (last_processed_at); a table built before that column existed goes by load time once,
    and gets the column then (on_schema_change='append_new_columns'). -#}
{% macro processed_since_last_run() %}
    {%- if not execute -%}
        {#- while dbt parses, and for the linter: the condition's shape -#}
        {{ return("processed_at > '-infinity'::timestamptz") }}
    {%- endif -%}
    {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | list -%}
    {%- if 'last_processed_at' in columns -%}
        processed_at > (
            select coalesce(max(processed.last_processed_at), '-infinity'::timestamptz) from {{ this }} as processed
        )
    {%- else -%}
        submission_loaded_at > (
            select coalesce(max(processed.last_submission_loaded_at), '-infinity'::timestamptz)
            from {{ this }} as processed
        )
    {%- endif -%}
{% endmacro %}
