-- The history keeps the marks of each value (issue 18): whether its period was partial (not over, or its
-- entity's expected report days not all in) and whether its denominator was small, as
-- marts.fct_indicator_values published them, so an earlier publication is read (vte export --publication,
-- vte diff) with the marks it had.
--
-- Nullable, no default: the values recorded before this migration were published without the history
-- keeping their marks, and false would claim that a value was complete when nobody recorded whether it was.
-- NULL says "not recorded". The next publication compares every period (vte.publication.history.record
-- finds current values without the mark), so from then on every current value carries its marks and only
-- the publications made before it read as unmarked.

alter table history.indicator_values
    add column is_partial_period boolean,
    add column is_small_denominator boolean;

-- What the publish step asks each time: is any current value still without its marks? (Empty once the first
-- publication after this migration has compared every period.)
create index indicator_values_unmarked on history.indicator_values (period_type)
    where valid_to_publication is null and is_partial_period is null;
