"""Docs for engineers (issue 8, part 5): the gate's GX Data Docs render offline, and `cchc docs`
writes dbt docs of the warehouse in use. Real GX validations, real dbt, real headless Chromium."""

from __future__ import annotations

import json
import uuid

import pytest

from cchc.quality import run_gate
from cchc.quality.offline_docs import CDN_ASSETS, remote_assets
from cchc.reports import browser
from test_bulletin import chromium  # noqa: F401  (the fixture: Debian's chromium, installed when missing)


@pytest.fixture(scope="module")
def data_docs(published_warehouse, tmp_path_factory):
    """A real publication gate's Data Docs: two suites on the current publication's tables."""
    import psycopg

    url = published_warehouse["url"]
    with psycopg.connect(url) as conn:
        schema = conn.execute("select 'kpi_pub_' || publication_id from kpi.publications where is_current").fetchone()[0]
    result = run_gate(url, ["units", "late_accountability"], schema_map={"kpi": schema},
                      run_id=f"docs-{uuid.uuid4().hex[:6]}", report_dir=tmp_path_factory.mktemp("gx"),
                      report_name="gate-docs")
    assert result.success, result.failures
    assert result.data_docs_path and result.data_docs_path.exists()
    return result


def test_data_docs_load_no_asset_from_the_network(data_docs):
    site = data_docs.data_docs_path.parent
    pages = sorted(site.rglob("*.html"))
    assert len(pages) >= 3  # the index, the suites, the validations
    for page in pages:
        assert remote_assets(page.read_text(encoding="utf-8")) == [], page
    # the stylesheets and scripts are there, beside the pages
    vendored = site / "static" / "cchc"
    for local in set(CDN_ASSETS.values()):
        assert (vendored / local).is_file(), local
    index = data_docs.data_docs_path.read_text(encoding="utf-8")
    assert "static/cchc/css/bootstrap.min.css" in index and "static/cchc/js/jquery.min.js" in index


def test_data_docs_render_offline_in_headless_chromium(data_docs, chromium, tmp_path):  # noqa: F811
    page = data_docs.data_docs_pages["units"]
    dom = browser.render(page, dump_dom=True, chromium=chromium)
    assert dom.requests == [], dom.requests  # nothing asked the network
    # the scripts ran: bootstrap-table wrapped the tables, the validation's checks are listed
    assert "bootstrap-table" in dom.stdout and "fixed-table-container" in dom.stdout
    assert "same_units_as_dim_unit" in dom.stdout or "unit_id" in dom.stdout
    index = browser.render(data_docs.data_docs_path, dump_dom=True, chromium=chromium)
    assert index.requests == [] and "units" in index.stdout
    shot = browser.render(page, screenshot=tmp_path / "validation.png", window=(1200, 900), chromium=chromium)
    assert shot.requests == [] and (tmp_path / "validation.png").stat().st_size > 20_000


def test_cchc_docs_writes_dbt_docs_of_the_warehouse_in_use(published_warehouse, tmp_path, monkeypatch, capsys):
    from cchc.cli import main

    monkeypatch.setenv("CCHC_WAREHOUSE_URL", published_warehouse["url"])  # nothing else is set by hand
    out = tmp_path / "dbt-docs"
    assert main(["docs", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert str(out / "index.html") in printed and f"as of {published_warehouse['as_of_date']}" in printed
    for name in ("index.html", "static_index.html", "catalog.json", "manifest.json"):
        assert (out / name).is_file() and (out / name).stat().st_size > 1000, name
    catalog = json.loads((out / "catalog.json").read_text())
    # the catalog was read from this warehouse: the marts exist there, with their columns
    dim_unit = catalog["nodes"]["model.cchc.dim_unit"]
    assert dim_unit["metadata"]["schema"] == "marts" and "parent_unit_id" in dim_unit["columns"]
    manifest = json.loads((out / "manifest.json").read_text())
    exposures = {e["name"] for e in manifest["exposures"].values()}
    assert exposures == {"bi_logins", "kpi_api", "provincial_department_pull", "report_files", "bulletin"}
    units = manifest["nodes"]["model.cchc.units"]
    assert units["description"] and all(c["description"] for c in units["columns"].values())
    assert "Kind of period" in manifest["nodes"]["model.cchc.tthc_report"]["columns"]["period_type"]["description"]
    # make run (cchc demo) refreshes them after its run: not again for the same publication
    from cchc.transform.docs import refresh_docs

    before = (out / "catalog.json").stat().st_mtime_ns
    assert refresh_docs(out, published_warehouse["url"]) is None
    assert (out / "catalog.json").stat().st_mtime_ns == before


def test_a_gate_reuses_its_stored_configuration_until_a_suite_changes(published_warehouse, tmp_path):
    """The publication gate's GX configuration (assets, suites, validation definitions, checkpoint)
    is written once and reused while the suites are the same; another gate's configuration lives
    beside it; an edited suite is configured again and its new check is the one that runs. With
    ``data_docs=False`` the pages come later, from build_data_docs, where the report links them."""
    import shutil

    import psycopg

    from cchc.paths import EXPECTATIONS_DIR
    from cchc.quality import build_data_docs

    url = published_warehouse["url"]
    with psycopg.connect(url) as conn:
        schema = conn.execute("select 'kpi_pub_' || publication_id from kpi.publications where is_current").fetchone()[0]
    suites_dir = tmp_path / "expectations"
    shutil.copytree(EXPECTATIONS_DIR, suites_dir)
    report_dir = tmp_path / "gx"

    def gate(suites, run_id, **kw):
        return run_gate(url, suites, schema_map={"kpi": schema}, run_id=run_id, report_dir=report_dir,
                        suites_dir=suites_dir, report_name="gate-reuse", **kw)

    first = gate(["units", "late_accountability"], "reuse-1")
    other = gate(["service_index"], "reuse-2")
    again = gate(["units", "late_accountability"], "reuse-3", data_docs=False)
    assert first.success and other.success and again.success, (first.failures, other.failures, again.failures)
    assert "configuration_reused" not in first.timings and "configuration_reused" not in other.timings
    assert again.timings.get("configuration_reused") == 1.0, again.timings
    assert [(c.suite, c.name, c.success) for c in again.results_by_suite["units"]] == \
        [(c.suite, c.name, c.success) for c in first.results_by_suite["units"]]
    # deferred Data Docs: not there yet, then built where the report links them
    assert again.data_docs_pages and not any(p.exists() for p in again.data_docs_pages.values())
    index = build_data_docs(report_dir, ["reuse-3"])
    assert index == again.data_docs_path and index.is_file()
    assert all(p.is_file() for p in again.data_docs_pages.values())
    assert build_data_docs(report_dir, ["no-such-run"]) is None

    units = suites_dir / "units.yml"
    text = units.read_text()
    assert "name: not_empty\n    kwargs: {min_value: 1}" in text
    units.write_text(text.replace("kwargs: {min_value: 1}", "kwargs: {min_value: 1000000000}"))
    edited = gate(["units", "late_accountability"], "reuse-4")
    assert "configuration_reused" not in edited.timings
    assert not edited.success and [f.split(":", 1)[0] for f in edited.failures] == ["units.not_empty"]
    assert gate(["service_index"], "reuse-5").timings.get("configuration_reused") == 1.0  # the other gate's stays
