"""Write-Audit-Publish: a publication candidate that breaks an identity never reaches `kpi`.

Runs the pipeline's steps in-process (the same functions the DAG calls) against a fresh database:
a clean run publishes; then a rebuilt candidate is corrupted between build and audit, the audit
fails naming the identity, and `kpi` is byte-for-byte what the first publication left. A second
clean run of the same data publishes the same rows (kpi_checksums), a consumer's view on a `kpi`
name survives it, and a rollback restores the first publication exactly.
"""

from __future__ import annotations

import datetime as dt

import pytest

from cchc import pipeline
from cchc.publish import PublishError, kpi_checksums, publication_schema, publish, rollback
from cchc_demo.simulator import SimulatorConfig, generate
from cchc.warehouse import connect

START, END = dt.date(2025, 6, 9), dt.date(2025, 6, 13)


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("wap_sources")
    generate(root, SimulatorConfig(start=START, end=END, seed=11, dossiers_per_day=30,
                                   documents_per_day=10, bad_rate=0.0))
    return root


@pytest.fixture(scope="module")
def published(warehouse_db, sources, tmp_path_factory, monkeypatch_module):
    monkeypatch_module.setenv("CCHC_HOME", str(tmp_path_factory.mktemp("wap_home")))
    monkeypatch_module.setenv("CCHC_PSEUDONYM_KEY", "wap-test-key-0123456789")
    result = run_steps("wap-1", sources)
    return result


def run_steps(run_id: str, sources, corrupt_sql: str | None = None, *, full_rebuild: bool = False) -> dict:
    """The DAG's steps in order; ``full_rebuild`` rebuilds even when nothing new was landed."""
    plan = pipeline.plan_run(start=START.isoformat(), end=END.isoformat(), run_id=run_id,
                             source={"source_dir": str(sources)}, full_rebuild=full_rebuild)
    try:
        landed = pipeline.land(plan)
        batch_gate = pipeline.gate_batches(plan, landed)
        built = pipeline.build(plan, batch_gate)
        if corrupt_sql:
            with connect() as conn:
                conn.execute(corrupt_sql)
        mart_gate = pipeline.gate_marts(plan, built)
        return pipeline.publish_run(plan, built, batch_gate, mart_gate)
    finally:
        release_run_lock(run_id)


def release_run_lock(run_id: str) -> None:
    """A step's failure releases the run lock; a test stopping between steps must too."""
    from cchc.runlock import release

    with connect() as conn:
        release(conn, run_id)
        conn.commit()


def linked_data_docs(report: str) -> list:
    """The Data Docs pages a gate report links (the gates defer building them: the pipeline builds
    them after publishing, or when the publication gate fails)."""
    import re
    from pathlib import Path

    path = Path(report)
    return [(path.parent / href).resolve() for href in re.findall(r'href="([^"]+)"', path.read_text())
            if "data_docs" in href]


def kpi_snapshot() -> dict[str, str]:
    with connect() as conn:
        tables = [r[0] for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'kpi' order by 1")]
        return {t: conn.execute(f"select md5(coalesce(string_agg(x::text, '|' order by x::text), '')) "
                                f'from kpi."{t}" x').fetchone()[0] for t in tables}


def test_a_clean_run_publishes_every_candidate(published):
    assert published["publication_id"] >= 1 and published["rows_published"] > 0
    with connect() as conn:
        tables = {r[0] for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'kpi'")}
        assert {"publications", "tthc_report", "dossier_facts_daily", "esignature_usage",
                "leader_paper_documents"} <= tables
        left = conn.execute("select count(*) from information_schema.tables "
                            "where table_schema = 'kpi_build'").fetchone()[0]
        assert left == 0, "every audited candidate moved to its publication's schema"
        schema = publication_schema(published["publication_id"])
        views = conn.execute(
            "select v.table_name, t.table_schema from information_schema.views v "
            "left join information_schema.view_table_usage t "
            "on t.view_schema = v.table_schema and t.view_name = v.table_name "
            "where v.table_schema = 'kpi' order by 1").fetchall()
        assert {name for name, _ in views} == tables - {"publications"}
        # every kpi view shows the new publication (a view over a table with a unit also reads the BI
        # logins' unit scopes, ops.reader_scopes: README, "BI logins")
        assert {src for _, src in views} - {"ops"} == {schema}, "every kpi view shows the new publication"
        assert {name for name, src in views if src == schema} == tables - {"publications"}
        assert conn.execute("select publication_id from kpi.publications where is_current").fetchall() == \
            [(published["publication_id"],)]
        reports = [r[0] for r in conn.execute(
            "select details ->> 'report' from ops.pipeline_steps where run_id = 'wap-1' "
            "and step in ('gate_batches', 'gate_marts') order by step")]
        docs_seconds = conn.execute("select (details ->> 'data_docs_seconds')::float from ops.pipeline_steps "
                                    "where run_id = 'wap-1' and step = 'publish'").fetchone()[0]
    assert docs_seconds is not None and docs_seconds > 0, "the Data Docs are built after the swap"
    for report in reports:  # each gate report links its index and a page per suite, all built
        pages = linked_data_docs(report)
        assert len(pages) >= 2 and all(p.is_file() for p in pages), (report, pages)


@pytest.mark.parametrize("identity, corrupt_sql", [
    ("identity_1", "update kpi_build.tthc_report set received_online = received_online + 1 "
                   "where ctid = (select ctid from kpi_build.tthc_report where field_code = '*' limit 1)"),
    ("identity_4", "update kpi_build.tthc_report set pending_on_time = pending_on_time + 1, "
                   "pending_total = pending_total + 1 "
                   "where ctid = (select ctid from kpi_build.tthc_report where period_type = 'month' limit 1)"),
])
def test_a_candidate_breaking_an_identity_is_not_published(published, sources, identity, corrupt_sql):
    before = kpi_snapshot()
    with connect() as conn:
        publications = conn.execute("select count(*) from kpi.publications").fetchone()[0]
    run_id = f"wap-broken-{identity}"
    with pytest.raises(pipeline.PipelineError) as failure:
        run_steps(run_id, sources, corrupt_sql, full_rebuild=True)
    assert failure.value.step == "gate_marts"
    assert f"tthc_report.{identity}" in str(failure.value)
    assert kpi_snapshot() == before
    with connect() as conn:
        assert conn.execute("select count(*) from kpi.publications").fetchone()[0] == publications
        assert conn.execute("select count(*) from pg_namespace where nspname like 'kpi\\_pub\\_%'").fetchone()[0] \
            == publications, "no schema for the refused candidates"
        status, message = conn.execute(
            "select status, message from ops.pipeline_steps where run_id = %s and step = 'gate_marts'",
            (run_id,)).fetchone()
        assert status == "failed" and identity in message
        failed = conn.execute("select count(*) from ops.validation_results where run_id = %s "
                              "and not success", (run_id,)).fetchone()[0]
        assert failed >= 1
    # the refused publication's Data Docs are built before the failure is raised
    from cchc.paths import state_dir

    report = state_dir() / "gx" / "reports" / f"gate-publication-{run_id}.html"
    pages = linked_data_docs(str(report))
    assert len(pages) >= 2 and all(p.is_file() for p in pages), pages


def test_a_second_clean_run_publishes_the_same_rows_and_a_rollback_restores_the_first(published, sources):
    with connect() as conn:
        conn.execute("create view public.bi_province_months as select unit_id, period_start, on_time_rate "
                     "from kpi.tthc_report where period_type = 'month' and field_code = '*'")
        conn.commit()
        first = kpi_checksums(conn)
        bi_first = conn.execute("select * from public.bi_province_months order by 1, 2").fetchall()
    assert set(first) >= {"tthc_report", "dossier_facts_daily"} and bi_first
    second = run_steps("wap-2", sources, full_rebuild=True)
    assert second["publication_id"] != published["publication_id"]
    with connect() as conn:
        assert kpi_checksums(conn) == first, "the same data rebuilt publishes the same rows"
        assert conn.execute("select distinct publication_id from kpi.tthc_report").fetchall() == \
            [(second["publication_id"],)]
        conn.commit()  # rollback runs its own transactions
        pub = rollback(conn, by="test", reason="compare")
        assert pub.publication_id == published["publication_id"]
        assert pub.rolled_back_from == second["publication_id"]
        assert kpi_checksums(conn) == first
        assert conn.execute("select * from public.bi_province_months order by 1, 2").fetchall() == bi_first
        assert conn.execute("select distinct publication_id from kpi.tthc_report").fetchall() == \
            [(published["publication_id"],)]


def test_publish_refuses_candidates_built_for_another_publication(published, sources):
    plan = pipeline.plan_run(start=START.isoformat(), end=END.isoformat(), run_id="wap-stale",
                             source={"source_dir": str(sources)}, full_rebuild=True)
    try:
        pipeline.build(plan)
    finally:
        release_run_lock("wap-stale")
    before = kpi_snapshot()
    with connect() as conn, pytest.raises(PublishError, match="not built for publication"):
        publish(conn, publication_id=plan["publication_id"] + 1000, as_of_date=END, run_id="wap-stale",
                checks_evaluated=1, checks_failed=0, validation_report=None)
    assert kpi_snapshot() == before
