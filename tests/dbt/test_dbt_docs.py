"""`dbt docs generate` works and every model and every column it finds in the warehouse is described."""

import json

import pytest

from vte.config import DBT_PROJECT_DIR, get_settings
from vte.dbt import run_dbt

pytestmark = pytest.mark.slow


def test_every_model_and_column_is_documented(province):
    run_dbt(["docs", "generate"])
    target = get_settings().home / "dbt" / "target"
    manifest = json.loads((target / "manifest.json").read_text())
    catalog = json.loads((target / "catalog.json").read_text())
    models = {uid: node for uid, node in manifest["nodes"].items() if node["resource_type"] == "model"}
    assert len(models) == len(list((DBT_PROJECT_DIR / "models").rglob("*.sql")))
    undocumented = [uid for uid, node in models.items() if not node["description"].strip()]
    for uid, node in models.items():
        built_columns = catalog["nodes"][uid]["columns"]
        undocumented += [f"{uid}.{column}" for column in built_columns
                         if not node["columns"].get(column, {}).get("description", "").strip()]
    assert not undocumented
