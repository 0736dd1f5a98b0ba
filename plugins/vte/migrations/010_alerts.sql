-- Alerts that reach people (docs/alerts.md). One model for every kind: a missing or late report, an
-- institution missing several days in a row, rows held out, a stopped gate, an institution missing from a
-- month, a failed DAG run, an indicator below its target. vte.alerts detects them (as vte_monitor), delivers
-- them by e-mail and webhook to the recipients of the region, and people acknowledge and resolve them
-- (the console as vte_console, `vte alerts` as vte_admin).

create schema alerts authorization vte_owner;

-- info < warning < critical
create function alerts.level_rank(level text) returns integer
    language sql immutable strict
    return array_position(array['info', 'warning', 'critical'], level);

-- Every region with every region it lies within, itself included (county → city → province): a recipient
-- of within_code receives the alerts of region_code.
create view alerts.region_containment as
with recursive within_ as (
    select region_code, region_code as within_code, 0 as depth
    from registry.regions
    union all
    select within_.region_code, regions.parent_code, within_.depth + 1
    from within_
    inner join registry.regions on regions.region_code = within_.within_code
    where regions.parent_code is not null
)
select within_.region_code, regions.region_name, regions.region_level, within_.within_code, within_.depth
from within_
inner join registry.regions on regions.region_code = within_.region_code;

create table alerts.alerts (
    alert_id bigserial primary key,
    kind text not null check (kind in (
        'missing_report', 'late_report', 'consecutive_missing', 'held_out', 'gate_stopped', 'vanished',
        'dag_failed', 'below_target')),
    level text not null check (level in ('info', 'warning', 'critical')),
    -- the scope: the county, city or province the alert is about (escalation moves it up)
    region_code text not null references registry.regions (region_code),
    institution_code text,
    -- a stable key, e.g. missing_report:H330328001:2026-03-05; one alert not yet resolved per subject
    subject text not null check (starts_with(subject, kind || ':')),
    -- one line, Chinese / English
    message text not null check (length(message) > 0 and position(E'\n' in message) = 0),
    details jsonb not null default '{}',
    first_seen timestamptz not null,
    last_seen timestamptz not null,
    state text not null default 'open' check (state in ('open', 'acknowledged', 'resolved')),
    acknowledged_by text,
    acknowledged_at timestamptz,
    resolved_by text,
    resolved_at timestamptz,
    -- why it was resolved: a person's note, or what the monitor found (e.g. the report arrived)
    resolution text,
    check (last_seen >= first_seen),
    check ((acknowledged_by is null) = (acknowledged_at is null)),
    check (state <> 'acknowledged' or acknowledged_at is not null),
    check ((state = 'resolved') = (resolved_at is not null)),
    check ((resolved_by is null) = (resolved_at is null))
);

create unique index alerts_one_per_subject on alerts.alerts (subject) where state <> 'resolved';
create index alerts_by_state on alerts.alerts (state, kind);
create index alerts_by_region on alerts.alerts (region_code, state);

-- Who is told: an e-mail address or a chat robot's webhook, for a region (and every region inside it),
-- from a minimum level. A webhook's URL holds its secret key: it is kept encrypted (vte.crypto), and
-- `address` shows it with the secret parts hidden. Removing a recipient deactivates it (its deliveries stay).
create table alerts.recipients (
    recipient_id bigserial primary key,
    name text not null check (length(trim(name)) > 0),
    channel text not null check (channel in ('email', 'webhook')),
    address text not null check (length(trim(address)) > 0),
    secret_ciphertext bytea,
    region_code text not null references registry.regions (region_code),
    min_level text not null default 'warning' check (min_level in ('info', 'warning', 'critical')),
    active boolean not null default true,
    created_at timestamptz not null default now(),
    created_by text not null,
    removed_at timestamptz,
    removed_by text,
    check ((channel = 'webhook') = (secret_ciphertext is not null)),
    check (active = (removed_at is null))
);

-- Every attempt to tell a recipient about an alert. A failed attempt is retried on the next run; once one
-- succeeded the alert is not sent to that recipient again (unless it rises to a higher level), and a
-- subject reaches a recipient at most once a day (Asia/Shanghai).
create table alerts.deliveries (
    delivery_id bigserial primary key,
    alert_id bigint not null references alerts.alerts (alert_id),
    recipient_id bigint not null references alerts.recipients (recipient_id),
    subject text not null,  -- the alert's, for the once-a-day rule
    level text not null check (level in ('info', 'warning', 'critical')),  -- the alert's level when sent
    attempted_at timestamptz not null,
    ok boolean not null,
    error text,
    delivered_at timestamptz,
    check (ok = (delivered_at is not null)),
    check (ok or error is not null)
);

create unique index deliveries_once on alerts.deliveries (alert_id, recipient_id, level) where ok;
create index deliveries_by_subject on alerts.deliveries (recipient_id, subject, delivered_at) where ok;

-- The rows of ops.alerts (written by the gate and publish steps) already turned into alerts. Those present
-- when this migration runs are history, not news: they are marked bridged here.
create table alerts.bridged (
    ops_alert_id bigint primary key,
    bridged_at timestamptz not null default now()
);

insert into alerts.bridged (ops_alert_id) select alert_id from ops.alerts;

-- Grants. The monitor detects and delivers; the console reads alerts and acknowledges or resolves them;
-- the administrators' commands manage recipients and may acknowledge or resolve too.
revoke all on schema alerts from public;
grant usage on schema alerts to vte_monitor, vte_console, vte_admin;

grant usage on schema registry, raw, ops to vte_monitor;
grant select on registry.institutions, registry.regions to vte_monitor;
grant select (institution_code, report_date, received_at) on raw.submissions to vte_monitor;
grant select on ops.alerts, ops.publications to vte_monitor;
-- every region's rows of the marts (indicator values, completeness, held-out rows), like vte_extracts
grant vte_all_regions to vte_monitor;
grant select, insert, update on alerts.alerts to vte_monitor;
grant select, insert on alerts.deliveries, alerts.bridged to vte_monitor;
grant select on alerts.recipients, alerts.region_containment to vte_monitor;
grant usage on sequence alerts.alerts_alert_id_seq, alerts.deliveries_delivery_id_seq to vte_monitor;

grant select on alerts.alerts, alerts.deliveries, alerts.region_containment to vte_console, vte_admin;
grant update (state, acknowledged_by, acknowledged_at, resolved_by, resolved_at, resolution)
    on alerts.alerts to vte_console, vte_admin;
grant select (recipient_id, name, channel, address, region_code, min_level, active, created_at, created_by)
    on alerts.recipients to vte_console;

grant select, insert, update on alerts.recipients to vte_admin;
grant usage on sequence alerts.recipients_recipient_id_seq to vte_admin;
