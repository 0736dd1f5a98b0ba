"""
### VTE transform
Turns newly loaded raw submissions into the analysts' marts, with write-audit-publish:

1. **dbt** (through cosmos, one task per model, each model's tests right after it): staging views,
   incremental intermediates (current versions, rule classification), then the marts into the
   candidate schema `marts_candidate`, which analysts cannot see.
2. **gate**: Great Expectations suites on the rows this run touched and on the candidate marts. One
   institution's problems (rule breaks, implausible counts, a missing month) hold its data out and are
   alerted; only a problem of the feed or the build fails the gate (decision table in the README).
3. **publish**: only when both pass, `marts_candidate` becomes `marts` in one transaction; otherwise
   the previous publication stays, an alert is recorded and this run fails with the failed expectations.
4. **feedback**: per-institution feedback reports of the new publication.

Runs whenever `vte_ingest` loads new submissions. Each run builds and publishes only what was processed
since the last publication (its report dates, and the indicator periods they fall in); the first run, a
change of the registry or of the indicator definitions, or `{"publish_all": true}` rebuild everything. To
back-fill, trigger it with `{"from_date": "2026-01-01", "to_date": "2026-01-31"}`: the incremental models
re-process those report dates.

### Notes
Logic lives in `plugins/vte/cosmos_config.py` and `plugins/vte/publication/` (`steps.py`, `suites.py`,
`gate.py`, `scope.py`, `publish.py`, `history.py`, `feedback.py`).
"""

from airflow.sdk import Param, dag, task
from cosmos import DbtTaskGroup

from vte import cosmos_config
from vte.publication import steps
from vte.alerts import callbacks
from vte.orchestration import DEFAULT_ARGS, PUBLISHED_MARTS, RAW_SUBMISSIONS, START_DATE

DATE_PARAM = {"type": ["null", "string"], "format": "date"}


@dag(
    schedule=[RAW_SUBMISSIONS],
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["vte", "transform", "dbt", "gx"],
    on_success_callback=callbacks.on_success,  # a successful run resolves its dag_failed alert
    default_args=DEFAULT_ARGS,
    params={
        "from_date": Param(None, description="Back-fill: first report date to re-process", **DATE_PARAM),
        "to_date": Param(None, description="Back-fill: last report date to re-process", **DATE_PARAM),
        "publish_all": Param(False, type="boolean",
                             description="Rebuild and publish every slice of the marts (after a change of the models)"),
    },
)
def vte_transform():
    dbt_build = DbtTaskGroup(group_id="dbt", **cosmos_config.task_group_kwargs())

    @task
    def gate_staged_rows(run_id=None) -> dict:
        return steps.gate_staged_rows(run_id)

    @task
    def gate_candidate_marts(run_id=None) -> dict:
        return steps.gate_candidate_marts(run_id)

    @task(outlets=[PUBLISHED_MARTS])
    def publish(marts_statistics: dict, run_id=None) -> dict:
        return steps.publish_candidate(run_id, marts_statistics)

    @task
    def feedback(publication: dict) -> int:
        return steps.write_feedback(publication)

    staged, marts = gate_staged_rows(), gate_candidate_marts()
    dbt_build >> staged >> marts
    feedback(publish(marts))


vte_transform()
