{#- Analysts read the marts schema and nothing else: table grants come from the models' `grants` config.
    The schema may not exist yet (e.g. after `dbt seed` alone), hence the check. -#}
{% macro grant_marts_usage() %}
    {% if execute %}
        do $$
        begin
            if exists (select from pg_namespace where nspname = '{{ var("marts_schema") }}') then
                execute 'grant usage on schema {{ adapter.quote(var("marts_schema")) }} to vte_analyst';
            end if;
        end
        $$
    {% endif %}
{% endmacro %}
