"""`make bench` at a tiny size: the synthesis goes through the real pipeline, and the results files
carry every figure the issue sets a target for (no timing is asserted: speed targets are the
bench's, not the tests')."""

from __future__ import annotations

import json

import pytest

from benchmarks import run

pytestmark = pytest.mark.slow

TINY = ["--sizes", "200,400", "--history-days", "12", "--night-changes", "150", "--backfill-days", "3",
        "--backfill-per-day", "15", "--backfill-dense", "2x40", "--ingest-lines", "300", "--reader-units", "12", "--reader-years", "1",
        "--reader-repetitions", "10", "--no-parse"]


@pytest.fixture(scope="module")
def results(tmp_path_factory, monkeypatch_module):
    out = tmp_path_factory.mktemp("bench")
    monkeypatch_module.setenv("CCHC_PSEUDONYM_KEY", "bench-smoke-test-key-0123456789")
    run.main([*TINY, "--out", str(out)])
    return out, json.loads((out / "results.json").read_text())


def test_every_target_has_a_figure(results):
    out, data = results
    figures = {f["key"]: f for f in data["figures"]}
    assert set(figures) == set(run.TARGETS)
    for key, f in figures.items():
        assert f["target"] and f["comparison"] in ("<=", ">=", ">") and f["unit"], key
        if f["value"] is None:  # only an extrapolation may be unknown (no positive slope at tiny sizes)
            assert f["measured_at"] == "extrapolated" and f["met"] is None, key
            continue
        if key == "peak_rss_postgres_process_mib":  # the embedded server runs here: it is sampled
            assert f["value"] > 0 and data["memory"]["server_sampled"], data["memory"]
        assert isinstance(f["value"], (int, float)), key
        assert f["met"] in (True, False), key
        assert (f["missed_by"] is None) == f["met"], key
    text = (out / "results.md").read_text()
    for f in figures.values():
        assert f["label"] in text
    for key in ("nproc", "ram_gib", "cpu_model"):
        assert data["machine"][key]
    for key in ("python", "postgresql", "dbt_core", "great_expectations", "airflow"):
        assert data["versions"][key]
    assert data["date"]


def test_the_night_went_through_the_pipeline(results):
    _, data = results
    for size in data["sizes"]:
        night = size["nightly"]
        assert set(run.STEP_ORDER) <= set(night["steps"])
        assert night["rows_landed"] > 0 and night["rows_published"] > 0
        assert night["as_of_date"] == "2024-07-03"
        assert night["state_merge"]["onestop__dossiers"]["mode"] == "incremental"
        # the run parameters do not go through --vars: the night's build never re-parses for them
        # (a project file edited while the bench runs would, and is named in the reasons)
        assert not [r for r in night["dbt_full_parse_reasons"] if "vars" in r], night["dbt_full_parse_reasons"]
        assert size["nothing_new"]["skipped"]  # the same delivery again publishes nothing
        assert size["dossiers_in_state"] >= size["history"]["dossiers"]
    assert data["backfill"]["dossiers"] > 0
    # the 1.5M backfill figure rests on two measured backfills: many days of few rows, few of many
    dense, sparse = data["backfill_dense"], data["backfill"]
    assert dense["days"] == 2 and dense["dossiers_per_day"] == 40 and dense["run"]["publication_id"]
    assert dense["rows_landed"] / dense["days"] > sparse["rows_landed"] / sparse["days"]
    fit = data["extrapolation"]["backfill_land_fit"]
    assert fit["per_day_s"] >= 0 and fit["per_row_us"] >= 0
    assert [p["days"] for p in fit["points"]] == [3, 2]
    assert data["ingest"]["copied"] and set(data["ingest"]["copied"].values()) == {data["ingest"]["rows"]}
    assert data["readers"]["unit_month"]["repetitions"] == 10
