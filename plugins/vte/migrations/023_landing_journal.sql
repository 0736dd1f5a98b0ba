-- How far the loader has read each file of the landing zone's arrivals journal (vte.landing.arrivals), so a
-- load reads what arrived since the last one instead of walking the whole zone and every path raw.landing_loads
-- holds: a day's load costs the day's documents, not the years behind them.
create table raw.landing_journal_files (
    zone_id uuid not null,  -- the landing zone's identity ($VTE_HOME/landing/.arrivals/zone)
    file_name text not null check (file_name ~ '^\d{4}-\d{2}-\d{2}\.log$'),
    loaded_bytes bigint not null check (loaded_bytes >= 0),
    updated_at timestamptz not null default now(),
    primary key (zone_id, file_name)
);
comment on table raw.landing_journal_files is
    'Bytes of each arrivals journal file ($VTE_HOME/landing/.arrivals/<date>.log) the loader has read.';

grant select, insert, update on raw.landing_journal_files to vte_loader;
