{#- Regional analysts see only their region's rows (row-level security, migration 008_component_roles.sql).
    A marts model declares what scopes its rows in `meta.row_access`:
      institution  - its institution_code lies in the analyst's region;
      entity       - its (level, entity_code) is an institution, community or region inside it;
      invoker      - a view that reads with the analyst's rights, so the tables' policies apply;
      public       - reference data (dates, indicators, divisions) every analyst reads whole.
    The policies are created on the table dbt just built, so they travel with it into the published schema.
    A model that declares nothing is refused: forgetting would publish every region to every analyst. -#}
{% macro row_access_policies() %}
    {%- set scope = (config.get('meta') or {}).get('row_access') if execute else 'public' -%}
    {%- if scope == 'institution' or scope == 'entity' %}
        alter table {{ this }} enable row level security;
        create policy every_region on {{ this }} for select to vte_all_regions using (true);
        create policy own_region on {{ this }} for select to vte_analyst using (
        {%- if scope == 'institution' %}
            institution_code in (select my_institutions.institution_code from access.my_institutions)
        {%- else %}
            (level, entity_code) in (select my_entities.level, my_entities.entity_code from access.my_entities)
        {%- endif %}
        )
    {%- elif scope == 'invoker' %}
        alter view {{ this }} set (security_invoker = true)
    {%- elif scope != 'public' %}
        {{ exceptions.raise_compiler_error(
            "marts model " ~ this.identifier ~ " declares no meta.row_access (institution, entity, invoker or"
            ~ " public): say which rows a regional analyst may read") }}
    {%- endif %}
{% endmacro %}

{#- A row that also shows its region's figures (fct_institution_funnel, fct_institution_ranking): on top of
    row_access 'institution', an analyst reads it only if that region is one it may read too, so a city's
    analyst sees the province's figures only with province totals. -#}
{% macro region_granted_policy() %}
    create policy region_granted on {{ this }} as restrictive for select to vte_analyst using (
        pg_has_role('vte_all_regions', 'member')
        or (region_level, region_code) in (select my_entities.level, my_entities.entity_code from access.my_entities)
    )
{% endmacro %}
