"""How the transform DAG renders and runs the dbt project through astronomer-cosmos.

The marts are built into a candidate schema that analysts cannot see, whole or only the slices the run
touched (vte.publication.scope); the gate validates it and the publish step swaps it in. Cosmos emits no assets of its own (they would point at the candidate schema):
the publish task carries the product's asset instead.
"""

from __future__ import annotations

from cosmos import ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import InvocationMode, LoadMode, TestBehavior

from vte.config import DBT_PROJECT_DIR, executable
from vte.publication.scope import PUBLISHED_SCHEMA

CANDIDATE_SCHEMA = "marts_candidate"


def task_group_kwargs() -> dict:
    """Arguments of the DbtTaskGroup: every model built and tested (`dbt build` per node) in order."""
    return {
        "project_config": ProjectConfig(DBT_PROJECT_DIR, partial_parse=True),
        "profile_config": ProfileConfig(
            profile_name="vte", target_name="warehouse", profiles_yml_filepath=DBT_PROJECT_DIR / "profiles.yml"
        ),
        "execution_config": ExecutionConfig(
            dbt_executable_path=executable("dbt"), invocation_mode=InvocationMode.DBT_RUNNER
        ),
        "render_config": RenderConfig(
            load_method=LoadMode.DBT_LS,
            test_behavior=TestBehavior.BUILD,
            # A test between two models (relationships) runs once both are built, in its own task.
            should_detach_multiple_parents_tests=True,
            emit_datasets=False,
            enable_mock_profile=False,
        ),
        "operator_args": {
            "emit_datasets": False,
            "install_deps": False,
            # Back-fill: the DAG run's params widen what the incremental models re-process; publish_all
            # rebuilds every slice of the marts (after a change of the models' SQL).
            "vars": {
                "marts_schema": CANDIDATE_SCHEMA,
                "published_schema": PUBLISHED_SCHEMA,
                "reprocess_from": "{{ params.from_date or '' }}",
                "reprocess_to": "{{ params.to_date or '' }}",
                "publish_all": "{{ params.publish_all or false }}",
            },
        },
    }
