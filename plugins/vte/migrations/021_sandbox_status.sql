-- The sandbox's status as the operators and the console see it (vte.sandbox.status, `vte accounts sandbox-status`,
-- the console's 接入测试 page): every institution given test credentials or production credentials by an
-- administrator's override, its test keys, whether it holds production credentials and the override. What its
-- sandbox submissions were is in $VTE_HOME/sandbox/, read by vte.sandbox.
--
-- A view owned by vte_owner, so the console reads these columns without any grant on the accounts (their
-- secrets) or on ops.admin_audit (every administrative action).
create view registry.sandbox_institutions as
with tried as (
    select test_accounts.institution_code
    from registry.test_accounts
    union
    select admin_audit.subject
    from ops.admin_audit
    where admin_audit.action = 'account.sandbox_override'
),
tests as (
    select
        test_accounts.institution_code,
        max(test_accounts.institution_name) as given_name,
        max(test_accounts.access_key) filter (where test_accounts.status = 'active') as test_access_key,
        array_agg(test_accounts.access_key order by test_accounts.created_at) as test_access_keys,
        min(test_accounts.created_at) as first_test_account_at
    from registry.test_accounts
    group by test_accounts.institution_code
),
production as (
    select
        accounts.institution_code,
        bool_or(accounts.status = 'active') as has_active_account,
        min(accounts.created_at) as first_issued_at
    from registry.accounts
    group by accounts.institution_code
),
overrides as (
    select distinct on (admin_audit.subject)
        admin_audit.subject as institution_code,
        admin_audit.occurred_at,
        admin_audit.actor,
        admin_audit.details ->> 'reason' as reason
    from ops.admin_audit
    where admin_audit.action = 'account.sandbox_override'
    order by admin_audit.subject, admin_audit.audit_id desc
)
select
    tried.institution_code,
    coalesce(institutions.institution_name, tests.given_name) as institution_name,
    institutions.county_code,  -- null while the institution is only in the sandbox
    tests.test_access_key,
    coalesce(tests.test_access_keys, '{}') as test_access_keys,
    tests.first_test_account_at,
    coalesce(production.has_active_account, false) as has_production_account,
    production.first_issued_at as production_issued_at,
    overrides.occurred_at as override_at,
    overrides.actor as override_by,
    overrides.reason as override_reason
from tried
left join tests on tests.institution_code = tried.institution_code
left join registry.institutions on institutions.institution_code = tried.institution_code
left join production on production.institution_code = tried.institution_code
left join overrides on overrides.institution_code = tried.institution_code;

grant select on registry.sandbox_institutions to vte_console, vte_admin;
