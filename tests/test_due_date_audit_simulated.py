"""The due-date audit finds exactly the wrong due dates the simulator injected.

The simulator records, for a few dossiers, a due date some working days later or earlier than the
statutory one (SimulatorConfig.due_later_rate / due_earlier_rate); its ground truth is
cchc_demo.simulator.dossiers.wrong_due_dates (re-derived from the config; the pipeline never reads it).
The sources go through the real pipeline (land, batch gate, dbt build, publication gate, publish)
and kpi.due_date_audit must list exactly those dossiers, each with its shift as
working_days_difference; kpi.due_date_audit_monthly counts them per unit and month.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter

import psycopg
import pytest

from cchc_demo.simulator import SimulatorConfig, generate
from cchc_demo.simulator.dossiers import wrong_due_dates

START, END = dt.date(2025, 5, 5), dt.date(2025, 5, 30)
CFG = SimulatorConfig(start=START, end=END, seed=909, dossiers_per_day=60, documents_per_day=5, bad_rate=0.0)


@pytest.fixture(scope="module")
def published(warehouse_db, tmp_path_factory, monkeypatch_module):
    from cchc import pipeline

    root = tmp_path_factory.mktemp("due_sources")
    generate(root, CFG)
    monkeypatch_module.setenv("CCHC_PSEUDONYM_KEY", "due-date-audit-key-0123456789")
    monkeypatch_module.setenv("CCHC_BULLETIN_DIR", str(tmp_path_factory.mktemp("due_bulletin")))
    out = pipeline.run_in_process(run_id=f"due-audit-{uuid.uuid4().hex[:6]}", start=START.isoformat(),
                                  end=END.isoformat(), source={"source_dir": str(root)})
    assert out["publication_id"], out
    return warehouse_db


def query(url: str, sql: str, params=()) -> list[dict]:
    with psycopg.connect(url) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute(sql, params).fetchall()


def test_the_ground_truth_is_a_realistic_share():
    truth = wrong_due_dates(CFG)
    assert truth == wrong_due_dates(CFG)  # deterministic
    later = sum(1 for v in truth.values() if v > 0)
    earlier = sum(1 for v in truth.values() if v < 0)
    assert later > 2 * earlier > 0, truth
    assert all(1 <= v <= CFG.due_error_max_working_days or v in (-1, -2) for v in truth.values())
    assert later + earlier == len(truth)


def test_the_audit_finds_exactly_the_injected_due_dates(published):
    truth = wrong_due_dates(CFG)
    rows = query(published, "select dossier_code, working_days_difference, due_at, statutory_due_at"
                            " from kpi.due_date_audit")
    found = {r["dossier_code"]: r["working_days_difference"] for r in rows}
    assert set(found) == set(truth), (sorted(set(found) - set(truth)), sorted(set(truth) - set(found)))
    assert found == truth  # each with its shift, in working days
    assert all((r["due_at"] > r["statutory_due_at"]) == (truth[r["dossier_code"]] > 0) for r in rows)
    # a realistic share of the received dossiers: ~3 % later, ~1 % earlier
    received = query(published, "select count(*) as n from marts.fct_dossiers where is_in_report")[0]["n"]
    assert 0.02 <= len(truth) / received <= 0.07, (len(truth), received)


def test_the_monthly_summary_counts_them(published):
    truth = wrong_due_dates(CFG)
    units = {r["dossier_code"]: (r["month"], r["unit_id"])
             for r in query(published, "select dossier_code, month, unit_id from kpi.due_date_audit")}
    later = Counter(units[c] for c, v in truth.items() if v > 0)
    earlier = Counter(units[c] for c, v in truth.items() if v < 0)
    hidden_days = Counter()
    for c, v in truth.items():
        if v > 0:
            hidden_days[units[c]] += v
    rows = query(published, "select m.* from kpi.due_date_audit_monthly m join kpi.units u using (unit_id)"
                            " where not u.is_province")
    assert rows
    for r in rows:
        key = (r["month"], r["unit_id"])
        assert (r["due_later_than_law"], r["due_earlier_than_law"], r["hidden_working_days"]) \
            == (later[key], earlier[key], hidden_days[key]), key
        assert r["due_dates_differing"] == later[key] + earlier[key]
    # the province's roll-up: every injected error, and the statutory late figures reconcile
    province = query(published, "select sum(due_dates_differing) as n, sum(late_total_statutory) as s,"
                                " sum(late_total_report + hidden_late - late_not_by_statutory) as r"
                                " from kpi.due_date_audit_monthly m join kpi.units u using (unit_id)"
                                " where u.is_province")[0]
    assert province["n"] == len(truth) and province["s"] == province["r"]
    # later due dates hide lateness somewhere in the province
    assert query(published, "select coalesce(sum(hidden_late), 0) as h from kpi.due_date_audit_monthly m"
                            " join kpi.units u using (unit_id) where u.is_province")[0]["h"] > 0


def test_missing_apology_slips_follow_the_configured_share():
    """A late dossier gets its slip with apology_share (0.85): some late dossiers lack one, most do not."""
    from cchc_demo.simulator.dossiers import DossierSimulator

    none = DossierSimulator(SimulatorConfig(start=START, end=START + dt.timedelta(days=6), seed=5,
                                            dossiers_per_day=60, apology_share=0.0))
    every = DossierSimulator(SimulatorConfig(start=START, end=START + dt.timedelta(days=6), seed=5,
                                             dossiers_per_day=60, apology_share=1.0))
    slips = []
    for sim in (none, every):
        lines = [line for day in sim.cfg.days() for line in sim.day(day)[0]]
        slips.append(sum('"NgayXinLoi"' in line for line in lines))
    assert slips[0] == 0 < slips[1]
