-- The intake service's request log, loaded from its JSON lines ($VTE_HOME/audit/intake-*.jsonl).

create table ops.intake_requests (
    request_id uuid primary key,
    requested_at timestamptz not null,
    access_key text,
    institution_code text,
    client_address text,
    method text not null,
    endpoint text not null,
    dry_run boolean not null default false,
    outcome text not null check (outcome in ('accepted', 'duplicate', 'validated', 'refused', 'error')),
    code integer,
    http_status integer not null,
    report_date date,
    submission_id uuid,
    version integer,
    row_count integer,
    problem_count integer,
    warning_count integer,
    latency_ms numeric(12, 3) not null,
    audit_file text not null,
    loaded_at timestamptz not null default now()
);

create index intake_requests_requested_at on ops.intake_requests (requested_at);
create index intake_requests_access_key on ops.intake_requests (access_key, requested_at);

-- The log is append-only: rows are added by the loader and never changed.
create function ops.refuse_intake_request_change() returns trigger language plpgsql as $$
begin
    raise exception 'ops.intake_requests is append-only';
end;
$$;

create trigger intake_requests_append_only
    before update or delete or truncate on ops.intake_requests
    for each statement execute function ops.refuse_intake_request_change();

-- How far the loader has read each audit file.
create table ops.intake_audit_files (
    file_name text primary key,
    loaded_bytes bigint not null check (loaded_bytes >= 0),
    loaded_at timestamptz not null default now()
);
