-- Least privilege: one role per component, an owner nobody logs in as, audit tables nobody can rewrite,
-- and analysts who see only their region (row-level security). vte.access.roles names the roles the
-- components connect as; docs/access.md gives the whole grant table.
--
-- Roles belong to the whole server, so they are created only when missing.
do $$
declare
    role_name text;
begin
    -- Nobody logs in as these: vte_owner owns the warehouse's own tables (and so alone could alter their
    -- triggers), vte_builder owns what dbt builds, vte_all_regions sees every region's rows of the marts.
    foreach role_name in array array['vte_owner', 'vte_builder', 'vte_all_regions', 'vte_analyst'] loop
        if not exists (select from pg_roles where rolname = role_name) then
            execute format('create role %I nologin', role_name);
        end if;
    end loop;
    foreach role_name in array array[
        'vte_intake', 'vte_loader', 'vte_transform', 'vte_publisher', 'vte_extracts', 'vte_admin', 'vte_airflow'
    ] loop
        if not exists (select from pg_roles where rolname = role_name) then
            execute format('create role %I login', role_name);
        end if;
    end loop;
    -- The former shared analyst login had no password and saw the whole province.
    if exists (select from pg_roles where rolname = 'vte_reader') then
        execute 'revoke vte_analyst from vte_reader';
        execute 'alter role vte_reader nologin';
    end if;
end
$$;

alter role vte_admin createrole;  -- creates and drops the analysts' logins
grant vte_analyst to vte_admin with admin option;

-- Everything the migrations created belongs to vte_owner (vte.migrations keeps later ones so).
alter schema registry owner to vte_owner;
alter schema raw owner to vte_owner;
alter schema ops owner to vte_owner;
alter schema history owner to vte_owner;

create schema access authorization vte_owner;

-- Which region each analyst login may read; written only by `vte analysts` (vte_admin).
create table access.analyst_regions (
    role_name name primary key,
    region_code text not null references registry.regions (region_code),
    -- a city or county analyst also sees the province's own totals
    province_totals boolean not null default false,
    display_name text not null,
    created_at timestamptz not null default now(),
    created_by text not null default session_user
);

-- The regions inside the current login's grant, its own included.
create view access.my_regions as
with recursive inside as (
    select region_code from access.analyst_regions where role_name = current_user
    union
    select regions.region_code
    from registry.regions
    inner join inside on regions.parent_code = inside.region_code
)
select region_code from inside;

create view access.my_institutions as
select institutions.institution_code
from registry.institutions
where institutions.county_code in (select my_regions.region_code from access.my_regions);

-- The (level, entity_code) pairs of fct_indicator_values the current login may read: its institutions
-- (and their campuses and departments), the communities whose every member is its own, the regions inside
-- its grant, and the province's totals where granted.
create view access.my_entities as
select levels.level, my_institutions.institution_code as entity_code
from access.my_institutions
cross join (values ('institution'), ('campus'), ('department')) as levels (level)
union all
select 'community', institutions.community_name
from registry.institutions
where institutions.community_name is not null
group by institutions.community_name
having bool_and(institutions.institution_code in (select institution_code from access.my_institutions))
union all
select regions.region_level, regions.region_code
from registry.regions
where regions.region_code in (select region_code from access.my_regions)
union all
select 'province', regions.region_code
from registry.regions
inner join access.analyst_regions on analyst_regions.role_name = current_user and analyst_regions.province_totals
where regions.region_level = 'province';

-- Audit tables are insert-only: no application role is granted UPDATE, DELETE or TRUNCATE, only the owner
-- could disable the triggers, and the triggers refuse a change even from it.
create function ops.refuse_audit_change() returns trigger language plpgsql as $$
begin
    raise exception '% is append-only: audit rows are never changed or removed', tg_table_schema || '.' || tg_table_name;
end;
$$;

create trigger admin_audit_append_only
    before update or delete or truncate on ops.admin_audit
    for each statement execute function ops.refuse_audit_change();

-- Grants. Schemas first: what each component may see at all.
revoke all on schema registry, raw, ops, history, access from public;
grant usage on schema registry to vte_intake, vte_builder, vte_publisher, vte_extracts, vte_admin;
grant usage on schema raw to vte_loader, vte_builder, vte_publisher, vte_extracts;
grant usage on schema ops to vte_loader, vte_builder, vte_publisher, vte_extracts, vte_admin;
grant usage on schema history to vte_builder, vte_publisher, vte_extracts;
grant usage on schema access to vte_analyst, vte_admin, vte_builder;
do $$
begin
    -- dbt creates its schemas (stg, int, ref, marts_candidate)
    execute format('grant create on database %I to vte_builder', current_database());
end
$$;

-- The intake authenticates against the registry and nothing else.
grant select on registry.accounts, registry.institutions to vte_intake;

-- The loader lands submissions and the intake's request log.
grant select, insert on raw.submissions, raw.submission_rows, raw.landing_loads to vte_loader;
grant select, insert on ops.intake_requests to vte_loader;
grant select, insert, update on ops.intake_audit_files to vte_loader;

-- dbt (vte_transform, as vte_builder) reads the raw layer, the registry and what was last published.
grant vte_builder to vte_transform;
grant select on registry.institutions, registry.regions, raw.submissions, raw.submission_rows to vte_builder;
grant select on ops.publications to vte_builder;
grant select on history.indicator_values to vte_builder;

-- The publisher gates and swaps what vte_builder built (as its member), and records the publication.
grant vte_builder to vte_publisher;
grant select, insert on ops.publications, ops.alerts to vte_publisher;
grant select on ops.intake_requests to vte_publisher;  -- the hospitals' feedback names refused requests
grant select, insert, update on history.indicator_values to vte_publisher;
grant select on raw.submissions to vte_publisher;

-- Extracts read every region's marts and history, and log what they wrote.
grant vte_all_regions to vte_extracts;
grant select on ops.publications to vte_extracts;
grant select, insert on ops.admin_audit to vte_extracts;
grant select on history.indicator_values to vte_extracts;
grant select on raw.submissions to vte_extracts;

-- The operators' commands: the registry, the analysts' grants, and their own audit.
grant select, insert, update on registry.regions, registry.institutions, registry.accounts to vte_admin;
grant select, insert on ops.admin_audit to vte_admin;
grant select on ops.publications, ops.alerts, ops.intake_requests, ops.schema_migrations to vte_admin;
grant select, insert, delete on access.analyst_regions to vte_admin;

-- Sequences of the tables each role inserts into.
grant usage on all sequences in schema ops to vte_loader, vte_publisher, vte_extracts, vte_admin;
grant usage on all sequences in schema raw to vte_loader;

-- Analysts read the views that scope them (which read the registry as vte_owner).
grant select on access.my_regions, access.my_institutions, access.my_entities to vte_analyst, vte_builder;
grant vte_analyst to vte_all_regions;

-- The history of published values is scoped like the marts (fct_indicator_values_history reads it as the
-- analyst, security_invoker).
grant select on history.indicator_values to vte_analyst;
alter table history.indicator_values enable row level security;
create policy every_region on history.indicator_values
    for all to vte_builder, vte_publisher, vte_all_regions using (true) with check (true);
create policy own_region on history.indicator_values
    for select to vte_analyst using ((level, entity_code) in (select level, entity_code from access.my_entities));
