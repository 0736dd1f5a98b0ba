-- raw.submission_rows, the one table that grows by a province's ~21,000 rows a day (a country's ~450,000), is
-- partitioned by month of its report date: a month's rows sit together, old months can be detached, archived or
-- moved to cheaper storage whole, and a query on recent report dates (every daily build) reads recent months.
-- The row carries its submission's report date for that; the loader creates a month's partition when the
-- month's first rows arrive (raw.ensure_month_partitions, run as the owner).

alter table raw.submission_rows rename to submission_rows_before_months;
alter table raw.submission_rows_before_months rename constraint submission_rows_pkey to
    submission_rows_before_months_pkey;

create table raw.submission_rows (
    submission_id uuid not null,
    report_date date not null,
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
    primary key (submission_id, row_index, report_date),
    constraint submission_rows_counts_not_negative check (least(discharge_hospital, distinct_discharge_hospital,
        discharge_hospital_nodaily, risk_assessment, init_risk_assessment, risk_assessment_in_daily,
        high_risk_assessment, high_risk_assessment_in_daily, repeat_risk_assessment, hemorrhage_risk_assessment,
        high_hemorrhage_risk_assessment, high_risk_low_hemorrhage, precaution, precaution_no_base, medicine,
        mechanical, base_prevent_nodaily, zgw_base_prevent_nodaily, high_vte, high_vte_check, chuyuan_vte,
        hospital_vte, new_dvt, new_pe, new_dvt_and_pe, vte_die, pe_die, surgery, surgery_dvt, surgery_pe,
        surgery_dvt_and_pe) >= 0),
    constraint submission_rows_names_present check (btrim(hospital) <> '' and btrim(dept) <> '')
) partition by range (report_date);

comment on table raw.submission_rows is
    'The department rows of every landed submission version, partitioned by month of report_date (one partition'
    ' per month, named submission_rows_yyyy_mm, created by raw.ensure_month_partitions).';

create function raw.ensure_month_partitions(first_day date, last_day date) returns void
language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
declare
    month date;
begin
    for month in
        select generate_series(date_trunc('month', first_day), date_trunc('month', last_day), interval '1
            month')::date
    loop
        if to_regclass(format('raw.submission_rows_%s', to_char(month, 'YYYY_MM'))) is null then
            execute format('create table raw.%I partition of raw.submission_rows for values from (%L) to (%L)',
                           'submission_rows_' || to_char(month, 'YYYY_MM'), month, (month + interval '1
                               month')::date);
        end if;
    end loop;
end
$$;

revoke all on function raw.ensure_month_partitions(date, date) from public;
grant execute on function raw.ensure_month_partitions(date, date) to vte_loader;

select raw.ensure_month_partitions(min(report_date), max(report_date)) from raw.submissions having count(*) > 0;

insert into raw.submission_rows (submission_id, report_date, row_index, hospital, dept, discharge_hospital,
    distinct_discharge_hospital, discharge_hospital_nodaily, risk_assessment, init_risk_assessment,
    risk_assessment_in_daily, high_risk_assessment, high_risk_assessment_in_daily, repeat_risk_assessment,
    hemorrhage_risk_assessment, high_hemorrhage_risk_assessment, high_risk_low_hemorrhage, precaution,
    precaution_no_base, medicine, mechanical, base_prevent_nodaily, zgw_base_prevent_nodaily, high_vte,
    high_vte_check, chuyuan_vte, hospital_vte, new_dvt, new_pe, new_dvt_and_pe, vte_die, pe_die, surgery,
    surgery_dvt, surgery_pe, surgery_dvt_and_pe)
select rows.submission_id, submissions.report_date, rows.row_index, rows.hospital, rows.dept,
    rows.discharge_hospital, rows.distinct_discharge_hospital, rows.discharge_hospital_nodaily,
    rows.risk_assessment, rows.init_risk_assessment, rows.risk_assessment_in_daily, rows.high_risk_assessment,
    rows.high_risk_assessment_in_daily, rows.repeat_risk_assessment, rows.hemorrhage_risk_assessment,
    rows.high_hemorrhage_risk_assessment, rows.high_risk_low_hemorrhage, rows.precaution, rows.precaution_no_base,
    rows.medicine, rows.mechanical, rows.base_prevent_nodaily, rows.zgw_base_prevent_nodaily, rows.high_vte,
    rows.high_vte_check, rows.chuyuan_vte, rows.hospital_vte, rows.new_dvt, rows.new_pe, rows.new_dvt_and_pe,
    rows.vte_die, rows.pe_die, rows.surgery, rows.surgery_dvt, rows.surgery_pe, rows.surgery_dvt_and_pe
from raw.submission_rows_before_months as rows
inner join raw.submissions as submissions on submissions.submission_id = rows.submission_id;

drop table raw.submission_rows_before_months;

grant select, insert on raw.submission_rows to vte_loader;
grant select on raw.submission_rows to vte_builder;
