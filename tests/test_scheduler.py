"""The nightly DAG under Airflow's real scheduler, dag-processor and api-server.

The three components are started as ``cchc airflow ...`` subprocesses (the project's configuration),
on loopback, with a fresh warehouse database and a fresh Airflow metadata database on the embedded
PostgreSQL, against a two-day simulated export folder. Everything is driven through the public REST
API (v2) with a JWT of the simple auth manager. What is checked:

1. scheduled catch-up nights after the last delivered day end as skipped (not failed), without a
   publication id or a batch;
2. a run for delivered days publishes;
3. a run for a day without a delivery waits (short sensor timeout), then ends not failed, with
   ``wait_for_delivery`` skipped, no new publication and no batch of that day;
4. a changed CCHC_SCHEDULE_START takes effect at the dag-processor's next parse even though runs of
   the old start exist.

Every wait is bounded; the processes are stopped at the end, also on failure.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import requests

from cchc.readiness import night_for
from cchc_demo.simulator import SimulatorConfig, generate
from cchc.warehouse import connect
from cchc.warehouse.connection import with_database

pytestmark = pytest.mark.slow

CCHC = str(Path(sys.executable).parent / "cchc")
DAG_ID = "cchc_nightly"
D1, D2 = dt.date(2025, 6, 2), dt.date(2025, 6, 3)
MISSING = dt.date(2025, 6, 5)  # not in the export folder
VN = dt.timezone(dt.timedelta(hours=7))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Airflow:
    """The running components and a REST client of the api-server."""

    def __init__(self, env: dict, logs: Path, port: int):
        self.env, self.logs, self.port = env, logs, port
        self.url = f"http://127.0.0.1:{port}"
        self.procs: dict[str, subprocess.Popen] = {}
        self.token: str | None = None

    def start(self, name: str, *args: str, env: dict | None = None) -> None:
        with open(self.logs / f"{name}.log", "ab") as out:  # the child keeps its own copy of the descriptor
            self.procs[name] = subprocess.Popen([CCHC, "airflow", *args], env=env or self.env, stdout=out,
                                                stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)

    def stop_all(self) -> None:
        for name in list(self.procs):
            with contextlib.suppress(ProcessLookupError):  # the process group has gone already
                self.stop(name)

    def tails(self) -> str:
        return "\n".join(f"--- {p.name} ---\n{p.read_text(errors='replace')[-3000:]}"
                         for p in sorted(self.logs.glob("*.log")))

    def task_logs(self, run_id: str) -> str:
        """The task logs of a run (Airflow writes them under $AIRFLOW_HOME/logs)."""
        root = Path(self.env["AIRFLOW_HOME"]) / "logs"
        files = sorted(p for p in root.rglob("*.log") if f"run_id={run_id}" in str(p))
        return "\n".join(f"--- {p.relative_to(root)} ---\n{p.read_text(errors='replace')[-4000:]}" for p in files)

    def explain(self, run_id: str) -> str:
        return f"task states {self.task_states(run_id)}\n{self.task_logs(run_id)}\n{self.tails()}"

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            assert proc.poll() is None, f"{name} exited with {proc.returncode}:\n{self.tails()}"

    # -- REST ------------------------------------------------------------------------------------
    def login(self, deadline: float) -> None:
        password_file = Path(self.env["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                if password_file.exists():
                    password = json.loads(password_file.read_text())["admin"]
                    r = requests.post(f"{self.url}/auth/token", json={"username": "admin", "password": password},
                                      timeout=10)
                    if r.status_code in (200, 201):
                        self.token = r.json()["access_token"]
                        return
            except (requests.ConnectionError, requests.Timeout, ValueError, KeyError):
                pass
            time.sleep(2)
        raise AssertionError(f"the api-server did not answer /auth/token in time:\n{self.tails()}")

    def api(self, method: str, path: str, **kw) -> dict:
        r = requests.request(method, f"{self.url}/api/v2{path}",
                             headers={"Authorization": f"Bearer {self.token}"}, timeout=30, **kw)
        assert r.status_code < 300, f"{method} {path}: HTTP {r.status_code}: {r.text[:1000]}"
        return r.json()

    def wait_for(self, what: str, probe, timeout: float, every: float = 3.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            value = probe()
            if value:
                return value
            time.sleep(every)
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}:\n{self.tails()}")

    def dag(self) -> dict | None:
        r = requests.get(f"{self.url}/api/v2/dags/{DAG_ID}", headers={"Authorization": f"Bearer {self.token}"},
                         timeout=30)
        return r.json() if r.status_code == 200 else None

    def trigger(self, conf: dict) -> str:
        run = self.api("POST", f"/dags/{DAG_ID}/dagRuns", json={"logical_date": None, "conf": conf})
        return run["dag_run_id"]

    def runs(self, **params) -> list[dict]:
        return self.api("GET", f"/dags/{DAG_ID}/dagRuns", params={"limit": 100, **params})["dag_runs"]

    def finished(self, run_id: str) -> dict | None:
        run = self.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}")
        return run if run["state"] in ("success", "failed") else None

    def task_states(self, run_id: str) -> dict[str, str | None]:
        tis = self.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances")["task_instances"]
        return {t["task_id"]: t["state"] for t in tis}


def count(url: str, sql: str, *args) -> int:
    with connect(url) as conn:
        table = sql.split(" from ", 1)[1].split()[0]
        if conn.execute("select to_regclass(%s)", (table,)).fetchone()[0] is None:
            return 0
        return conn.execute(sql, args).fetchone()[0]


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sources")
    generate(root, SimulatorConfig(start=D1, end=D2, seed=11, dossiers_per_day=15, documents_per_day=8,
                                   bad_rate=0.0))
    return root


@pytest.fixture(scope="module")
def airflow(warehouse_db, server_url, sources, tmp_path_factory):
    home = tmp_path_factory.mktemp("cchc_home")
    # the components' output; CCHC_TEST_AIRFLOW_LOGS keeps it somewhere pytest does not rotate
    logs = Path(os.environ.get("CCHC_TEST_AIRFLOW_LOGS") or tmp_path_factory.mktemp("airflow_logs"))
    logs.mkdir(parents=True, exist_ok=True)
    metadata_db = f"cchc_test_af_{uuid.uuid4().hex[:8]}"
    admin = with_database(server_url, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'create database "{metadata_db}"')
    port = free_port()
    # two catch-up nights that have no delivery: the last two nights whose 02:00 trigger has passed
    last_night = night_for(dt.datetime.now(dt.UTC) - dt.timedelta(hours=2))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")},
        "CCHC_WAREHOUSE_URL": warehouse_db,
        "CCHC_HOME": str(home),
        "AIRFLOW_HOME": str(home / "airflow"),
        "CCHC_AIRFLOW_DB_URL": with_database(server_url, metadata_db),
        "CCHC_PSEUDONYM_KEY": "test-key-not-secret",
        "CCHC_SOURCE_DIR": str(sources),
        "CCHC_SCHEDULE_START": (last_night - dt.timedelta(days=1)).isoformat(),
        "CCHC_DELIVERY_POKE_SECONDS": "5",
        "CCHC_DELIVERY_TIMEOUT_SECONDS": "20",
        # retries are for transient faults, and a loaded test machine has some (execution API
        # timeouts); a real failure still fails after them
        "CCHC_TASK_RETRIES": "2",
        "CCHC_RETRY_DELAY_SECONDS": "5",
        "CCHC_MAX_RETRY_DELAY_SECONDS": "10",
        "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
        "CCHC_AIRFLOW_LOG_LEVEL": "INFO",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__API__SECRET_KEY": uuid.uuid4().hex,
        "AIRFLOW__API_AUTH__JWT_SECRET": uuid.uuid4().hex,
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "300",
    }
    af = Airflow(env, logs, port)
    try:
        # migrate once, before the components start (they would race for it)
        res = subprocess.run([CCHC, "airflow", "version"], env=env, capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stderr[-3000:]
        # the api-server first: tasks talk to its execution API from their first second
        af.start("api-server", "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1")
        af.login(time.monotonic() + 180)
        af.start("dag-processor", "dag-processor")
        af.start("scheduler", "scheduler")
        af.last_night = last_night
        yield af
    finally:
        af.stop_all()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{metadata_db}" with (force)')


def test_catch_up_nights_without_a_delivery_end_skipped_not_failed(airflow, warehouse_db):
    dag = airflow.wait_for("the DAG to be parsed and stored", airflow.dag, 240)
    assert dag["is_paused"] is False
    nights = {airflow.last_night - dt.timedelta(days=1), airflow.last_night}

    def scheduled_done():
        runs = airflow.runs(run_type="scheduled")
        return runs if len(runs) >= 2 and all(r["state"] in ("success", "failed") for r in runs) else None

    runs = airflow.wait_for("the two scheduled catch-up nights", scheduled_done, 300)
    assert len(runs) == 2, runs
    for run in runs:
        night = night_for(dt.datetime.fromisoformat(run["run_after"]))
        assert night in nights
        assert run["state"] == "success", run
        states = airflow.task_states(run["dag_run_id"])
        assert states["wait_for_delivery"] == "skipped" and states["plan"] == "skipped", states
        assert count(warehouse_db, "select count(*) from raw.load_batches where source_day = %s", night) == 0
    assert count(warehouse_db, "select count(*) from kpi.publications") == 0
    assert count(warehouse_db, "select count(*) from ops.pipeline_steps where step = 'plan'") == 0
    # the next scheduled night is tonight's (not before the last night: no run twice)
    nxt = dt.datetime.fromisoformat(airflow.dag()["next_dagrun_run_after"])
    assert night_for(nxt) == airflow.last_night + dt.timedelta(days=1)


def test_a_run_for_delivered_days_publishes(airflow, warehouse_db):
    run_id = airflow.trigger({"start": D1.isoformat(), "end": D2.isoformat()})
    run = airflow.wait_for(f"run {run_id}", lambda: airflow.finished(run_id), 900, every=5)
    states = airflow.task_states(run_id)
    if run["state"] != "success" or set(states.values()) != {"success"}:
        pytest.fail(f"run {run_id} did not publish:\n{airflow.explain(run_id)}")
    with connect(warehouse_db) as conn:
        pubs = conn.execute("select count(*), max(as_of_date) from kpi.publications").fetchone()
    assert pubs[0] == 1 and pubs[1] == D2
    assert count(warehouse_db, "select count(*) from raw.load_batches where source_day = %s", D2) > 0


def test_a_run_for_a_day_without_delivery_waits_then_ends_not_failed(airflow, warehouse_db):
    pubs_before = count(warehouse_db, "select count(*) from kpi.publications")
    t0 = time.monotonic()
    run_id = airflow.trigger({"start": MISSING.isoformat()})
    run = airflow.wait_for(f"run {run_id}", lambda: airflow.finished(run_id), 300, every=3)
    waited = time.monotonic() - t0
    states = airflow.task_states(run_id)
    if run["state"] != "success" or states["wait_for_delivery"] != "skipped":
        pytest.fail(f"run {run_id} should have ended with wait_for_delivery skipped:\n{airflow.explain(run_id)}")
    assert all(states[t] == "skipped" for t in states if t != "wait_for_delivery"), states
    assert waited >= 20, f"the sensor gave up after {waited:.0f}s, before its 20 s timeout"
    assert count(warehouse_db, "select count(*) from kpi.publications") == pubs_before
    assert count(warehouse_db, "select count(*) from raw.load_batches where source_day = %s", MISSING) == 0
    assert count(warehouse_db, "select count(*) from ops.pipeline_steps where run_id = %s", run_id) == 0


def test_a_changed_schedule_start_takes_effect_although_runs_exist(airflow):
    assert airflow.runs(run_type="scheduled"), "runs of the old start exist"
    airflow.stop("dag-processor")
    airflow.start("dag-processor", "dag-processor",
                  env={**airflow.env, "CCHC_SCHEDULE_START": "2099-01-01"})

    def moved():
        after = (airflow.dag() or {}).get("next_dagrun_run_after")
        return after if after and dt.datetime.fromisoformat(after).year == 2099 else None

    after = dt.datetime.fromisoformat(airflow.wait_for("the new start in next_dagrun", moved, 180))
    assert after.astimezone(VN).isoformat() == "2099-01-02T02:00:00+07:00"  # handles 1 January 2099
