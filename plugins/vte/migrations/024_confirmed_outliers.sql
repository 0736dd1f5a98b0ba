-- Held-out outliers the data centre confirmed as real (`vte institutions outliers confirm`, vte.outliers): a
-- count far above the department's own history (outlier_rules seed) is held out of the indicators until someone
-- who asked the hospital says it happened (a mass-casualty day, a ward merged in). A confirmation is of one
-- value: the row then counts, still flagged as an outlier and marked confirmed; a later version with another
-- value is judged afresh. Every confirmation is also a line of ops.admin_audit.
create table registry.confirmed_outliers (
    confirmed_outlier_id bigserial primary key,
    institution_code text not null references registry.institutions (institution_code),
    report_date date not null,
    campus text not null,  -- the interface's `hospital`
    department_code text not null,  -- the interface's `dept`
    field_name text not null,  -- the count's camelCase name, as the outlier_rules seed names it
    field_value bigint not null,
    reason text not null check (length(trim(reason)) > 0),
    confirmed_by text not null,
    confirmed_at timestamptz not null default now(),
    unique (institution_code, report_date, campus, department_code, field_name, field_value)
);

create index confirmed_outliers_by_time on registry.confirmed_outliers (confirmed_at);

grant select, insert on registry.confirmed_outliers to vte_admin;
grant usage on sequence registry.confirmed_outliers_confirmed_outlier_id_seq to vte_admin;
grant select on registry.confirmed_outliers to vte_builder, vte_console;
