"""The DAG file: imports cleanly under this project's Airflow configuration, describes the flow
only, and is schedulable (daily, catchup, one run at a time, from CCHC_SCHEDULE_START on, waiting
for the night's delivery, retrying transient faults).

Airflow is imported in a subprocess so that its configuration (AIRFLOW_HOME, metadata database)
is the project's and does not leak into the other tests.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = r"""
import json
from cchc.orchestration import apply_env
apply_env()
import pendulum
from airflow.dag_processing.dagbag import DagBag
from airflow.serialization.serialized_objects import DagSerialization
from airflow.timetables.base import DagRunInfo
from airflow.timetables.trigger import CronTriggerTimetable

bag = DagBag(dag_folder="dags", bundle_name="dags-folder")
dag = bag.dags["cchc_nightly"]  # parsed only: no metadata database needed
# what the dag-processor stores and the scheduler reads back
stored = DagSerialization.from_dict(json.loads(json.dumps(DagSerialization.to_dict(dag))))

def after(run_after):
    # the next run the scheduler creates after an existing scheduled run
    last = None if run_after is None else DagRunInfo.interval(pendulum.parse(run_after), pendulum.parse(run_after))
    info = stored.next_dagrun_info(last_automated_run_info=last)
    return info and info.run_after.in_timezone("Asia/Ho_Chi_Minh").isoformat()

def plain_cron_after(run_after):
    # what Airflow's own cron timetable does with the same DAG (the defect being fixed)
    from airflow.timetables.base import TimeRestriction
    tt = CronTriggerTimetable("0 2 * * *", timezone="Asia/Ho_Chi_Minh")
    r = pendulum.parse(run_after)
    info = tt.next_dagrun_info_v2(last_dagrun_info=DagRunInfo.interval(r, r),
                                  restriction=TimeRestriction(earliest=stored.start_date, latest=None, catchup=True))
    return info.run_after.in_timezone("Asia/Ho_Chi_Minh").isoformat()

sensor = dag.task_dict["wait_for_delivery"]
print(json.dumps({
    "errors": {k: str(v) for k, v in bag.import_errors.items()},
    "dags": sorted(bag.dag_ids),
    "catchup": dag.catchup,
    "max_active_runs": dag.max_active_runs,
    "timetable": dag.timetable.summary,
    "stored_timetable": type(stored.timetable).__name__,
    "timezone": str(dag.timezone),
    "start_date": dag.start_date.in_timezone("Asia/Ho_Chi_Minh").isoformat(),
    "first_run": after(None),
    "after_old_run": after("2025-05-10T02:00:00+07:00"),
    "plain_cron_after_old_run": plain_cron_after("2025-05-10T02:00:00+07:00"),
    "after_recent_run": after("2026-01-20T02:00:00+07:00"),
    "edges": sorted([u, d] for u in dag.task_dict for d in dag.task_dict[u].downstream_task_ids),
    "params": sorted(dag.params.keys()),
    "outlets": [str(getattr(o, "name", o)) for o in dag.task_dict["publish"].outlets],
    "retries": {t.task_id: [t.retries, t.retry_exponential_backoff > 0 if not isinstance(t.retry_exponential_backoff, bool) else t.retry_exponential_backoff,
                            t.retry_delay.total_seconds(), t.max_retry_delay.total_seconds()] for t in dag.tasks},
    "sensor": {"mode": sensor.mode, "soft_fail": sensor.soft_fail, "poke_interval": sensor.poke_interval,
               "timeout": sensor.timeout, "upstream": sorted(sensor.upstream_task_ids)},
}))
"""


def probe(tmp_path, warehouse_db, **env_vars) -> dict:
    schedule_vars = ("CCHC_SCHEDULE_START", "CCHC_DELIVERY_POKE_SECONDS", "CCHC_DELIVERY_TIMEOUT_SECONDS",
                     "CCHC_TASK_RETRIES", "CCHC_RETRY_DELAY_SECONDS", "CCHC_MAX_RETRY_DELAY_SECONDS")
    env = {**{k: v for k, v in os.environ.items() if k not in schedule_vars},
           "CCHC_WAREHOUSE_URL": warehouse_db, "AIRFLOW_HOME": str(tmp_path / "airflow"), **env_vars}
    res = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_dag_imports_and_wires_the_nightly_flow(tmp_path, warehouse_db):
    info = probe(tmp_path, warehouse_db, CCHC_SCHEDULE_START="2025-05-01")
    assert info["errors"] == {} and info["dags"] == ["cchc_nightly"]
    assert info["catchup"] is True and info["max_active_runs"] == 1
    assert info["timetable"] == "0 2 * * *" and "Ho_Chi_Minh" in info["timezone"]
    assert info["edges"] == sorted([
        ["wait_for_delivery", "plan"],
        ["plan", "extract_and_land"], ["plan", "gate_batches"], ["plan", "dbt_build"],
        ["plan", "gate_marts"], ["plan", "publish"],
        ["extract_and_land", "gate_batches"], ["gate_batches", "dbt_build"],
        ["gate_batches", "publish"], ["dbt_build", "gate_marts"], ["dbt_build", "publish"],
        ["gate_marts", "publish"],
    ])
    assert info["params"] == ["end", "source_dir", "source_url", "start", "wait"]
    assert info["outlets"] == ["cchc_kpi"]


def test_every_task_retries_with_exponential_backoff_and_a_maximum_delay(tmp_path, warehouse_db):
    info = probe(tmp_path, warehouse_db)
    assert set(info["retries"]) == {"wait_for_delivery", "plan", "extract_and_land", "gate_batches",
                                    "dbt_build", "gate_marts", "publish"}
    for task_id, (retries, exponential, delay, max_delay) in info["retries"].items():
        assert (retries, exponential, delay, max_delay) == (3, True, 60.0, 1800.0), task_id
    tuned = probe(tmp_path, warehouse_db, CCHC_TASK_RETRIES="5", CCHC_RETRY_DELAY_SECONDS="10",
                  CCHC_MAX_RETRY_DELAY_SECONDS="300")
    assert tuned["retries"]["extract_and_land"] == [5, True, 10.0, 300.0]


def test_wait_for_delivery_is_a_rescheduling_sensor_that_skips_on_timeout(tmp_path, warehouse_db):
    info = probe(tmp_path, warehouse_db)
    assert info["sensor"] == {"mode": "reschedule", "soft_fail": True, "poke_interval": 600.0,
                              "timeout": 21600.0, "upstream": []}
    tuned = probe(tmp_path, warehouse_db, CCHC_DELIVERY_POKE_SECONDS="5", CCHC_DELIVERY_TIMEOUT_SECONDS="20")
    assert (tuned["sensor"]["poke_interval"], tuned["sensor"]["timeout"]) == (5.0, 20.0)


def test_the_schedule_starts_at_cchc_schedule_start_even_after_earlier_runs(tmp_path, warehouse_db):
    """Airflow's cron timetable continues from the latest run and ignores a start date moved
    later; the stored DAG's timetable starts at the configured night whatever runs exist."""
    info = probe(tmp_path, warehouse_db, CCHC_SCHEDULE_START="2026-01-15")
    assert info["stored_timetable"] == "NightlyTimetable"
    assert info["start_date"] == "2026-01-16T00:00:00+07:00"
    # first run: 02:00 on 16 January, which handles the night of 15 January
    assert info["first_run"] == "2026-01-16T02:00:00+07:00"
    # runs of the old start (May 2025) exist: plain cron would go on with 11 May 2025 …
    assert info["plain_cron_after_old_run"] == "2025-05-11T02:00:00+07:00"
    # … the DAG's timetable jumps to the configured start
    assert info["after_old_run"] == "2026-01-16T02:00:00+07:00"
    # after the start, nightly as usual
    assert info["after_recent_run"] == "2026-01-21T02:00:00+07:00"


def test_a_bad_schedule_setting_is_a_clear_import_error(tmp_path, warehouse_db):
    env = {**os.environ, "CCHC_WAREHOUSE_URL": warehouse_db, "AIRFLOW_HOME": str(tmp_path / "airflow"),
           "CCHC_SCHEDULE_START": "1 May 2025"}
    code = ("from cchc.orchestration import apply_env; apply_env()\n"
            "from airflow.dag_processing.dagbag import DagBag\n"
            "bag = DagBag(dag_folder='dags', bundle_name='dags-folder')\n"
            "print(list(bag.import_errors.values()))")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert "CCHC_SCHEDULE_START='1 May 2025' is not a date (YYYY-MM-DD)" in res.stdout, res.stderr[-2000:]


def test_dag_file_does_no_work_at_import_time():
    """Only airflow.sdk, pendulum and the stdlib-only schedule modules at module level; the
    pipeline is imported inside tasks."""
    source = (ROOT / "dags" / "cchc_nightly.py").read_text()
    top_level = [n for n in ast.parse(source).body if isinstance(n, (ast.Import, ast.ImportFrom))]
    modules = [n.module if isinstance(n, ast.ImportFrom) else n.names[0].name for n in top_level]
    allowed = ("__future__", "pendulum", "airflow.sdk", "cchc.constants", "cchc.readiness", "cchc.nightly_timetable")
    assert all(m == a or m.startswith(a + ".") for m in modules for a in [next(
        (x for x in allowed if m == x or m.startswith(x + ".")), "")]), modules
    # cchc.readiness imports only the standard library and cchc.settings (itself standard library
    # and cchc.paths only) at module level
    stdlib = {"__future__", "datetime", "logging", "os", "dataclasses", "typing", "zoneinfo", "hashlib",
              "secrets", "pathlib", "collections.abc"}

    def imports(path):
        tree = ast.parse(path.read_text())
        return {n.module if isinstance(n, ast.ImportFrom) else n.names[0].name
                for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))}

    package = ROOT / "plugins" / "cchc"
    assert imports(package / "readiness.py") <= stdlib | {"cchc.constants", "cchc.settings"}
    assert imports(package / "constants.py") <= stdlib | {"functools", "cchc.paths"}
    assert imports(package / "settings.py") <= stdlib | {"cchc.paths"}
    assert imports(package / "paths.py") <= stdlib
