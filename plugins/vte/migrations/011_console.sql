-- The data centre console (vte.console): its users, their server-side sessions and its audit, and what the
-- console (vte_console) may read to show collection, indicators, review and alerts. Users are created by
-- `vte users` (vte_admin); the console itself can only check passwords, count failures and open sessions.

create schema console authorization vte_owner;

-- The region code and every division under it (a province's cities and counties, a city's counties). The
-- one definition of region containment for the console's queries.
create function access.regions_inside(code text) returns setof text
language sql stable strict parallel safe as $$
    with recursive inside as (
        select regions.region_code
        from registry.regions
        where regions.region_code = code
        union
        select regions.region_code
        from registry.regions
        inner join inside on regions.parent_code = inside.region_code
    )
    select inside.region_code from inside
$$;

create table console.users (
    username text primary key check (username ~ '^[a-z][a-z0-9_.-]{2,40}$'),
    display_name text not null check (length(trim(display_name)) > 0),
    role text not null check (role in ('admin', 'city_reviewer', 'county_reviewer', 'viewer')),
    region_code text not null references registry.regions (region_code),
    -- argon2id (argon2-cffi), salt and parameters included; never the password
    password_hash text not null check (password_hash like '$argon2id$%'),
    failed_attempts integer not null default 0 check (failed_attempts >= 0),
    locked_until timestamptz,
    created_at timestamptz not null default now(),
    created_by text not null default session_user,
    password_changed_at timestamptz not null default now(),
    disabled_at timestamptz
);

-- A reviewer acts for exactly one division, so the role fixes the level of its region; a viewer reads any.
create function console.refuse_role_region_mismatch() returns trigger language plpgsql as $$
declare
    wanted text := case new.role when 'admin' then 'province' when 'city_reviewer' then 'city'
                                 when 'county_reviewer' then 'county' end;
    found text;
begin
    select region_level into found from registry.regions where region_code = new.region_code;
    if wanted is not null and found is distinct from wanted then
        raise exception using errcode = 'check_violation', message = format(
            'role %s needs a %s code as its region but %s is a %s: give a %s code (角色 %s 须对应%s级行政区划)',
            new.role, wanted, new.region_code, coalesce(found, 'unknown code'), wanted, new.role,
            case wanted when 'province' then '省' when 'city' then '市' else '区县' end);
    end if;
    return new;
end;
$$;

create trigger users_role_matches_region
    before insert or update of role, region_code on console.users
    for each row execute function console.refuse_role_region_mismatch();

-- Server-side sessions: the cookie holds a random token, the table only its SHA-256, so reading the table
-- does not let anyone in. Signing out, disabling the user or resetting the password ends them.
create table console.sessions (
    token_sha256 text primary key check (token_sha256 ~ '^[0-9a-f]{64}$'),
    username text not null references console.users (username),
    created_at timestamptz not null default now(),
    last_seen_at timestamptz not null default now(),
    expires_at timestamptz not null,
    ended_at timestamptz,
    ended_why text check (ended_why in ('sign_out', 'disabled', 'password_reset')),
    client_address text,
    user_agent text
);

create index sessions_by_user on console.sessions (username) where ended_at is null;

-- Every sign-in (success, failure, lockout), sign-out and action in the console, and every `vte users`
-- change: who, what, on what, when. Kept whole, like ops.admin_audit.
create table console.audit_events (
    event_id bigserial primary key,
    at timestamptz not null default now(),
    username text not null,
    action text not null,
    subject text,
    details jsonb not null default '{}',
    client_address text
);

create index audit_events_by_user on console.audit_events (username, event_id);

create trigger audit_events_append_only
    before update or delete or truncate on console.audit_events
    for each statement execute function ops.refuse_audit_change();

-- Collection monitoring looks up each institution's refused requests by report date.
create index intake_requests_refused on ops.intake_requests (institution_code, report_date)
    where outcome = 'refused';

revoke all on schema console from public;
grant usage on schema console to vte_console, vte_admin;

-- The console checks passwords and counts failures; it cannot create users, change roles or passwords.
grant select on console.users to vte_console;
grant update (failed_attempts, locked_until) on console.users to vte_console;
grant select, insert, update on console.sessions to vte_console;
grant select, insert on console.audit_events to vte_console;

-- `vte users` (vte_admin): create, disable, reset passwords, and end the sessions that must end.
grant select, insert on console.users to vte_admin;
grant update (display_name, password_hash, password_changed_at, failed_attempts, locked_until, disabled_at)
    on console.users to vte_admin;
grant select, update (ended_at, ended_why) on console.sessions to vte_admin;
grant select, insert on console.audit_events to vte_admin;
grant usage on all sequences in schema console to vte_console, vte_admin;

-- What the pages show: the registry, when each version arrived (never the counts), refused requests and
-- publications; region containment; and every region's marts, scoped to the signed-in user's region by the
-- console's queries (access.regions_inside).
grant usage on schema registry, raw, ops, access to vte_console;
grant select on registry.regions, registry.institutions to vte_console;
grant select on raw.submissions to vte_console;
grant select on ops.intake_requests, ops.publications to vte_console;
grant execute on function access.regions_inside(text) to vte_console, vte_admin, vte_analyst;
grant vte_all_regions to vte_console;
