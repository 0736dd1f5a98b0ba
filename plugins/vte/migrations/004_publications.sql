-- Write-audit-publish: every attempt to publish the marts, and the alerts raised when a gate fails.

-- Analysts read the published marts; 003_analyst_role.sql may have created the role already.
do $$
begin
    if not exists (select from pg_roles where rolname = 'vte_analyst') then
        create role vte_analyst nologin;
    end if;
end
$$;

create table ops.publications (
    publication_id bigserial primary key,
    run_id text not null,
    published_at timestamptz not null default now(),
    candidate_schema text not null,
    published_schema text not null,
    success boolean not null,
    -- table name -> rows, of the candidate as it was gated
    row_counts jsonb not null default '{}',
    gate_statistics jsonb not null default '{}'
);

create index publications_latest on ops.publications (published_schema, published_at desc) where success;

create table ops.alerts (
    alert_id bigserial primary key,
    raised_at timestamptz not null default now(),
    run_id text not null,
    stage text not null,
    message text not null,
    -- one object per failed expectation: type, kwargs, observed, details
    failures jsonb not null default '[]',
    acknowledged_at timestamptz
);
