"""
### VTE extract
The health commission's periodic indicator extracts, read from the published marts only:

- **monthly preliminary** on the 1st for the month before;
- **monthly final** on the 10th for the month before, when late and corrected data have had time to arrive;
- **quarterly and yearly finals** on the 10th after the quarter or year (10 January, April, July, October).

Each due extract is made for the province and for every city with reporting institutions: a workbook, the
same tables as CSV, the inputs they were written from and a manifest (publication read, submissions included,
checksums) in a new revision `$VTE_HOME/exports/<period>/<region>/<kind>/r<NNN>/` (`latest.json` beside it
names the newest), recorded in `ops.admin_audit` as `extract.create`.

### Schedule
One cron trigger, every day at 06:00 Asia/Shanghai; the task works out what is due that day and skips
when nothing is (simpler to read than several cron triggers, and the calendar rule lives in one tested
function, `vte.extracts.schedule.due_extracts`).

### On demand
Trigger with `{"period": "2026-03", "region": "330300", "kind": "final"}` (region and kind optional), or
use `vte extract --period 2026-03`.

### Notes
Logic lives in `plugins/vte/extracts/`. A revision is never overwritten: a retry against the same publication
returns the revision already written, a later publication makes the next one, with a restatement sheet of what
changed since.
"""

from airflow.sdk import CronTriggerTimetable, Param, dag, task

from vte.alerts import callbacks
from vte.orchestration import DEFAULT_ARGS, LOCAL_TZ, START_DATE

ACTOR = "airflow:vte_extract"


@dag(
    schedule=CronTriggerTimetable("0 6 * * *", timezone=LOCAL_TZ),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["vte", "extract"],
    on_success_callback=callbacks.on_success,  # a successful run resolves its dag_failed alert
    default_args=DEFAULT_ARGS,
    params={
        "period": Param(None, type=["null", "string"], description="On demand: 2026-03, 2026Q1 or 2026"),
        "region": Param(None, type=["null", "string"], description="On demand: GB/T 2260 code (default: province)"),
        "kind": Param(None, type=["null", "string"], enum=[None, "preliminary", "final"],
                      description="On demand: preliminary or final (default: final once due)"),
    },
)
def vte_extract():
    @task
    def create_extracts(params=None, logical_date=None, dag_run=None) -> list[str]:
        from airflow.sdk.exceptions import AirflowSkipException

        from vte.extracts.create import create_due_extracts, create_extract
        from vte.extracts.periods import parse_period

        day = (logical_date or dag_run.run_after).astimezone(LOCAL_TZ).date()
        if params.get("period"):
            extracts = [create_extract(parse_period(params["period"]), params.get("region"), params.get("kind"),
                                       actor=ACTOR, today=day)]
        else:
            extracts = create_due_extracts(day, actor=ACTOR)
        if not extracts:
            raise AirflowSkipException(f"no extract is due on {day}")
        return [str(e.directory) for e in extracts]

    create_extracts()


vte_extract()
