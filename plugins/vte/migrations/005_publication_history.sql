-- Every publication kept: each indicator value with the range of publications it was valid for, so any
-- earlier publication can be read as of its time and two publications compared (vte diff).

create schema if not exists history;

create table history.indicator_values (
    entity_key text not null,
    level text not null,
    entity_code text not null,
    entity_name text,
    campus text,
    department text,
    period_type text not null,
    period_start date not null,
    indicator_id text not null,
    numerator bigint,
    denominator bigint,
    target numeric,
    rate numeric,
    meets_target boolean,
    rate_same_period_last_year numeric,
    -- valid from this publication on, up to (not including) valid_to_publication; NULL: still current
    valid_from_publication bigint not null references ops.publications (publication_id),
    valid_to_publication bigint references ops.publications (publication_id)
);

-- One current version per value; and the lookups of a period as of a publication.
create unique index indicator_values_current on history.indicator_values
    (period_type, period_start, entity_key, indicator_id) where valid_to_publication is null;
create index indicator_values_by_period on history.indicator_values
    (period_type, period_start, level, entity_code, valid_from_publication);

-- The newest raw load each publication was built from: a submission loaded after publication N's and up to
-- publication M's is one that M includes and N does not.
alter table ops.publications add column loaded_through timestamptz;
