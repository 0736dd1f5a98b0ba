-- Institution lifecycle (`vte institutions suspend|resume|close`, vte.lifecycle): an institution is
-- suspended, closed or resumed from a report date on. Every change is kept; the status of a report date is
-- that of the change recorded last among those dated on or before it. On a suspended or closed date no report is expected
-- (completeness, alerts, the console's calendar) and the intake refuses reports dated on it with the
-- status's own code. A change says "from this date on" and is never dated after the day it is made, so
-- registry.institutions.status (set with each change) is the status in effect today.

create table registry.institution_status_changes (
    change_id bigserial primary key,
    institution_code text not null references registry.institutions (institution_code),
    status text not null check (status in ('active', 'suspended', 'closed')),
    effective_from date not null,
    reason text not null check (length(trim(reason)) > 0),
    set_by text not null,
    set_at timestamptz not null default now()
);

create index institution_status_changes_by_institution
    on registry.institution_status_changes (institution_code, effective_from, change_id);

-- The record of changes is an audit: kept whole (a mistake is corrected by a newer change).
create trigger institution_status_changes_append_only
    before update or delete or truncate on registry.institution_status_changes
    for each statement execute function ops.refuse_audit_change();

-- The stretches of report dates an institution is not expected to report: suspended or closed from
-- from_date up to resumed_on (exclusive: the first date expected again; null while it lasts). A change says
-- "from this date on": it stands unless a change recorded later takes effect on or before its date. The one
-- definition the intake, dbt, the alerts and the console read.
create view registry.institution_status_periods as
with standing as (
    select changes.institution_code, changes.status, changes.effective_from
    from registry.institution_status_changes as changes
    where not exists (
        select from registry.institution_status_changes as later
        where later.institution_code = changes.institution_code
            and later.change_id > changes.change_id
            and later.effective_from <= changes.effective_from
    )
),
bounded as (
    select
        standing.institution_code,
        standing.status,
        standing.effective_from,
        lead(standing.effective_from) over by_date as next_from,
        lag(standing.status) over by_date as previous_status
    from standing
    window by_date as (partition by standing.institution_code order by standing.effective_from)
),
stretches as (
    select
        bounded.*,
        count(*) filter (where bounded.previous_status is distinct from bounded.status) over (
            partition by bounded.institution_code order by bounded.effective_from
        ) as stretch
    from bounded
)
select
    stretches.institution_code,
    stretches.status,
    min(stretches.effective_from) as from_date,
    (array_agg(stretches.next_from order by stretches.effective_from desc))[1] as resumed_on
from stretches
where stretches.status <> 'active'
group by stretches.institution_code, stretches.status, stretches.stretch;

-- Institutions a status was given before this migration (by hand): that status from today, so the
-- column and the periods agree.
insert into registry.institution_status_changes (institution_code, status, effective_from, reason, set_by)
select institution_code, status, current_date, 'status set before migration 013', current_user
from registry.institutions
where status <> 'active';

-- The operators' commands write the changes; whoever decides what is expected reads the periods.
grant select, insert on registry.institution_status_changes to vte_admin;
grant usage on sequence registry.institution_status_changes_change_id_seq to vte_admin;
grant select on registry.institution_status_changes to vte_console;
grant select on registry.institution_status_periods
    to vte_intake, vte_builder, vte_monitor, vte_console, vte_admin;
