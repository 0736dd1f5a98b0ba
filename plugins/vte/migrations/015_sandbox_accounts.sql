-- The sandbox (HQMS's test system): test credentials that work against the same endpoints, whose submissions
-- are validated and answered like any other but landed apart ($VTE_HOME/sandbox/, vte.sandbox), so they never
-- reach raw, the marts, the extracts, completeness or alerts.
--
-- Test accounts have a table of their own rather than a kind on registry.accounts: an account there needs a
-- registered institution, and a registered institution is expected to report from its joined_on date
-- (completeness, alerts, the console's calendar). An institution still trying the sandbox is not registered
-- yet; `vte accounts create` registers it when it is given production credentials, once a sandbox
-- submission has passed (or an administrator overrides that, in ops.admin_audit).
create table registry.test_accounts (
    access_key text primary key check (access_key like 'tk%'),
    institution_code text not null check (institution_code ~ '^[A-Za-z0-9_-]{2,40}$'),
    institution_name text,  -- for the sandbox status while the institution is not registered
    secret_ciphertext bytea not null,
    status text not null default 'active' check (status in ('active', 'revoked')),
    created_at timestamptz not null default now(),
    rotated_at timestamptz,
    revoked_at timestamptz
);

create unique index test_accounts_one_active_per_institution
    on registry.test_accounts (institution_code) where status = 'active';

grant select on registry.test_accounts to vte_intake;
grant select, insert, update on registry.test_accounts to vte_admin;
