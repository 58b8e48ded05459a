"""The DAG file: imports cleanly under this project's Airflow configuration, describes the flow
only, and is schedulable (daily, catchup, one run at a time).

Airflow is imported in a subprocess so that its configuration (AIRFLOW_HOME, metadata database)
is the project's and does not leak into the other tests.
"""

from __future__ import annotations

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
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder="dags", bundle_name="dags-folder")
dag = bag.dags["cchc_nightly"]  # parsed only: no metadata database needed
print(json.dumps({
    "errors": {k: str(v) for k, v in bag.import_errors.items()},
    "dags": sorted(bag.dag_ids),
    "catchup": dag.catchup,
    "max_active_runs": dag.max_active_runs,
    "timetable": str(dag.timetable.expression),
    "timezone": str(dag.timezone),
    "edges": sorted([u, d] for u in dag.task_dict for d in dag.task_dict[u].downstream_task_ids),
    "params": sorted(dag.params.keys()),
    "outlets": [str(getattr(o, "name", o)) for o in dag.task_dict["publish"].outlets],
}))
"""


def test_dag_imports_and_wires_the_nightly_flow(tmp_path, warehouse_db):
    env = {**os.environ, "CCHC_WAREHOUSE_URL": warehouse_db, "AIRFLOW_HOME": str(tmp_path / "airflow")}
    res = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    info = json.loads(res.stdout.strip().splitlines()[-1])
    assert info["errors"] == {} and info["dags"] == ["cchc_nightly"]
    assert info["catchup"] is True and info["max_active_runs"] == 1
    assert info["timetable"] == "0 2 * * *" and "Ho_Chi_Minh" in info["timezone"]
    assert info["edges"] == sorted([
        ["plan", "extract_and_land"], ["plan", "gate_batches"], ["plan", "dbt_build"],
        ["plan", "gate_marts"], ["plan", "publish"],
        ["extract_and_land", "gate_batches"], ["gate_batches", "dbt_build"],
        ["gate_batches", "publish"], ["dbt_build", "gate_marts"], ["dbt_build", "publish"],
        ["gate_marts", "publish"],
    ])
    assert info["params"] == ["end", "source_dir", "source_url", "start"]
    assert info["outlets"] == ["cchc_kpi"]


def test_dag_file_does_no_work_at_import_time():
    """Only airflow.sdk and pendulum at module level; the pipeline is imported inside tasks."""
    source = (ROOT / "dags" / "cchc_nightly.py").read_text()
    top_level_imports = [line for line in source.splitlines()
                         if line.startswith(("import ", "from "))]
    assert all(("airflow.sdk" in l or "pendulum" in l or "__future__" in l or l == "import os")
               for l in top_level_imports), top_level_imports
