"""
### VTE alerts
Finds what needs someone's attention and tells the people of the region, by e-mail and chat-robot webhook:

1. **detect** (as `vte_monitor`): institutions with no report after the D+1 deadline, late reports,
   institutions missing 3 days in a row (their city is told) or 7 (the province), the gate's stopped runs,
   held-out rows and institutions missing from a month (bridged from `ops.alerts`), failed DAG runs, and
   regions whose indicator was below its target in the latest complete month. What is no longer true (a
   missing report that arrived, a target now met) is resolved.
2. **deliver**: each recipient gets one digest of the open alerts of its region at or above its level; a
   subject reaches a recipient at most once a day; a failed delivery is recorded and retried on the next run.

### Schedule
Every hour at minute 40 (the D+1 deadline passes at midnight; the loader has had time to load what arrived
just before it), and after every publication (`vte_published_marts` asset), so a stopped gate or a target
missed is told at once.

### Notes
Logic lives in `plugins/vte/alerts/`; recipients are managed with `vte alerts recipients`; docs/alerts.md.
`vte alerts run` does the same once from the command line.
"""

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, dag, task

from vte.alerts import callbacks
from vte.orchestration import DEFAULT_ARGS, LOCAL_TZ, PUBLISHED_MARTS, START_DATE


@dag(
    schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable("40 * * * *", timezone=LOCAL_TZ),
                                 assets=[PUBLISHED_MARTS]),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["vte", "alerts"],
    default_args={**DEFAULT_ARGS, "on_failure_callback": callbacks.on_failure},
    on_success_callback=callbacks.on_success,
)
def vte_alerts():
    @task
    def detect() -> dict:
        from vte.alerts import steps

        return steps.detect().as_dict()

    @task
    def deliver(detected: dict) -> dict:
        from vte.alerts import steps

        return steps.deliver().as_dict()

    deliver(detect())


vte_alerts()
