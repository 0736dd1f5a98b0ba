-- The 18 indicators of Appendix B and the 5 supplementary ones, from the indicators seed.
-- One defined on a non-additive field is refused here, when the definitions load.
{{ refuse_non_additive_indicators() }}
with

indicators as (

    select * from {{ ref('indicators') }}

),

count_fields as (

    select * from {{ ref('count_fields') }}

),

final as (

    select
        indicators.indicator_id,
        indicators.section,
        indicators.section_name_zh,
        indicators.name_zh,
        indicators.name_en,
        indicators.numerator_field,
        numerators.column_name as numerator_column,
        indicators.denominator_field,
        denominators.column_name as denominator_column,
        indicators.target_rate,
        indicators.higher_is_better,
        indicators.is_supplementary
    from indicators
    inner join count_fields as numerators
        on indicators.numerator_field = numerators.field_name
    inner join count_fields as denominators
        on indicators.denominator_field = denominators.field_name

)

select * from final
