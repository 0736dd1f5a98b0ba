-- One definition of region containment: access.regions_inside (011) answers "which divisions lie inside
-- this one" for the console and now for the analysts' row-level security too.
-- Divisions are reference data every marts reader sees anyway (marts.dim_regions), so the function reads
-- the registry with its owner's rights: a role that may call it needs no access to the registry.

create or replace function access.regions_inside(code text) returns setof text
language sql stable strict parallel safe security definer set search_path = pg_catalog, registry as $$
    with recursive inside as (
        select regions.region_code
        from registry.regions
        where regions.region_code = code
        union
        select regions.region_code
        from registry.regions
        inner join inside on regions.parent_code = inside.region_code
    )
    select inside.region_code from inside
$$;

revoke all on function access.regions_inside(text) from public;
grant execute on function access.regions_inside(text) to vte_console, vte_admin, vte_analyst, vte_monitor, vte_builder;

-- The regions inside the current login's grant, its own included.
create or replace view access.my_regions as
select access.regions_inside(analyst_regions.region_code) as region_code
from access.analyst_regions
where analyst_regions.role_name = current_user;
