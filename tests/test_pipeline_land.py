"""The land step over a date range: systems a source does not deliver, and incomplete days."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

from cchc import pipeline
from cchc_demo.simulator import SimulatorConfig, generate
from cchc.warehouse import connect

START, END = dt.date(2025, 6, 9), dt.date(2025, 6, 11)


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("land_sources")
    generate(root, SimulatorConfig(start=START, end=END, seed=5, dossiers_per_day=20,
                                   documents_per_day=10))
    return root


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("CCHC_PSEUDONYM_KEY", "land-test-key-0123456789")


@pytest.fixture(autouse=True)
def run_lock(warehouse_db):
    """Each test plans its own run and stops after landing: release its run lock afterwards (a run
    that publishes releases it itself)."""
    yield
    from cchc.runlock import release

    with connect() as conn:
        for (run_id,) in conn.execute("select run_id from ops.pipeline_steps where step = 'plan'").fetchall():
            release(conn, run_id)
        conn.commit()


def plan(root, run_id, start=START, end=END):
    return pipeline.plan_run(start=start.isoformat(), end=end.isoformat(), run_id=run_id,
                             source={"source_dir": str(root)})


def test_a_source_without_an_edoc_folder_lands_the_one_stop_system(warehouse_db, sources, tmp_path):
    onestop_only = tmp_path / "onestop_only"
    for system in ("onestop", "reference"):
        shutil.copytree(sources / system, onestop_only / system)
    landed = pipeline.land(plan(onestop_only, "land-onestop-only"))
    assert landed["new_batches"] == 3 * 7 and landed["landed"] > 0  # units, procedures, targets, dossiers, steps, feedback, ratings
    with connect() as conn:
        systems = {r[0] for r in conn.execute("select distinct system from raw.load_batches")}
        steps = conn.execute("select details from ops.pipeline_steps where run_id = 'land-onestop-only' "
                             "and step = 'extract_and_land'").fetchone()[0]
    assert systems == {"onestop", "reference"}
    assert steps["systems_absent"] == ["edoc"]


def test_a_source_without_reference_lists_is_refused_clearly(warehouse_db, sources, tmp_path):
    no_reference = tmp_path / "no_reference"
    shutil.copytree(sources / "onestop", no_reference / "onestop")
    with pytest.raises(pipeline.PipelineError, match="no 'reference' folder"):
        pipeline.land(plan(no_reference, "land-no-reference"))


def test_an_incomplete_day_is_refused_and_the_other_days_land(warehouse_db, sources, tmp_path):
    partial = tmp_path / "partial"
    shutil.copytree(sources, partial)
    (partial / "edoc" / START.isoformat() / "_manifest.json").unlink()
    landed = pipeline.land(plan(partial, "land-partial"))
    assert len(landed["refused"]) == 1
    assert "_manifest.json" in landed["refused"][0] and START.isoformat() in landed["refused"][0]
    with connect() as conn:
        later = conn.execute("select count(*) from raw.load_batches where system = 'edoc' "
                             "and status = 'landed' and source_day > %s", (START,)).fetchone()[0]
        refused = conn.execute("select count(*) from raw.load_batches where system = 'edoc' "
                               "and status = 'refused' and source_day = %s", (START,)).fetchone()[0]
    assert later == 2 and refused == 1
