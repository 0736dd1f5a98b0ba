"""The steps of vte_transform after dbt: gate the staged rows, gate the candidate marts, publish, feedback.

Each step is what one Airflow task calls; a failed gate records an alert and raises, so the DAG run fails
with the failed expectations in its log and the previous publication stays.
"""

from __future__ import annotations

from vte import feedback, gate, publish, warehouse
from vte.cosmos_config import CANDIDATE_SCHEMA, PUBLISHED_SCHEMA


def gate_staged_rows(run_id: str) -> dict:
    result = gate.run_gate("staged", "stg", run_id)
    if not result.success:
        with warehouse.connect(autocommit=True) as conn:
            publish.record_alert(conn, run_id, "staged", result.failed, result.message())
    result.raise_for_failure()
    return result.statistics


def gate_candidate_marts(run_id: str) -> dict:
    result = gate.run_gate("marts", CANDIDATE_SCHEMA, run_id, published_schema=PUBLISHED_SCHEMA)
    if not result.success:
        with warehouse.connect(autocommit=True) as conn:
            # Records the refused publication and its alert; the published marts stay as they are.
            publish.publish(conn, CANDIDATE_SCHEMA, PUBLISHED_SCHEMA, run_id=run_id, gate_result=result)
    result.raise_for_failure()
    return result.statistics


def publish_candidate(run_id: str, marts_statistics: dict) -> dict:
    passed = gate.GateResult("marts", CANDIDATE_SCHEMA, run_id, True, marts_statistics)
    with warehouse.connect(autocommit=True) as conn:
        publication = publish.publish(conn, CANDIDATE_SCHEMA, PUBLISHED_SCHEMA, run_id=run_id, gate_result=passed)
    return {"publication_id": publication.publication_id, "row_counts": publication.row_counts}


def write_feedback(publication: dict) -> int:
    return feedback.write_all(publication["publication_id"])
