"""Run-level constants: each defined once, here or in the dbt project, and read from there.

- The province's time zone (:data:`PROVINCE_TIME_ZONE`): the source systems write local time; a
  source day is a local day; the nightly trigger is 02:00 local. Python only (the warehouse keeps
  local time without time zone and never converts).
- The schema names (:data:`RAW_SCHEMA` … :data:`PUBLICATION_SCHEMA_PREFIX`). dbt names its own
  schemas in ``dbt_project/dbt_project.yml`` (``+schema``, used as named by
  macros/generate_schema_name.sql); the ones Python shares with dbt are checked against it by
  tests/test_run_constants.py.
- Which systems a publication claims days of (:func:`reported_systems`): the dbt var
  ``reported_systems`` of ``dbt_project/dbt_project.yml``, read here, so that the Python side
  (:mod:`cchc.ledger.completeness`: ``complete_through``, ``as_of_date``) and the SQL side (macro
  ``reported_systems()``: the first source day of the report periods) count the same systems.

Standard library only at module level (PyYAML is imported when the dbt vars are first read): the
DAG file imports this module when the dag-processor parses it.
"""

from __future__ import annotations

from functools import cache
from zoneinfo import ZoneInfo

from cchc.paths import DBT_PROJECT_DIR

#: the province's time zone (IANA name): local time of the sources, the source day, the schedule
PROVINCE_TIME_ZONE_NAME = "Asia/Ho_Chi_Minh"
PROVINCE_TIME_ZONE = ZoneInfo(PROVINCE_TIME_ZONE_NAME)

#: landed source lines and the batch ledger (raw.load_batches)
RAW_SCHEMA = "raw"
#: the latest version of every record, merged from the batches in force (cchc.ledger.state)
STATE_SCHEMA = "state"
#: the run log, the run lock, dbt's run parameters and watermarks, validation results
OPS_SCHEMA = "ops"
#: the publication candidates dbt builds (dbt_project.yml: models/publish +schema)
BUILD_SCHEMA = "kpi_build"
#: what consumers read: one view per table, onto the current publication's schema
PUBLISHED_SCHEMA = "kpi"
#: every publication's tables, kept untouched while it is kept: kpi_pub_<publication_id>
PUBLICATION_SCHEMA_PREFIX = "kpi_pub_"

DBT_PROJECT_FILE = DBT_PROJECT_DIR / "dbt_project.yml"


@cache
def dbt_project_vars() -> dict:
    """The ``vars`` of dbt_project/dbt_project.yml (the project's defaults)."""
    import yaml

    with open(DBT_PROJECT_FILE, encoding="utf-8") as fh:
        project = yaml.safe_load(fh) or {}
    return dict(project.get("vars") or {})


@cache
def reported_systems() -> tuple[str, ...]:
    """The systems whose days a publication claims: as_of_date is the last day all of those
    delivered have complete (reference lists are delivered whole and not counted). The dbt var
    ``reported_systems``; a missing or malformed value raises RuntimeError naming the file."""
    value = dbt_project_vars().get("reported_systems")
    if not isinstance(value, list) or not value or not all(isinstance(s, str) and s for s in value):
        raise RuntimeError(f"{DBT_PROJECT_FILE}: vars.reported_systems must be a non-empty list of system "
                           f"names (e.g. [onestop, edoc]), got {value!r}")
    return tuple(sorted(value))
