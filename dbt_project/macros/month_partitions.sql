{#- Day-grain models partitioned by month of their report date: config(partition_by_month='report_date').
    PostgreSQL cannot create a partitioned table from a query, so the model's columns are taken from the query
    planned without running it, its month partitions are added (partitions.add_report_months, migration 022:
    the months raw holds), and its rows inserted. Every other table is created as dbt-postgres creates it. -#}

{% macro postgres__create_table_as(temporary, relation, sql) -%}
    {%- set partition_column = config.get('partition_by_month') -%}
    {%- if temporary or not partition_column -%}
        {{ dbt.postgres__create_table_as(temporary, relation, sql) }}
    {%- else -%}
        {%- set shape = relation.identifier ~ '__shape' -%}
        create temporary table "{{ shape }}" as (
            {{ sql }}
        ) with no data;
        create table {{ relation }} (like pg_temp."{{ shape }}" including defaults)
            partition by range ({{ adapter.quote(partition_column) }});
        drop table pg_temp."{{ shape }}";
        select partitions.add_report_months('{{ relation }}'::regclass);
        insert into {{ relation }}
        select * from (
            {{ sql }}
        ) as model_rows;
    {%- endif -%}
{%- endmacro %}

{% macro add_month_partitions() -%}
    {#- A pre-hook of an incremental partitioned model: the months loaded since its last run get their partitions
        before dbt inserts into them. -#}
    {%- if is_incremental() -%}
        select partitions.add_report_months('{{ this }}'::regclass)
    {%- endif -%}
{%- endmacro %}
