-- One row per calendar day, from var('calendar_start') to a year ahead.
with

days as (

    select calendar_day::date as date_day
    from generate_series(
        '{{ var("calendar_start") }}'::date,
        (current_date + interval '1 year')::date,
        interval '1 day'
    ) as calendar_day

),

final as (

    select
        date_day,
        date_trunc('month', date_day)::date as month_start,
        date_trunc('quarter', date_day)::date as quarter_start,
        date_trunc('year', date_day)::date as year_start,
        extract(year from date_day)::integer as year_number,
        extract(quarter from date_day)::integer as quarter_number,
        extract(month from date_day)::integer as month_number,
        extract(isodow from date_day)::integer as iso_day_of_week,
        (date_day - interval '1 year')::date as same_day_last_year
    from days

)

select * from final
