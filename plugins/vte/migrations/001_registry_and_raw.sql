-- Reference data (regions, institutions, accounts) and the raw layer the ingest writes.

create schema if not exists registry;
create schema if not exists raw;

-- GB/T 2260 administrative divisions, versioned by edition.
create table registry.regions (
    region_code text primary key check (region_code ~ '^[0-9]{6}$'),
    region_name text not null,
    region_level text not null check (region_level in ('province', 'city', 'county')),
    parent_code text references registry.regions (region_code),
    edition text not null,
    loaded_at timestamptz not null default now()
);

create table registry.institutions (
    institution_code text primary key check (institution_code ~ '^[A-Za-z0-9_-]{2,40}$'),
    institution_name text not null check (length(trim(institution_name)) > 0),
    hospital_level text not null check (hospital_level in ('二级', '三级')),
    county_code text not null references registry.regions (region_code),
    community_name text,
    status text not null default 'active' check (status in ('active', 'suspended', 'closed')),
    joined_on date not null default current_date,
    created_at timestamptz not null default now()
);

-- One API account per institution at a time; the secret is stored encrypted (Fernet), never in plain text.
create table registry.accounts (
    access_key text primary key,
    institution_code text not null references registry.institutions (institution_code),
    secret_ciphertext bytea not null,
    status text not null default 'active' check (status in ('active', 'revoked')),
    created_at timestamptz not null default now(),
    rotated_at timestamptz,
    revoked_at timestamptz
);

create table ops.admin_audit (
    audit_id bigserial primary key,
    occurred_at timestamptz not null default now(),
    actor text not null,
    action text not null,
    subject text not null,
    details jsonb not null default '{}'
);

-- One row per accepted submission (every version), as landed by the intake service.
create table raw.submissions (
    submission_id uuid primary key,
    institution_code text not null,
    access_key text not null,
    report_date date not null,
    version integer not null check (version > 0),
    channel text not null check (channel in ('api', 'excel')),
    received_at timestamptz not null,
    payload_sha256 text not null,
    row_count integer not null,
    document_path text not null,
    loaded_at timestamptz not null default now(),
    unique (institution_code, report_date, version)
);

-- One row per department row of a submission, typed; rules are checked downstream, not here.
create table raw.submission_rows (
    submission_id uuid not null references raw.submissions (submission_id),
    row_index integer not null,
    hospital text not null,
    dept text not null,
    discharge_hospital integer not null,
    distinct_discharge_hospital integer not null,
    discharge_hospital_nodaily integer not null,
    risk_assessment integer not null,
    init_risk_assessment integer not null,
    risk_assessment_in_daily integer not null,
    high_risk_assessment integer not null,
    high_risk_assessment_in_daily integer not null,
    repeat_risk_assessment integer not null,
    hemorrhage_risk_assessment integer not null,
    high_hemorrhage_risk_assessment integer not null,
    high_risk_low_hemorrhage integer not null,
    precaution integer not null,
    precaution_no_base integer not null,
    medicine integer not null,
    mechanical integer not null,
    base_prevent_nodaily integer not null,
    zgw_base_prevent_nodaily integer not null,
    high_vte integer not null,
    high_vte_check integer not null,
    chuyuan_vte integer not null,
    hospital_vte integer not null,
    new_dvt integer not null,
    new_pe integer not null,
    new_dvt_and_pe integer not null,
    vte_die integer not null,
    pe_die integer not null,
    surgery integer not null,
    surgery_dvt integer not null,
    surgery_pe integer not null,
    surgery_dvt_and_pe integer not null,
    primary key (submission_id, row_index)
);

-- What the ingest did with each landing-zone document.
create table raw.landing_loads (
    document_path text primary key,
    status text not null check (status in ('loaded', 'corrupt')),
    submission_id uuid,
    reason text,
    loaded_at timestamptz not null default now()
);
