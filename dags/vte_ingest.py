"""
### VTE ingest
Loads what the intake service landed into the warehouse's raw tables, every five minutes and on demand:

- **landing documents** (JSON interface and Excel uploads alike) → `raw.submissions` + `raw.submission_rows`,
  idempotently: a document already loaded is skipped, a corrupt one is recorded in `raw.landing_loads`
  with its reason and the load goes on. A run reads the documents the zone's arrivals journal lists since
  the last one; trigger with `{"full_scan": true}` after documents were copied into the zone by hand or
  restored from a backup, to walk the whole zone;
- **the intake audit log** → `ops.intake_requests`, so every request (accepted or refused) can be queried.

When new submissions were loaded, the `raw/submissions` asset is updated and `vte_transform` runs.

### Notes
Re-running is always safe. Logic lives in `plugins/vte/ingest.py` and `plugins/vte/intake/audit.py`.
"""

import dataclasses
from datetime import timedelta

from airflow.sdk import Param, dag, task
from airflow.exceptions import AirflowSkipException

from vte.access import roles
from vte.alerts import callbacks
from vte.orchestration import DEFAULT_ARGS, RAW_SUBMISSIONS, START_DATE


@dag(
    schedule=timedelta(minutes=5),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["vte", "ingest"],
    params={"full_scan": Param(False, type="boolean",
                               description="Walk the whole landing zone instead of reading its arrivals journal")},
    on_success_callback=callbacks.on_success,  # a successful run resolves its dag_failed alert
    default_args=DEFAULT_ARGS,
)
def vte_ingest():
    @task(outlets=[RAW_SUBMISSIONS])
    def load_landing_zone(params=None) -> dict:
        from vte import ingest, warehouse

        with warehouse.connect(role=roles.LOADER) as conn:
            report = ingest.load_landing_zone(conn, full_scan=bool((params or {}).get("full_scan")))
        if not report.loaded:
            # No asset event: the transform only runs when there is something new.
            raise AirflowSkipException(f"nothing new to load ({report})")
        return dataclasses.asdict(report)

    @task
    def load_intake_audit() -> int:
        from vte import warehouse
        from vte.intake import audit

        with warehouse.connect(role=roles.LOADER) as conn:
            return audit.load_into_warehouse(conn)

    load_landing_zone()
    load_intake_audit()


vte_ingest()
