"""A night that fails half-way: after each fault, a rerun publishes exactly what a clean run does.

Faults, each bounded in time, on a warehouse of its own (an embedded PostgreSQL in a temporary
CCHC_HOME, so the test can stop it):

1. the `cchc run` process is killed (SIGKILL) while it lands;
2. PostgreSQL is stopped while dbt builds;
3. the process is killed while publish waits for a BI reader's lock.

The same days run cleanly, night by night, on another database: its kpi checksums after each night
are what the faulty warehouse must show after its rerun of that night.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

from cchc_demo.simulator import SimulatorConfig, generate
from cchc.warehouse.embedded import EmbeddedPostgres

pytestmark = pytest.mark.slow

DAYS = [dt.date(2025, 6, 9) + dt.timedelta(days=i) for i in range(4)]
NIGHTS = [(DAYS[0], DAYS[1]), (DAYS[2], DAYS[2]), (DAYS[3], DAYS[3])]
CCHC = str(Path(sys.executable).parent / "cchc")
STALE = "10"  # seconds after which a killed run's lock is taken over (the least allowed; heartbeats every 2.5 s)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fault_sources")
    generate(root, SimulatorConfig(start=DAYS[0], end=DAYS[-1], seed=3, dossiers_per_day=60,
                                   documents_per_day=20, bad_rate=0.01))
    return root


def night(env: dict, sources: Path, n: int, **popen) -> subprocess.Popen:
    start, end = NIGHTS[n]
    return subprocess.Popen([CCHC, "run", "--start", start.isoformat(), "--end", end.isoformat(),
                             "--source-dir", str(sources)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True, **popen)


def finish(proc: subprocess.Popen, timeout: float = 600) -> tuple[int, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out[-2000:] + err[-5000:]


def checksums(url: str) -> dict[str, str]:
    from cchc.publish import kpi_checksums

    with psycopg.connect(url) as conn:
        return kpi_checksums(conn)


@pytest.fixture(scope="module")
def clean(warehouse_db, cchc_env, sources) -> list[dict[str, str]]:
    """kpi checksums of a clean warehouse after each night."""
    env = {**cchc_env, "CCHC_PSEUDONYM_KEY": "fault-test-key-0123456789"}
    out = []
    for n in range(len(NIGHTS)):
        code, text = finish(night(env, sources, n))
        assert code == 0, text
        out.append(checksums(warehouse_db))
    return out


@pytest.fixture(scope="module")
def faulty():
    """(env, server, url) of a warehouse on an embedded server of its own. Its home is not under
    pytest's basetemp, whose top folder pytest keeps at mode 700 (the server's system user must
    pass through every folder above its data)."""
    home = Path(tempfile.mkdtemp(prefix="cchc-faults-"))
    port = free_port()
    server = EmbeddedPostgres(root=home / "pg", port=port)
    url = server.ensure_running()
    env = {k: v for k, v in os.environ.items() if k not in ("CCHC_WAREHOUSE_URL", "CCHC_AIRFLOW_DB_URL")}
    env.update({"CCHC_HOME": str(home), "CCHC_PG_PORT": str(port), "CCHC_RUN_LOCK_STALE_SECONDS": STALE,
                "CCHC_PSEUDONYM_KEY": "fault-test-key-0123456789"})
    yield env, server, url
    server.stop()
    shutil.rmtree(home, ignore_errors=True)


def wait_for(url: str, sql: str, proc: subprocess.Popen, timeout: float = 300, every: float = 0.05):
    """Poll until ``sql`` returns a true value; fail at once, with its output, if ``proc`` ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            code, text = finish(proc)
            raise AssertionError(f"the run ended ({code}) before: {sql}\n{text}")
        try:
            with psycopg.connect(url, connect_timeout=2) as conn:
                row = conn.execute(sql).fetchone()
            if row and row[0]:
                return row[0]
        except psycopg.Error:
            pass  # the schema does not exist yet
        time.sleep(every)
    raise AssertionError(f"timed out waiting for: {sql}")


def kill(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def rerun_after_the_lock_expires(env, sources, n: int) -> None:
    time.sleep(float(STALE) + 2)
    code, text = finish(night(env, sources, n))
    assert code == 0, text


def test_killed_while_landing(clean, faulty, sources):
    env, _, url = faulty
    proc = night(env, sources, 0)
    wait_for(url, "select count(*) >= 3 from raw.load_batches", proc)
    kill(proc)
    with psycopg.connect(url) as conn:
        step = conn.execute("select status from ops.pipeline_steps where step = 'extract_and_land'").fetchone()
        partial = conn.execute("select count(*) from raw.load_batches").fetchone()[0]
    assert step == ("running",) and partial < 2 * 5  # killed half-way through the two days
    rerun_after_the_lock_expires(env, sources, 0)
    assert checksums(url) == clean[0]
    with psycopg.connect(url) as conn:
        assert conn.execute("select count(*) from ops.pipeline_steps where status = 'abandoned'").fetchone()[0] >= 1


def test_postgres_stopped_during_the_dbt_build(clean, faulty, sources):
    env, server, url = faulty
    proc = night(env, sources, 1)
    wait_for(url, "select count(*) = 1 from ops.pipeline_steps where step = 'dbt_build' and status = 'running' "
                  "and run_id <> all(select run_id from kpi.publications)", proc)
    time.sleep(3)  # dbt is running its models
    server.stop()
    code, _ = finish(proc)
    assert code != 0
    server.ensure_running()
    rerun_after_the_lock_expires(env, sources, 1)
    assert checksums(url) == clean[1]


def test_killed_while_publish_waits_for_a_reader(clean, faulty, sources):
    env, _, url = faulty
    before = checksums(url)
    reader = psycopg.connect(url)
    reader.execute("select count(*) from kpi.tthc_report").fetchone()  # holds ACCESS SHARE until rollback
    try:
        proc = night(env, sources, 2)
        wait_for(url, "select count(*) = 1 from ops.pipeline_steps where step = 'publish' and status = 'running'",
                 proc)
        time.sleep(1.5)  # inside its lock retries
        kill(proc)
    finally:
        reader.rollback()
        reader.close()
    assert checksums(url) == before  # nothing half-published
    rerun_after_the_lock_expires(env, sources, 2)
    assert checksums(url) == clean[2]
