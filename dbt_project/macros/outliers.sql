{#- Outliers against a department's own history, as the outlier_rules seed defines them (its description in
    seeds/_seeds.yml gives the statistics). int_department_days_classified calls department_day_outliers for
    the department-days it (re)writes, so only touched days are judged and history is never rescanned whole. -#}

{% macro outlier_rules() %}
    {#- Each rule as a dict: field (camelCase), column (snake_case) and the seed's parameters. -#}
    {% if not execute %}
        {{ return([{'field': 'dischargeHospital', 'column': 'discharge_hospital', 'window_days': 56,
                    'same_weekday': false, 'min_history_days': 28, 'warning_z': 3.5, 'held_out_z': 10,
                    'min_scale': 2}]) }}
    {% endif %}
    {% set query %}
        select
            rules.field_name,
            fields.column_name,
            rules.window_days,
            rules.same_weekday,
            rules.min_history_days,
            rules.warning_z,
            rules.held_out_z,
            rules.min_scale
        from {{ seed_relation('outlier_rules') }} as rules
        inner join {{ seed_relation('count_fields') }} as fields on rules.field_name = fields.field_name
        order by fields.position
    {% endset %}
    {% set rules = [] %}
    {% for row in run_query(query).rows %}
        {% do rules.append({'field': row[0], 'column': row[1], 'window_days': row[2] | int,
                            'same_weekday': row[3], 'min_history_days': row[4] | int, 'warning_z': row[5],
                            'held_out_z': row[6], 'min_scale': row[7]}) %}
    {% endfor %}
    {{ return(rules) }}
{% endmacro %}

{% macro department_day_outliers(day_rows, submissions, submission_rows, confirmed) %}
    {#- A query: one row per department-day of `day_rows` (institution_code, report_date, hospital, department)
        with a count outside its usual range, with outlier_warning_fields, outlier_held_out_fields and outliers
        (for each, the value, its usual range and the history it was compared with). The history is the current
        version of each earlier report date of the same institution (read from `submissions` and
        `submission_rows`); a day the department did not report is no history. A value `confirmed` as real
        (stg_vte__confirmed_outliers) is a warning marked confirmed, never held out. -#}
    {%- if not execute -%}
        {#- while dbt parses, and for the linter: the query's shape -#}
        select
            null::text as institution_code,
            null::date as report_date,
            null::text as hospital,
            null::text as department,
            array[]::text [] as outlier_warning_fields,
            array[]::text [] as outlier_held_out_fields,
            '[]'::jsonb as outliers
    {%- else -%}
    {%- set rules = outlier_rules() -%}
    {%- set max_window = rules | map(attribute='window_days') | max -%}
    -- materialized steps: the planner cannot see how many rows the touched days hold (raw is often not yet
    -- analyzed after a load), and a nested loop over the history would not end
    with

    history_ranges as (

        select
            institution_code,
            min(report_date) - {{ max_window }} as first_date,
            max(report_date) - 1 as last_date
        from {{ day_rows }}
        group by institution_code

    ),

    history_submissions as materialized (

        select distinct on (submissions.institution_code, submissions.report_date)
            submissions.submission_id,
            submissions.institution_code,
            submissions.report_date
        from {{ submissions }} as submissions
        inner join history_ranges
            on
                submissions.institution_code = history_ranges.institution_code
                and submissions.report_date between history_ranges.first_date and history_ranges.last_date
        order by submissions.institution_code asc, submissions.report_date asc, submissions.version desc

    ),

    history_rows as materialized (

        select
            history_submissions.institution_code,
            history_submissions.report_date,
            history_rows.hospital,
            history_rows.department,
            {%- for rule in rules %}
            history_rows.{{ rule.column }}{% if not loop.last %},{% endif %}
            {%- endfor %}
        from history_submissions
        inner join {{ submission_rows }} as history_rows
            on
                history_submissions.submission_id = history_rows.submission_id
                and history_submissions.report_date = history_rows.report_date

    ),

    -- one join of each department-day with its own history, every field aggregated at once: unpivoting first
    -- would sort ten times the rows (a province's day: about 8 s instead of 60 s on 2 cores)
    histories as materialized (

        select
            day_rows.institution_code,
            day_rows.report_date,
            day_rows.hospital,
            day_rows.department,
            {%- for rule in rules %}
            {%- set in_window -%}
                history_rows.report_date >= day_rows.report_date - {{ rule.window_days }}
                {%- if rule.same_weekday %}
                and extract(isodow from history_rows.report_date) = extract(isodow from day_rows.report_date)
                {%- endif %}
            {%- endset %}
            min(day_rows.{{ rule.column }}) as {{ rule.column }},
            count(*) filter (where {{ in_window }}) as {{ rule.column }}__days,
            percentile_cont(0.5) within group (order by history_rows.{{ rule.column }})
                filter (where {{ in_window }}) as {{ rule.column }}__median,
            array_agg(history_rows.{{ rule.column }}) filter (where {{ in_window }}) as {{ rule.column }}__history
            {%- if not loop.last %},{% endif %}
            {%- endfor %}
        from {{ day_rows }} as day_rows
        inner join history_rows
            on
                day_rows.institution_code = history_rows.institution_code
                and day_rows.hospital = history_rows.hospital
                and day_rows.department = history_rows.department
                and history_rows.report_date >= day_rows.report_date - {{ max_window }}
                and history_rows.report_date < day_rows.report_date
        group by day_rows.institution_code, day_rows.report_date, day_rows.hospital, day_rows.department

    ),

    judged as (

        select
            histories.institution_code,
            histories.report_date,
            histories.hospital,
            histories.department,
            counted.*
        from histories
        cross join lateral (values
            {%- for rule in rules %}
            ('{{ rule.field }}', histories.{{ rule.column }}, histories.{{ rule.column }}__days,
             histories.{{ rule.column }}__median, histories.{{ rule.column }}__history, {{ rule.window_days }},
             {{ rule.same_weekday }}, {{ rule.min_history_days }}, {{ rule.warning_z }}::numeric,
             {{ rule.held_out_z if rule.held_out_z is not none else 'null' }}::numeric,
             {{ rule.min_scale }}::numeric){% if not loop.last %},{% endif %}
            {%- endfor %}
        ) as counted (
            field_name, value, history_days, median, history, window_days, same_weekday, min_history_days,
            warning_z, held_out_z, min_scale
        )

    ),

    scaled as (

        select
            judged.*,
            deviations.mad,
            -- 1.4826 × MAD estimates a standard deviation; Poisson noise (√median) and min_scale are floors
            -- that also stand in when the MAD is 0 (most days the same count)
            greatest(1.4826 * deviations.mad, sqrt(judged.median), judged.min_scale) as scale
        from judged
        cross join lateral (
            select percentile_cont(0.5) within group (order by abs(past.value - judged.median)) as mad
            from unnest(judged.history) as past (value)
        ) as deviations
        where
            judged.history_days >= judged.min_history_days
            -- a count above the plausibility bound is held out by the bound: one reason, not two
            and judged.value <= {{ var('plausible_max_count') }}

    ),

    scored as (

        select
            scaled.*,
            (scaled.value - scaled.median) / scaled.scale as modified_z,
            greatest(ceil(scaled.median - scaled.warning_z * scaled.scale), 0) as usual_low,
            floor(scaled.median + scaled.warning_z * scaled.scale) as usual_high,
            scaled.held_out_z is not null
            and scaled.value > scaled.median + scaled.held_out_z * scaled.scale as is_held_out
        from scaled

    ),

    outliers as (

        select
            scored.*,
            confirmed.confirmed_outlier_id is not null as is_confirmed,
            case
                when scored.is_held_out and confirmed.confirmed_outlier_id is null then 'held_out' else 'warning'
            end as severity
        from scored
        left join {{ confirmed }} as confirmed
            on
                scored.institution_code = confirmed.institution_code
                and scored.report_date = confirmed.report_date
                and scored.hospital = confirmed.hospital
                and scored.department = confirmed.department
                and scored.field_name = confirmed.field_name
                and scored.value = confirmed.field_value
        where scored.value < scored.usual_low or scored.value > scored.usual_high

    ),

    -- materialized: the caller's join must not re-run the comparison once per department-day
    department_day_outliers as materialized (

        select
            outliers.institution_code,
            outliers.report_date,
            outliers.hospital,
            outliers.department,
            array_agg(outliers.field_name order by outliers.field_name)
                filter (where outliers.severity = 'warning') as outlier_warning_fields,
            array_agg(outliers.field_name order by outliers.field_name)
                filter (where outliers.severity = 'held_out') as outlier_held_out_fields,
            jsonb_agg(jsonb_build_object(
                'field', outliers.field_name,
                'severity', outliers.severity,
                'value', outliers.value,
                'usualLow', outliers.usual_low::integer,
                'usualHigh', outliers.usual_high::integer,
                'median', round(outliers.median::numeric, 1),
                'mad', round(outliers.mad::numeric, 1),
                'modifiedZ', round(outliers.modified_z::numeric, 1),
                'historyDays', outliers.history_days,
                'windowDays', outliers.window_days,
                'sameWeekday', outliers.same_weekday,
                'confirmed', outliers.is_confirmed
            ) order by outliers.field_name) as outliers
        from outliers
        group by outliers.institution_code, outliers.report_date, outliers.hospital, outliers.department

    )

    select * from department_day_outliers
    {%- endif %}
{% endmacro %}
