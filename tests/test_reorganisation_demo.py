"""The demo province across the 1/7/2025 reorganisation (issue 9, part 7): the simulator's sources
for 15 June – 15 July 2025 (districts and 18 communes valid to 30 June, seven merged communes from
1 July, SuccessorId), through the real pipeline (land, batch gate, dbt build, publication gate,
publish), read from the published `kpi` views.

Checked: identity 5 for every unit and its successor across the date (the July carried_over of a
new commune = the sum of its predecessors' June pending_total, per field; and every row of every
period type through the map), no old unit after its last day, the province totals equal under both
maps for every period and field, and the restated June row of each new commune = the sum of its
old units' June rows.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from collections import defaultdict

import pytest
from test_dbt_report import COUNTS
from test_reorganisation_scenarios import (
    check_identity_5_through_map,
    check_province_totals_equal,
    counts,
    report,
    unit_map,
)

from cchc.simulator import SimulatorConfig, generate
from cchc.simulator.province import PROVINCE_ID, REFORM_DAY, units
from cchc.transform.dbt_runner import dbt_work_dir
from cchc.warehouse import create_database, drop_database, url_parts, with_database

pytestmark = pytest.mark.slow

START, END = dt.date(2025, 6, 15), dt.date(2025, 7, 15)
JUNE, JULY = dt.date(2025, 6, 1), dt.date(2025, 7, 1)
SUCCESSOR = {u.unit_id: u.successor_id for u in units() if u.successor_id}


@pytest.fixture(scope="module")
def published(server_url, server_admin_url, tmp_path_factory):
    from cchc import pipeline

    name = f"cchc_reorg_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    create_database(server_admin_url, name, owner=url_parts(server_url)["user"])
    url = with_database(server_url, name)
    root = tmp_path_factory.mktemp("reorganisation_sources")
    generate(root, SimulatorConfig(start=START, end=END, seed=5, dossiers_per_day=40, documents_per_day=5,
                                   bad_rate=0.0))
    mp = pytest.MonkeyPatch()
    mp.setenv("CCHC_WAREHOUSE_URL", url)
    mp.setenv("CCHC_PSEUDONYM_KEY", "reorganisation-tests-key-0123456789")
    mp.setenv("CCHC_BULLETIN_DIR", str(tmp_path_factory.mktemp("reorganisation_bulletin")))
    try:
        out = pipeline.run_in_process(run_id=f"reorg-{uuid.uuid4().hex[:6]}", start=START.isoformat(),
                                      end=END.isoformat(), source={"source_dir": str(root)})
    finally:
        mp.undo()
    assert out["publication_id"], out
    assert str(out["as_of_date"]) == END.isoformat(), out
    yield {"url": url, "in_force": report(url, "tthc_report", "kpi"),
           "current": report(url, "tthc_report_current_map", "kpi")}
    drop_database(server_admin_url, name)
    shutil.rmtree(dbt_work_dir(url), ignore_errors=True)


def test_successors_carry_over_their_predecessors_june_pending(published):
    rows = published["in_force"]
    predecessors = defaultdict(set)
    for old, new in SUCCESSOR.items():
        predecessors[new].add(old)
    assert len(predecessors) == 7
    fields = {k[3] for k in rows}
    carried_total = 0
    for new, olds in predecessors.items():
        for field in fields:
            june = sum(counts(rows.get(("month", JUNE, u, field)))["pending_total"] for u in olds)
            july = rows.get(("month", JULY, new, field))
            assert counts(july)["carried_over"] == june, (new, field)
            carried_total += june if field == "*" else 0
        # the new commune did not exist in June
        assert ("month", JUNE, new, "*") not in rows
    assert carried_total > 20  # dossiers open across the date, in every kind of old unit


def test_identity_5_through_the_map_for_every_row(published):
    moved = check_identity_5_through_map(published["in_force"], unit_map(published["url"]))
    assert moved >= 7 * 5  # each new commune, in its day, week, month, quarter and half year


def test_no_old_unit_after_its_last_day(published):
    for (pt, ps, u, _f), r in published["in_force"].items():
        if u in SUCCESSOR:
            assert r["period_end"] < REFORM_DAY, (pt, ps, u)


def test_province_totals_equal_under_both_maps(published):
    assert check_province_totals_equal(published["in_force"], published["current"], PROVINCE_ID) > 200


def test_restated_june_of_each_new_commune_is_its_old_units_sum(published):
    in_force, current = published["in_force"], published["current"]
    predecessors = defaultdict(set)
    for old, new in SUCCESSOR.items():
        predecessors[new].add(old)
    for new, olds in predecessors.items():
        fields = {k[3] for k in in_force if k[:2] == ("month", JUNE) and k[2] in olds} | {"*"}
        for field in fields:
            want = {k: sum(counts(in_force.get(("month", JUNE, u, field)))[k] for u in olds) for k in COUNTS}
            assert counts(current.get(("month", JUNE, new, field))) == want, (new, field)
    assert not {k[2] for k in current} & set(SUCCESSOR)  # only today's units
    check_identity_5_through_map(current, lambda unit_id, day: unit_id)
