-- Read-only access for analysts: vte_analyst may read the published marts (granted by dbt) and nothing else.
-- Roles belong to the whole server, so they are created only when missing.
do $$
begin
    if not exists (select from pg_roles where rolname = 'vte_analyst') then
        create role vte_analyst nologin;
    end if;
    if not exists (select from pg_roles where rolname = 'vte_reader') then
        create role vte_reader login in role vte_analyst;
    end if;
end
$$;
