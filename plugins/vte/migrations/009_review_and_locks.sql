-- Review and lock (DHIS2-style data approval): a month's data is accepted county by county, then by each
-- city, then by the province; the province's acceptance, or the month's final extract, locks the month.
-- An administrator may open a time-boxed exception for one institution and month. vte.review holds the
-- rules; these tables are their record, and every row is kept (the state is the newest event).

do $$
declare
    role_name text;
begin
    foreach role_name in array array['vte_monitor', 'vte_console'] loop
        if not exists (select from pg_roles where rolname = role_name) then
            execute format('create role %I login', role_name);
        end if;
    end loop;
end
$$;

create schema review authorization vte_owner;

-- Every accept and un-accept, in order; the newest event of a (region, month) is its state.
create table review.approval_events (
    event_id bigserial primary key,
    region_code text not null references registry.regions (region_code),
    region_level text not null check (region_level in ('county', 'city', 'province')),
    month date not null check (month = date_trunc('month', month)::date),
    action text not null check (action in ('accept', 'unaccept')),
    actor text not null,
    comment text,
    acted_at timestamptz not null default now()
);

create index approval_events_by_month on review.approval_events (month, region_code, event_id desc);

create view review.approvals as
select distinct on (region_code, month)
    region_code, region_level, month, action = 'accept' as accepted, actor, comment, acted_at
from review.approval_events
order by region_code, month, event_id desc;

-- A locked month: the intake refuses its dates; nothing already stored changes. Never removed.
create table review.month_locks (
    month date primary key check (month = date_trunc('month', month)::date),
    reason text not null check (reason in ('province_accepted', 'final_extract')),
    actor text not null,
    locked_at timestamptz not null default now()
);

-- One institution may correct one locked month until valid_until.
create table review.lock_exceptions (
    exception_id bigserial primary key,
    institution_code text not null references registry.institutions (institution_code),
    month date not null check (month = date_trunc('month', month)::date),
    valid_until timestamptz not null,
    reason text not null check (length(trim(reason)) > 0),
    actor text not null,
    opened_at timestamptz not null default now(),
    check (valid_until > opened_at)
);

create index lock_exceptions_by_institution on review.lock_exceptions (institution_code, month, valid_until);

-- The record of review is an audit: kept whole.
create trigger approval_events_append_only
    before update or delete or truncate on review.approval_events
    for each statement execute function ops.refuse_audit_change();
create trigger month_locks_append_only
    before update or delete or truncate on review.month_locks
    for each statement execute function ops.refuse_audit_change();
create trigger lock_exceptions_append_only
    before update or delete or truncate on review.lock_exceptions
    for each statement execute function ops.refuse_audit_change();

revoke all on schema review from public;
grant usage on schema review to vte_intake, vte_admin, vte_console, vte_extracts, vte_monitor;
-- The intake refuses dates of a locked month unless the institution holds an open exception.
grant select on review.month_locks, review.lock_exceptions to vte_intake;
-- Reviewers act through the console or `vte review` / `vte lock` (vte_admin).
grant select, insert on review.approval_events, review.month_locks, review.lock_exceptions to vte_admin, vte_console;
grant select on review.approvals to vte_admin, vte_console, vte_monitor;
grant usage on all sequences in schema review to vte_admin, vte_console;
-- A final extract locks its month.
grant select, insert on review.month_locks to vte_extracts;
grant select on review.month_locks, review.lock_exceptions to vte_monitor;
