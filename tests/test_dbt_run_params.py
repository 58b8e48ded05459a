"""The run parameters reach dbt through ops.dbt_run_params, not --vars, so dbt keeps its partial parse
across nights (macros/run_vars.sql; cchc.transform.dbt_runner.run_dbt).

A small history is synthesised into the raw tables (benchmarks.synth, batches in force) and built
twice with different as_of_date and publication_id: the second build must not re-parse the
project, and its tables must carry the second build's parameters (the period bounds and the
publication_id that the publish models stamp and their tests check). An explicit --vars as_of_date
still wins over the table (manual runs).
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess

import psycopg
import pytest

from benchmarks import synth
from cchc.paths import DBT_PROJECT_DIR
from cchc.transform import build
from cchc.transform.dbt_runner import dbt_cli_vars, dbt_env, dbt_executable, dbt_work_dir, run_dbt

FIRST_DAY = dt.date(2024, 6, 3)
DAYS = 14
FULL_PARSE = ("Unable to do partial parsing", "Partial parse save file not found", "Starting full parse")


def _log(url: str) -> str:
    path = dbt_work_dir(url) / "logs" / "dbt.log"
    return path.read_text(errors="replace") if path.exists() else ""


def _report(url: str) -> tuple[dt.date, list[int]]:
    with psycopg.connect(url) as conn:
        return conn.execute("select max(period_end), array_agg(distinct publication_id) "
                            "from kpi_build.tthc_report").fetchone()


@pytest.fixture(scope="module")
def history(warehouse_db):
    synth.synthesise_history(warehouse_db, FIRST_DAY, DAYS, 15)
    return warehouse_db


def test_second_build_keeps_the_parse_and_reads_the_new_params(history):
    url = history
    first_as_of = FIRST_DAY + dt.timedelta(days=DAYS - 3)
    second_as_of = FIRST_DAY + dt.timedelta(days=DAYS - 1)
    build(url, as_of_date=first_as_of, publication_id=11, run_id="params-1")
    max_end, pubs = _report(url)
    assert max_end == first_as_of and pubs == [11]

    before = len(_log(url))
    build(url, as_of_date=second_as_of, publication_id=12, run_id="params-2")
    appended = _log(url)[before:]
    assert appended, "dbt wrote no log for the second build"
    assert not [m for m in FULL_PARSE if m in appended], "the second build re-parsed the project"
    max_end, pubs = _report(url)
    assert max_end == second_as_of  # the new as_of_date was read at execution time
    assert pubs == [12]
    with psycopg.connect(url) as conn:
        row = conn.execute("select as_of_date, publication_id, run_id from ops.dbt_run_params").fetchall()
    assert row == [(second_as_of.isoformat(), "12", "params-2")]


def test_cli_vars_do_not_carry_the_run_params(tmp_path):
    work = tmp_path / "w"
    night1 = dbt_cli_vars({"as_of_date": "2024-06-01", "publication_id": 1, "run_id": "a", "other": 1}, work)
    night2 = dbt_cli_vars({"as_of_date": "2024-06-02", "publication_id": 2, "run_id": "b", "other": 1}, work)
    assert night1 == night2 == {"other": 1, "cchc_run_params": str(work)}


def test_explicit_as_of_date_wins_over_the_table(history):
    """A manual run's --vars as_of_date beats the pipeline's row (which says the last day); the
    period bounds come from int_report_periods, so both are rebuilt."""
    url = history
    manual = FIRST_DAY + dt.timedelta(days=DAYS - 5)
    work = dbt_work_dir(url)
    cmd = [str(dbt_executable()), "run", "--select", "int_report_periods", "tthc_report", "--project-dir", str(DBT_PROJECT_DIR),
           "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(work / "target"),
           "--log-path", str(work / "logs"),
           "--vars", json.dumps({"as_of_date": manual.isoformat(), "cchc_run_params": str(work)})]
    proc = subprocess.run(cmd, env=dbt_env(url), cwd=DBT_PROJECT_DIR, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    max_end, pubs = _report(url)
    assert max_end == manual
    assert pubs == [12]  # publication_id still from the table


def test_a_malformed_param_is_named(history):
    result = run_dbt(["run", "--select", "int_report_periods"], url=history,
                     vars={"as_of_date": "2024-13-45x", "run_id": "params-bad"})
    assert not result.success
    assert "var 'as_of_date' must be a date 'YYYY-MM-DD', got '2024-13-45x'" in result.log_tail
