"""The command line's argument handling and errors (the full runs are in test_pipeline_e2e)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CCHC = str(Path(sys.executable).parent / "cchc")


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([CCHC, *args], capture_output=True, text=True, env=env, timeout=120)


def test_db_url_prints_the_warehouse_in_use(warehouse_db):
    import os

    res = run("db-url", env={**os.environ, "CCHC_WAREHOUSE_URL": warehouse_db})
    assert res.returncode == 0 and res.stdout.strip() == warehouse_db


def test_run_refuses_a_reversed_range():
    res = run("run", "--start", "2025-06-10", "--end", "2025-06-01", "--source-dir", "/nowhere")
    assert res.returncode == 2 and "before --start" in res.stderr


def test_run_needs_a_source(monkeypatch):
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("CCHC_SOURCE")}
    res = run("run", "--start", "2025-06-01", "--end", "2025-06-01", env=env)
    assert res.returncode == 2 and "--source-dir" in res.stderr


def test_bad_dates_are_usage_errors():
    res = run("run", "--start", "2025-13-01", "--end", "2025-06-01", "--source-dir", "x")
    assert res.returncode == 2 and "not a date" in res.stderr
