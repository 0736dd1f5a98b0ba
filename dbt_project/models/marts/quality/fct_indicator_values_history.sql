-- Every publication kept: the indicator values with the range of publications each was valid for. The
-- history is written by the publish step in the swap's transaction (vte.publication.history), so it lives
-- outside the swapped schema; this view is how analysts read it.
{{ config(materialized='view') }}

with

history_values as (

    select * from {{ source('history', 'indicator_values') }}

),

final as (

    select
        entity_key,
        level,
        entity_code,
        entity_name,
        campus,
        department,
        period_type,
        period_start,
        indicator_id,
        numerator,
        denominator,
        rate,
        target,
        meets_target,
        rate_same_period_last_year,
        is_partial_period,
        is_small_denominator,
        valid_from_publication,
        valid_to_publication
    from history_values

)

select * from final
