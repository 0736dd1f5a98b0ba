-- The day-grain tables dbt builds (int.int_department_days_classified, the published fct_department_days) grow
-- by a country's ~450,000 rows a day, as raw.submission_rows does; like it they are partitioned by month of their
-- report date, so a day's build and a day's publication touch recent months and an old month is one table to
-- detach, archive or drop.
--
-- Their months are raw's months: every day-grain row comes from a raw row, and the loader creates raw's month
-- before loading into it (raw.ensure_month_partitions). partitions.add_report_months(parent) gives a
-- partitioned table one partition per month raw holds; dbt calls it when it creates such a table and before
-- each incremental insert, the publisher before it writes a day's slices into the published table.
--
-- The partitions live in a schema of their own, so the marts list only what analysts query; analysts have no
-- usage on it and read the rows through the parent, under its row-level security.
create schema partitions authorization vte_builder;
comment on schema partitions is
    'Month partitions of the day-grain tables dbt builds (partitions.add_report_months); read them through'
    ' their parents.';

create function partitions.add_report_months(parent regclass) returns integer
language plpgsql set search_path = pg_catalog, pg_temp as $$
declare
    month date;
    parent_name text;
    parent_owner name;
    child text;
    added integer := 0;
begin
    -- Only a partitioned table; anything else (a scratch stand-in, a table built before this migration) is
    -- left as it is.
    select regexp_replace(relname, '__dbt_tmp$', ''), pg_get_userbyid(relowner) into parent_name, parent_owner
    from pg_class where oid = parent and relkind = 'p';
    if not found then
        return 0;
    end if;
    for month in
        select substring(pg_get_expr(raw_month.relpartbound, raw_month.oid) from 'FROM \(''([0-9-]+)''\)')::date
        from pg_inherits
        inner join pg_class as raw_month on raw_month.oid = pg_inherits.inhrelid
        where pg_inherits.inhparent = 'raw.submission_rows'::regclass
    loop
        -- The parent's oid keeps names apart between the published table, dbt's next candidate and scratch
        -- schemas' copies of the same model.
        child := format('%s_%s_%s', left(parent_name, 40), to_char(month, 'YYYY_MM'), parent::oid);
        if to_regclass(format('partitions.%I', child)) is null then
            execute format('create table partitions.%I partition of %s for values from (%L) to (%L)',
                           child, parent, month, (month + interval '1 month')::date);
            -- A partition created by the publisher (a member of vte_builder) belongs with its parent.
            execute format('alter table partitions.%I owner to %I', child, parent_owner);
            added := added + 1;
        end if;
    end loop;
    return added;
end
$$;
comment on function partitions.add_report_months(regclass) is
    'Give a table partitioned by report date one partition per month raw.submission_rows holds; returns how many'
    ' it created. A table that is not partitioned is left alone.';

revoke all on function partitions.add_report_months(regclass) from public;
grant execute on function partitions.add_report_months(regclass) to vte_builder;
