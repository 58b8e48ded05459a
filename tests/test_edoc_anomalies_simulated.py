"""E-document checks on simulated data: every numbering gap and duplicate the simulator injected
(its ground truth ``_simulator/numbering_anomalies.json``) is found by fct_document_anomalies, and
nothing else is; clean simulated documents raise no signature-order finding; the working days from
signing to dispatch agree with the Python calendar (an independent implementation).

Real everything: simulator export files → cchc.land.land_day → raw → `dbt build`.
"""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from cchc import pipeline
from cchc_demo.working_days import working_days_between
from cchc.extract import FileSource
from cchc.land import land_day
from cchc_demo.simulator import SimulatorConfig, generate
from cchc.transform import build
from cchc.warehouse import connect

START, END = dt.date(2025, 6, 2), dt.date(2025, 6, 13)  # two working weeks
KIND = {"gap": "numbering_gap", "duplicate": "numbering_duplicate"}


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> tuple:
    root = tmp_path_factory.mktemp("edoc_sources")
    cfg = SimulatorConfig(start=START, end=END, seed=30, documents_per_day=60,
                          numbering_anomaly_rate=0.02, systems=("edoc", "reference"))
    generate(root, cfg)
    injected = json.loads((root / "_simulator" / "numbering_anomalies.json").read_text(encoding="utf-8"))
    return root, injected


@pytest.fixture(scope="module")
def built(warehouse_db, simulated):
    root, _ = simulated
    source = FileSource(root)
    for i in range((END - START).days + 1):
        day = START + dt.timedelta(days=i)
        result = land_day(warehouse_db, source, day, feeds=["units", "documents"],
                          pseudonym_key=b"test-key-not-secret-0123456789", run_id="test_edoc_sim")
        assert not result.refused, result.summary()
    gated = pipeline.gate_batches({"run_id": "test_edoc_sim"})  # the real batch gate: into force
    assert not gated["blocked"], gated["blocked"]
    t0 = time.monotonic()
    build(warehouse_db, as_of_date=END, publication_id=7, run_id="test_edoc_sim")
    print(f"dbt build: {time.monotonic() - t0:.1f}s")
    return warehouse_db


def rows(url: str, query: str, *params) -> list[tuple]:
    with connect(url) as conn:
        return conn.execute(query, params).fetchall()


def test_simulator_injected_both_kinds(simulated):
    _, injected = simulated
    assert {a["kind"] for a in injected} == {"gap", "duplicate"}


def test_every_injected_numbering_anomaly_is_found_and_nothing_else(built, simulated):
    _, injected = simulated
    expected = {(KIND[a["kind"]], a["OrganId"], int(a["year"]), int(a["CodeNumber"])) for a in injected}
    found = set(rows(built, "select anomaly_kind, organ_id, numbering_year, code_number "
                            "from marts.fct_document_anomalies where anomaly_group = 'numbering'"))
    assert expected <= found, f"not found: {sorted(expected - found)}"
    assert found == expected, f"found but not injected: {sorted(found - expected)}"


def test_clean_documents_raise_no_signature_order_finding(built):
    assert rows(built, "select anomaly_kind, document_id, detail from marts.fct_document_anomalies "
                       "where anomaly_group = 'signature_order'") == []


def test_dispatch_working_days_agree_with_the_python_calendar(built):
    docs = rows(built, "select document_id, signed_at, dispatched_at, dispatch_working_days, "
                       "dispatched_within_one_working_day from marts.fct_documents "
                       "where dispatch_working_days is not null")
    assert len(docs) > 100
    late = 0
    for doc_id, signed, dispatched, days, within in docs:
        assert days == working_days_between(signed.date(), dispatched.date()), doc_id
        assert within == (0 <= days <= 1), doc_id
        late += days > 1
    assert late > 0  # the simulator dispatches some documents late
    findings = rows(built, "select count(*) from marts.fct_document_anomalies where anomaly_kind = 'late_dispatch'")
    assert findings[0][0] == late


def test_published_tables_are_built(built):
    month = rows(built, "select sum(outgoing_documents), sum(issued_electronically), sum(fully_signed) "
                        "from kpi_build.esignature_usage where period_type = 'month' "
                        "and period_start = date '2025-06-01' and unit_id = '000.00.00.H99'")
    units = rows(built, "select sum(outgoing_documents) from marts.fct_esignature_daily "
                        "where date_day between date '2025-06-01' and date '2025-06-13'")
    assert month[0][0] == units[0][0] > 0  # the province's row rolls up every unit
    assert month[0][0] > month[0][1] > month[0][2] > 0
    leaders = rows(built, "select count(*) from kpi_build.leader_paper_documents")
    assert leaders[0][0] > 0  # the simulator's paper laggards include leaders' documents
