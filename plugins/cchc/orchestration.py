"""Airflow for this project: its home, its metadata database, and running the nightly DAG.

The Airflow home lives next to the embedded warehouse (``$CCHC_HOME/airflow``); its metadata
database is the ``airflow`` database on the same PostgreSQL server (or CCHC_AIRFLOW_DB_URL). The
environment is set here, before Airflow is imported, so ``cchc run`` and ``cchc airflow ...``
(scheduler, api-server, dag-processor, triggerer) see the same configuration.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from cchc.constants import PROVINCE_TIME_ZONE_NAME
from cchc.paths import DAGS_DIR, PROJECT_ROOT, state_dir
from cchc.settings import airflow_db_url_override, airflow_log_level
from cchc.warehouse import libpq_url, sqlalchemy_url, warehouse_url, with_database

log = logging.getLogger(__name__)
DAG_ID = "cchc_nightly"


def airflow_home() -> Path:
    return Path(os.environ.get("AIRFLOW_HOME") or state_dir() / "airflow")


def metadata_db_url() -> str:
    return sqlalchemy_url(airflow_db_url_override() or with_database(warehouse_url(), "airflow"))


def airflow_env() -> dict[str, str]:
    """Environment variables that configure Airflow for this project (existing ones win)."""
    db = metadata_db_url()
    wanted = {
        "AIRFLOW_HOME": str(airflow_home()),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": PROVINCE_TIME_ZONE_NAME,
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": db,
        "AIRFLOW__LOGGING__LOGGING_LEVEL": airflow_log_level(),
        "GX_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    return {k: os.environ.get(k, v) for k, v in wanted.items()}


def apply_env() -> dict[str, str]:
    env = airflow_env()
    os.environ.update(env)
    airflow_home().mkdir(parents=True, exist_ok=True)
    return env


def ensure_metadata_db() -> None:
    """Run ``airflow db migrate`` once per (Airflow version, database): ~10 s the first time."""
    from importlib.metadata import version

    env = apply_env()
    stamp = airflow_home() / (
        "migrated-" + hashlib.sha256(f"{version('apache-airflow-core')}|{env['AIRFLOW__DATABASE__SQL_ALCHEMY_CONN']}"
                                     .encode()).hexdigest()[:16])
    if stamp.exists():
        return
    from cchc.warehouse.privileges import check_airflow_privileges

    problems = check_airflow_privileges(libpq_url(metadata_db_url()))
    if problems:  # say what to grant, before Airflow fails with a long traceback
        raise RuntimeError("Airflow's metadata database is not ready:\n"
                           + "\n".join(f"  - {p}" for p in problems))
    log.info("initialising the Airflow metadata database (first run only) ...")
    res = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env={**os.environ, **env},
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{res.stderr[-3000:]}")
    stamp.touch()


def as_task(step, *args, **kwargs):
    """Run a pipeline step inside an Airflow task: a failure that retrying cannot mend
    (``PipelineError.retryable`` false: a failed gate, missing grants) fails the task at once
    instead of spending its retries."""
    from cchc.pipeline import PipelineError

    try:
        return step(*args, **kwargs)
    except PipelineError as exc:
        if exc.retryable:
            raise
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(str(exc)) from exc


@dataclass
class DagRunOutcome:
    run_id: str
    state: str
    failed_step: str | None = None
    reason: str | None = None
    result: dict | None = None


def run_nightly(*, start: dt.date, end: dt.date, source_dir: str | None, source_url: str | None) -> DagRunOutcome:
    """Run the nightly DAG once, in this process, through ``dag.test()``."""
    ensure_metadata_db()
    import pendulum
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_DIR / "cchc_nightly.py"), bundle_name="dags-folder")
    if bag.import_errors:
        raise RuntimeError(f"the DAG does not import: {bag.import_errors}")
    dag = bag.get_dag(DAG_ID)
    for task in dag.tasks:
        # interactive: report a failure at once (dag.test would sit out every retry delay); the
        # scheduler's runs keep their retries
        task.retries = 0
    dagrun = dag.test(
        logical_date=pendulum.now("UTC"),
        run_conf={"start": start.isoformat(), "end": end.isoformat(),
                  "source_dir": source_dir, "source_url": source_url,
                  "wait": False},  # an explicit range: the land step reports missing days
    )
    state = str(getattr(dagrun.state, "value", dagrun.state))
    outcome = DagRunOutcome(run_id=dagrun.run_id, state=state)
    _explain(outcome)
    return outcome


def _explain(outcome: DagRunOutcome) -> None:
    """Fill the failing step and its reason, or the publication, from ops.pipeline_steps."""
    from cchc.warehouse import connect

    with connect() as conn:
        if conn.execute("select to_regclass('ops.pipeline_steps')").fetchone()[0] is None:
            rows = []
        else:
            rows = conn.execute(
                "select step, status, message, details from ops.pipeline_steps where run_id = %s "
                "order by started_at", (outcome.run_id,)).fetchall()
    for step, status, message, details in rows:
        if status == "failed" and outcome.failed_step is None:
            outcome.failed_step, outcome.reason = step, message
        if step == "publish" and status == "success":
            outcome.result = details
    if outcome.state != "success" and outcome.failed_step is None:
        outcome.failed_step = "airflow"
        outcome.reason = "the DAG run failed before a pipeline step started (see the Airflow log above)"
