"""Targets are data: changing one target row and rerunning changes `attained` for that unit and
indicator, and nothing else in the publication candidates (every kpi_build table compared row by
row before and after). The scenario is test_indicators_build's (see its docstring)."""

from __future__ import annotations

import shutil
from decimal import Decimal

import psycopg
import pytest

from cchc.raw.schema import ensure_raw_schema
from cchc.transform.dbt_runner import build, dbt_work_dir
from test_indicators_build import AS_OF, PUBLICATION_ID, RUN_ID, TARGETS, X, land, land_scenario, target


def snapshot(url: str) -> dict[str, set[str]]:
    """Every kpi_build table as a set of rows (each row as its JSON text)."""
    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'kpi_build'"
            " and table_type = 'BASE TABLE' order by 1")]
        return {t: {r[0] for r in conn.execute(f"select to_jsonb(t)::text from kpi_build.{t} as t")}
                for t in tables}


@pytest.fixture(scope="module")
def before_and_after(warehouse_db):
    with psycopg.connect(warehouse_db) as conn:
        ensure_raw_schema(conn)
        land_scenario(conn)
    build(warehouse_db, AS_OF, publication_id=PUBLICATION_ID, run_id=RUN_ID)
    before = snapshot(warehouse_db)
    # the targets list of 2024-06-30: the same rows but X's own online_dossiers_share target, 0.6 -> 0.5
    revised = [t if not (t["UnitId"] == X and t["IndicatorCode"] == "online_dossiers_share")
               else target(X, "XA", "online_dossiers_share", 0.5) for t in TARGETS]
    assert revised != TARGETS
    with psycopg.connect(warehouse_db) as conn:
        land(conn, "reference", "targets", "2024-06-30", revised)
    build(warehouse_db, AS_OF, publication_id=PUBLICATION_ID, run_id=RUN_ID)
    after = snapshot(warehouse_db)
    yield warehouse_db, before, after
    shutil.rmtree(dbt_work_dir(warehouse_db), ignore_errors=True)


def test_one_target_row_changes_only_that_unit_and_indicator(before_and_after):
    url, before, after = before_and_after
    assert set(before) == set(after)
    assert {"dx_indicators", "service_index", "late_accountability", "tthc_report"} <= set(before)
    changed = {t for t in before if before[t] != after[t]}
    assert changed == {"dx_indicators"}, changed

    import json
    gone = [json.loads(r) for r in before["dx_indicators"] - after["dx_indicators"]]
    new = [json.loads(r) for r in after["dx_indicators"] - before["dx_indicators"]]
    assert gone and len(gone) == len(new)
    assert {(r["unit_id"], r["indicator_code"]) for r in gone + new} == {(X, "online_dossiers_share")}
    # only the target and what follows from it changed
    key = ("period_type", "period_start", "unit_id", "scope", "indicator_code")
    old_by_key = {tuple(r[k] for k in key): r for r in gone}
    flipped = 0
    for r in new:
        old = old_by_key[tuple(r[k] for k in key)]
        diff = {k for k in r if r[k] != old[k]}
        assert diff <= {"target", "target_status", "attained"}, diff
        assert (Decimal(str(old["target"])), Decimal(str(r["target"]))) == (Decimal("0.6"), Decimal("0.5"))
        if old["attained"] != r["attained"]:
            flipped += 1
            # March (and every 2024 period containing it): 5/9 = 0.556 is now above the target
            assert (old["attained"], r["attained"]) == (False, True)
    assert flipped == 4  # March, Q1, H1 and 2024 (5/9 each); X received nothing in other months
