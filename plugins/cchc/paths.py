"""Where the project's files live. Everything is resolved from the repository root."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
SEEDS_DIR = DBT_PROJECT_DIR / "seeds"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
DAGS_DIR = PROJECT_ROOT / "dags"


def state_dir() -> Path:
    """Project-local folder for the embedded PostgreSQL, the Airflow home, demo data and reports.

    Override with CCHC_HOME (cchc.settings.home_dir).
    """
    from cchc.settings import home_dir  # imported here: cchc.settings imports this module

    return Path(home_dir() or PROJECT_ROOT / ".cchc").resolve()
