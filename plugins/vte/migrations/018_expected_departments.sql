-- Expected departments (the roster, `vte institutions roster`, vte.roster): the campuses and departments each
-- institution is expected to report every day, declared by the platform for the hospital or learned from the
-- newest versions of its last complete month and confirmed. A stretch runs from effective_from up to
-- effective_to (exclusive; null while it lasts). On a report date an institution is held to its roster once
-- its first stretch has begun: a department in effect that is absent from the day's newest version is
-- missing, not zero (fct_department_completeness). Before that, and for an institution without a roster,
-- nothing is expected below the institution (the day counts whole, as before).
create table registry.expected_departments (
    expected_department_id bigserial primary key,
    institution_code text not null references registry.institutions (institution_code),
    campus text not null check (length(trim(campus)) > 0),  -- the interface's `hospital`
    department_code text not null check (length(trim(department_code)) > 0),  -- the interface's `dept`
    department_name text not null check (length(trim(department_name)) > 0),
    effective_from date not null,
    effective_to date,
    source text not null check (source in ('declared', 'learned')),
    reason text not null check (length(trim(reason)) > 0),
    confirmed_by text not null,
    confirmed_at timestamptz not null default now(),
    closed_by text,
    closed_at timestamptz,
    close_reason text,
    -- a stretch closed on its first date is withdrawn: it was never expected
    check (effective_to is null or effective_to >= effective_from),
    check ((effective_to is null) = (closed_at is null))
);

create index expected_departments_by_institution
    on registry.expected_departments (institution_code, campus, department_code, effective_from);

-- One open stretch per department at a time (vte.roster also refuses overlapping dates).
create unique index expected_departments_one_open
    on registry.expected_departments (institution_code, campus, department_code) where effective_to is null;

-- The operators' commands add stretches and close them (only the closing columns change; every change is also
-- a line of ops.admin_audit); dbt reads the roster.
grant select, insert on registry.expected_departments to vte_admin;
grant update (effective_to, closed_by, closed_at, close_reason) on registry.expected_departments to vte_admin;
grant usage on sequence registry.expected_departments_expected_department_id_seq to vte_admin;
grant select on registry.expected_departments to vte_builder, vte_console;
