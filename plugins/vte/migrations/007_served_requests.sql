-- Pages, the template and the OpenAPI document are logged as served, not as refused requests.
alter table ops.intake_requests drop constraint intake_requests_outcome_check;
alter table ops.intake_requests add constraint intake_requests_outcome_check
    check (outcome in ('accepted', 'duplicate', 'validated', 'refused', 'error', 'served'));
