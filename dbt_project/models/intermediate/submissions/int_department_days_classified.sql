-- The department rows of the current version of each (institution, report date), each classified by the
-- consistency rules of the seed and the plausibility bound. The newest version supersedes the earlier ones
-- whole: the whole date is deleted and inserted again, so a department missing from the newest version
-- disappears. Incremental by load time, not report date, so a late correction of an old date is picked up.
-- processed_at marks the rows (re)written by the latest run: the gate measures those, not all history.
-- Each row's counts are also compared with the department's own history (outlier_rules seed, macros/outliers.sql);
-- a value the data centre confirmed as real (stg_vte__confirmed_outliers) counts, and a new confirmation makes
-- its day touched.
-- Partitioned by month of report date (macros/month_partitions.sql), as raw is.
-- depends_on: {{ ref('consistency_rules') }}
-- depends_on: {{ ref('count_fields') }}
-- depends_on: {{ ref('outlier_rules') }}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['institution_code', 'report_date'],
        partition_by_month='report_date',
        pre_hook=["{{ add_month_partitions() }}"],
        indexes=[
            {'columns': ['institution_code', 'report_date']},
            {'columns': ['submission_loaded_at']},
            {'columns': ['processed_at']},
        ],
    )
}}

with

submissions as (

    select * from {{ ref('stg_vte__submissions') }}

),

submission_rows as (

    select * from {{ ref('stg_vte__submission_rows') }}

),

confirmed_outliers as (

    select * from {{ ref('stg_vte__confirmed_outliers') }}

),

loaded_dates as (

    select distinct
        institution_code,
        report_date
    from submissions
    {% if is_incremental() %}
        -- '>': a load is one transaction, so rows sharing the newest time were all read last run already
        where loaded_at > (
            select coalesce(max(processed.submission_loaded_at), '-infinity'::timestamptz) from {{ this }} as processed
        )
        {{ or_in_reprocess_window('report_date') }}
    {% endif %}

),

-- an outlier confirmed since the last run: its day is judged again, and counts (a first build judges every day)
confirmed_dates as (

    select
        institution_code,
        report_date
    from confirmed_outliers
    {% if is_incremental() %}
        where confirmed_at > (
            select coalesce(max(processed.processed_at), '-infinity'::timestamptz) from {{ this }} as processed
        )
    {% endif %}

),

touched_dates as (

    select * from loaded_dates
    union
    select * from confirmed_dates

),

current_submissions as (

    select distinct on (submissions.institution_code, submissions.report_date)
        submissions.submission_id,
        submissions.institution_code,
        submissions.report_date,
        submissions.version,
        submissions.channel,
        submissions.received_at,
        submissions.loaded_at
    from submissions
    inner join touched_dates
        on
            submissions.institution_code = touched_dates.institution_code
            and submissions.report_date = touched_dates.report_date
    order by submissions.institution_code asc, submissions.report_date asc, submissions.version desc

),

current_rows as (

    select
        current_submissions.institution_code,
        current_submissions.report_date,
        submission_rows.hospital,
        submission_rows.department,
        current_submissions.submission_id,
        current_submissions.version,
        current_submissions.channel,
        current_submissions.received_at,
        current_submissions.loaded_at as submission_loaded_at,
        {%- for column in count_columns() %}
            submission_rows.{{ column }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from current_submissions
    inner join submission_rows
        on
            current_submissions.submission_id = submission_rows.submission_id
            -- the report date too, so only the months touched are read (raw is partitioned by month)
            and current_submissions.report_date = submission_rows.report_date

),

-- Outliers are judged on each institution's last touched days (var outlier_judged_days): all of a daily run's
-- and a back-fill's, while a first build of years of history judges its recent end instead of comparing every
-- old day with its own past (a province-year would take most of an hour on 2 cores).
judged_since as (

    select
        institution_code,
        max(report_date) - {{ var('outlier_judged_days') }} as first_judged_date
    from touched_dates
    group by institution_code

),

-- (read by the outliers macro, which sqlfluff does not follow)
judged_rows as (  -- noqa: ST03

    select current_rows.*
    from current_rows
    inner join judged_since
        on current_rows.institution_code = judged_since.institution_code
    where current_rows.report_date > judged_since.first_judged_date

),

outliers as (

    -- staging itself, not the CTEs above: a second reader would materialize all of raw's rows
    {%- set history_submissions, history_rows = ref('stg_vte__submissions'), ref('stg_vte__submission_rows') %}
    {{ department_day_outliers('judged_rows', history_submissions, history_rows, 'confirmed_outliers') }}

),

classified as (

    select
        current_rows.*,
        {{ broken_rule_ids('quarantine', 'current_rows') }} as quarantine_rule_ids,
        {{ broken_rule_ids('warning', 'current_rows') }} as warning_rule_ids,
        {{ implausible_fields('current_rows') }} as implausible_fields,
        coalesce(outliers.outlier_warning_fields, '{}') as outlier_warning_fields,
        coalesce(outliers.outlier_held_out_fields, '{}') as outlier_held_out_fields,
        coalesce(outliers.outliers, '[]'::jsonb) as outliers
    from current_rows
    left join outliers
        on
            current_rows.institution_code = outliers.institution_code
            and current_rows.report_date = outliers.report_date
            and current_rows.hospital = outliers.hospital
            and current_rows.department = outliers.department

),

final as (

    select
        {{ surrogate_key(['institution_code', 'report_date', 'hospital', 'department']) }} as department_day_key,
        classified.*,
        case
            when cardinality(classified.quarantine_rule_ids) > 0 then 'quarantined'
            when cardinality(classified.implausible_fields) > 0 then 'quarantined'
            when cardinality(classified.outlier_held_out_fields) > 0 then 'quarantined'
            when cardinality(classified.warning_rule_ids) > 0 then 'warning'
            when cardinality(classified.outlier_warning_fields) > 0 then 'warning'
            else 'valid'
        end as rule_status,
        now() as processed_at  -- the run's transaction time: one value for every row it writes
    from classified

)

select * from final
