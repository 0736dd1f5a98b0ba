"""The steps of vte_transform after dbt: gate the touched rows, gate the candidate marts, publish, feedback.

Each step is what one Airflow task calls. A gate failure is a problem of the feed or of the build: it
records an alert and raises, so the DAG run fails with the failed expectations in its log and the previous
publication stays. A problem of one institution (rows held out by dbt, an institution missing from a
month) never stops the run: it is recorded as an alert, shown in that institution's feedback, and the rest
of the province publishes.
"""

from __future__ import annotations

from vte import warehouse
from vte.access import roles
from vte.publication import feedback, gate, publish, suites
from vte.cosmos_config import CANDIDATE_SCHEMA, PUBLISHED_SCHEMA

HELD_OUT_ROWS = """
select institution_code, count(*) as rows, count(distinct report_date) as report_dates,
       array_agg(distinct reason order by reason) as reasons
from (
    select institution_code, report_date, unnest(quarantine_rule_ids || array(
        select 'P.' || field from unnest(implausible_fields) as field) || array(
        select 'O.' || field from unnest(outlier_held_out_fields) as field)) as reason
    from int.int_department_days_touched
    where rule_status = 'quarantined'
) as held_out
group by institution_code
order by institution_code
"""


def gate_staged_rows(run_id: str) -> dict:
    result = gate.run_gate("staged", suites.DEFAULT_SCHEMAS["staged"], run_id)
    with warehouse.connect(role=roles.PUBLISHER, autocommit=True) as conn:
        if not result.success:
            publish.record_alert(conn, run_id, "staged", result.failed, result.message())
        else:
            record_held_out_rows(conn, run_id)
    result.raise_for_failure()
    return result.statistics


def record_held_out_rows(conn, run_id: str) -> int | None:
    """One alert naming every institution whose rows this run held out, and why; None when there are none."""
    held_out = [{"institution_code": code, "rows": rows, "report_dates": dates, "reasons": reasons}
                for code, rows, dates, reasons in conn.execute(HELD_OUT_ROWS)]
    if not held_out:
        return None
    message = (f"run {run_id}: rows held out of the indicators at {len(held_out)} institution(s): "
               + "; ".join(f"{h['institution_code']} {h['rows']} row(s) ({', '.join(h['reasons'])})" for h in held_out))
    return publish.record_alert(conn, run_id, "held_out", held_out, message)


def gate_candidate_marts(run_id: str) -> dict:
    result = gate.run_gate("marts", CANDIDATE_SCHEMA, run_id, published_schema=PUBLISHED_SCHEMA)
    with warehouse.connect(role=roles.PUBLISHER, autocommit=True) as conn:
        if not result.success:
            # Records the refused publication and its alert; the published marts stay as they are.
            publish.publish(conn, CANDIDATE_SCHEMA, PUBLISHED_SCHEMA, run_id=run_id, gate_result=result)
        else:
            record_vanished_institutions(conn, run_id)
    result.raise_for_failure()
    return result.statistics


def record_vanished_institutions(conn, run_id: str) -> int | None:
    """One alert naming the institutions missing from a complete month they were expected to report in; None
    when there are none."""
    vanished = [{"institution_code": code, "missing_month": month.isoformat()} for code, month in conn.execute(
        suites.vanished_institutions_query(CANDIDATE_SCHEMA) + " order by 1, 2")]
    if not vanished:
        return None
    months = ", ".join(f"{v['institution_code']} {v['missing_month'][:7]}" for v in vanished)
    message = (f"run {run_id}: {len({v['institution_code'] for v in vanished})} institution(s) missing from"
               f" a complete month they were expected in: {months}")
    return publish.record_alert(conn, run_id, "vanished", vanished, message)


def publish_candidate(run_id: str, marts_statistics: dict) -> dict:
    passed = gate.GateResult("marts", CANDIDATE_SCHEMA, run_id, True, marts_statistics)
    with warehouse.connect(role=roles.PUBLISHER, autocommit=True) as conn:
        publication = publish.publish(conn, CANDIDATE_SCHEMA, PUBLISHED_SCHEMA, run_id=run_id, gate_result=passed)
    return {"publication_id": publication.publication_id, "row_counts": publication.row_counts}


def write_feedback(publication: dict) -> int:
    return feedback.write_all(publication["publication_id"])
