"""What the quality gate sends to PostgreSQL (real GX validations on a real database, no mocks).

A passing check costs one query: an unexpected-rows check runs its query once (as a count), a
column check fetches no sample of unexpected values, and no check reads its whole table to learn
the columns. A failing check still fails with its count and a sample, and the Data Docs of a run
build in a fresh process (the stored suites name cchc's own unexpected-rows type).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
import pytest

from cchc.quality import run_gate

MARKER = "-987654"  # in the unexpected-rows query only: finds its statements in the log
SUITE = f"""
suite: probe
table: "{{kpi}}.probe"
expectations:
  - type: expect_table_columns_to_match_set
    name: published_columns
    kwargs: {{column_set: [id, amount, rate], exact_match: true}}
  - type: expect_column_values_to_not_be_null
    name: "{{column}}_not_null"
    columns: [id, amount]
  - type: expect_column_values_to_be_between
    name: rate_between_0_and_1
    kwargs: {{column: rate, min_value: 0, max_value: 1}}
  - type: unexpected_rows
    name: amount_not_below_marker
    query: "select id, amount from {{batch}} where amount < 0 and amount <> {MARKER}"
"""


@pytest.fixture(scope="module")
def db(warehouse_db):
    with psycopg.connect(warehouse_db) as conn:
        conn.execute("create schema if not exists kpi_probe;"
                     " create table kpi_probe.probe (id int, amount int, rate numeric);"
                     " insert into kpi_probe.probe select g, g, 0.5 from generate_series(1, 500) g")
    return warehouse_db


@pytest.fixture(scope="module")
def suites_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("suites")
    (directory / "probe.yml").write_text(SUITE)
    return directory


@pytest.fixture
def statements():
    """Every statement GX sends through SQLAlchemy while the test runs, with its parameters."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    seen: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append((" ".join(statement.split()), parameters))

    event.listen(Engine, "before_cursor_execute", record)
    yield seen
    event.remove(Engine, "before_cursor_execute", record)


def probe(db, suites_dir, report_dir, run_id):
    return run_gate(db, ["probe"], schema_map={"kpi": "kpi_probe"}, run_id=run_id, report_dir=report_dir,
                    suites_dir=suites_dir, data_docs=False)


def test_passing_checks_cost_one_query_each(db, suites_dir, tmp_path, statements):
    result = probe(db, suites_dir, tmp_path, "clean")
    assert result.success and result.checks_evaluated == 5, result.failures
    marked = [s for s, _ in statements if MARKER in s]
    assert len(marked) == 1 and marked[0].startswith("SELECT COUNT(*)"), marked  # not also the rows
    samples = [p for s, p in statements if "AS unexpected_values" in s]
    assert samples and all(0 in dict(p).values() for p in samples), samples  # LIMIT 0: nothing scanned
    whole_reads = [s for s, _ in statements if s.lower() in ("select * from kpi_probe.probe",
                                                             "(select * from kpi_probe.probe)")]
    assert whole_reads == []  # the columns come from the catalog (a table asset)


def test_failing_checks_keep_their_count_and_sample(db, suites_dir, tmp_path):
    with psycopg.connect(db) as conn:
        conn.execute("update kpi_probe.probe set amount = -1, rate = 2 where id in (7, 8)")
        conn.execute("update kpi_probe.probe set amount = null where id = 9")
    try:
        result = probe(db, suites_dir, tmp_path, "broken")
    finally:
        with psycopg.connect(db) as conn:
            conn.execute("update kpi_probe.probe set amount = id, rate = 0.5 where id in (7, 8, 9)")
    checks = {c.name: c for c in result.results_by_suite["probe"]}
    assert not result.success
    assert {n for n, c in checks.items() if not c.success} == {
        "amount_not_null", "rate_between_0_and_1", "amount_not_below_marker"}
    rows = checks["amount_not_below_marker"]
    assert rows.observed["observed_value"] == 2
    assert sorted(r["id"] for r in rows.observed["sample"]) == [7, 8]
    rate = checks["rate_between_0_and_1"]
    assert (rate.observed["unexpected_count"], rate.observed["element_count"]) == (2, 500)
    assert [float(v) for v in rate.observed["sample"]] == [2.0, 2.0]
    assert "2 of 500 rows unexpected" in rate.message and "e.g. 2" in rate.message
    assert checks["amount_not_null"].observed["unexpected_count"] == 1


def test_data_docs_of_a_run_build_in_a_fresh_process(db, suites_dir, tmp_path):
    probe(db, suites_dir, tmp_path, "docs-run")
    code = textwrap.dedent(f"""
        from pathlib import Path
        from cchc.quality import build_data_docs
        index = build_data_docs(Path({str(tmp_path)!r}), ["docs-run"])
        assert index is not None and index.is_file(), index
        print(index)
    """)
    import cchc

    plugins = str(Path(cchc.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [plugins, os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    pages = list(Path(tmp_path, "gx").rglob("validations/probe/docs-run/**/*.html"))
    assert pages and MARKER in pages[0].read_text()  # the unexpected-rows check rendered with its query
