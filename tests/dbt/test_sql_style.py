"""The dbt models follow the project's SQL style (.sqlfluff at the repository root)."""

import subprocess
import sys
from pathlib import Path

from vte.config import DBT_PROJECT_DIR, PROJECT_ROOT


def test_models_lint_clean():
    sqlfluff = Path(sys.executable).parent / "sqlfluff"
    result = subprocess.run([str(sqlfluff), "lint", str(DBT_PROJECT_DIR / "models")], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
