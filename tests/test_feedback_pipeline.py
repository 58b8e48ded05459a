"""End to end: the pipeline (``cchc.pipeline.run_in_process``) over simulated days lands, gates, merges
and stages the feeds of issue 7 — first from an older exporter that did not carry them, then from
one that does — and publishes complete through the last day, in both delivery modes."""

from __future__ import annotations

import datetime as dt
import shutil

import psycopg
import pytest

from cchc_demo.simulator import SimulatorConfig, generate, serve
from cchc.transform.dbt_runner import dbt_work_dir

START, CUT, END = dt.date(2025, 6, 2), dt.date(2025, 6, 4), dt.date(2025, 6, 6)
KEY = "issue7-e2e-key-0123456789"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("issue7_sources")
    generate(root, SimulatorConfig(start=START, end=END, seed=17, dossiers_per_day=40, documents_per_day=10,
                                   bad_rate=0.02, added_feeds_from=CUT))
    return root


def run(monkeypatch, url, run_id, start, end, source):
    from cchc import pipeline

    monkeypatch.setenv("CCHC_WAREHOUSE_URL", url)
    monkeypatch.setenv("CCHC_PSEUDONYM_KEY", KEY)
    return pipeline.run_in_process(run_id=run_id, start=start.isoformat(), end=end.isoformat(), source=source)


def batches(url):
    with psycopg.connect(url) as conn:
        return conn.execute("select feed, source_day, status, disposition from raw.load_batches "
                            "where feed in ('feedback', 'ratings', 'targets') order by feed, source_day").fetchall()


def test_pipeline_lands_the_new_feeds_from_the_day_they_appear(warehouse_db, sources, monkeypatch):
    out = run(monkeypatch, warehouse_db, "issue7-e2e-1", START, END, {"source_dir": str(sources)})
    assert out["publication_id"] and out["as_of_date"] == END.isoformat() and not out["missing_days"]
    days = [CUT + dt.timedelta(days=i) for i in range((END - CUT).days + 1)]
    assert batches(warehouse_db) == [(feed, d, "landed", "in_force") for feed in ("feedback", "ratings", "targets")
                                     for d in days]
    with psycopg.connect(warehouse_db) as conn:
        n = {t: conn.execute(f"select count(*) from stg.{t}").fetchone()[0]
             for t in ("stg_onestop__feedback", "stg_onestop__ratings", "stg_reference__targets")}
        assert all(n.values()), n
        orphans = conn.execute("select count(*) from stg.stg_onestop__ratings r where not exists "
                               "(select 1 from stg.stg_onestop__dossiers d where d.dossier_id = r.dossier_id)"
                               ).fetchone()[0]
        assert orphans == 0  # every simulated vote is on a simulated dossier
        unknown_units = conn.execute("select count(*) from stg.stg_onestop__feedback f where not exists "
                                     "(select 1 from stg.stg_reference__units u where u.unit_id = f.unit_id)"
                                     ).fetchone()[0]
        assert unknown_units == 0
        pub = conn.execute("select as_of_date, missing_days from kpi.publications where is_current").fetchone()
        assert pub[0] == END and not pub[1]
    again = run(monkeypatch, warehouse_db, "issue7-e2e-again", START, END, {"source_dir": str(sources)})
    assert again.get("skipped") and again["publication_id"] == out["publication_id"]  # nothing new


def test_the_same_days_through_the_api(server_url, server_admin_url, sources, monkeypatch):
    import uuid

    from cchc.warehouse import create_database, drop_database, url_parts, with_database

    name = f"cchc_test_issue7_api_{uuid.uuid4().hex[:8]}"
    create_database(server_admin_url, name, owner=url_parts(server_url)["user"])
    url = with_database(server_url, name)
    server = serve(sources, token="e2e-token")
    try:
        monkeypatch.setenv("CCHC_SOURCE_TOKEN", "e2e-token")
        out = run(monkeypatch, url, "issue7-e2e-api", START, END, {"source_url": server.url})
        assert out["publication_id"] and out["as_of_date"] == END.isoformat() and not out["missing_days"]
        days = [CUT + dt.timedelta(days=i) for i in range((END - CUT).days + 1)]
        assert batches(url) == [(feed, d, "landed", "in_force") for feed in ("feedback", "ratings", "targets")
                                for d in days]  # the days before CUT: 404, not delivered, not refused
    finally:
        server.shutdown()
        drop_database(server_admin_url, name)
        shutil.rmtree(dbt_work_dir(url), ignore_errors=True)
