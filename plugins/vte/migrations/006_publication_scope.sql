-- What each publication covered of the processed rows: the next run publishes what was processed after it.
alter table ops.publications add column processed_through timestamptz;
