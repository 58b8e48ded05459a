"""The demo province across the 1/7/2025 reorganisation (issue 9, part 7): the simulator's sources
for 15 June – 15 July 2025 (districts and 18 communes valid to 30 June, seven merged communes from
1 July, SuccessorId), through the real pipeline (land, batch gate, dbt build, publication gate,
publish), read from the published `kpi` views.

Checked: identity 5 for every unit and its successor across the date (the July carried_over of a
new commune = the sum of its predecessors' June pending_total, per field; and every row of every
period type through the map), no old unit after its last day, the province totals equal under both
maps for every period and field, and the restated June row of each new commune = the sum of its
old units' June rows.

The other periodic tables follow the same map (kpi.service_index, kpi.dx_indicators in both scopes,
kpi.esignature_usage): no old unit has a row of a period ending after 30/6, each period's units are
kpi.tthc_report's (kpi.tthc_report_subtree's for the subtree scope), the province's figures equal the
sums of the records under the units they carry (nothing dropped, nothing counted twice), and the
publication gate's suites of those tables and of kpi.late_dossiers pass on the build (the Decision
766 list tied to kpi.service_index through the map).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from collections import defaultdict
from fractions import Fraction

import psycopg
import pytest
from test_dbt_report import COUNTS, query
from test_reorganisation_scenarios import (
    check_identity_5_through_map,
    check_province_totals_equal,
    counts,
    report,
    unit_map,
)

from cchc_demo.simulator import SimulatorConfig, generate
from cchc_demo.simulator.province import PROVINCE_ID, REFORM_DAY, units
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


# -- the other periodic tables under the map in force (service_index, dx_indicators, esignature_usage)
PERIODIC = ("service_index", "dx_indicators", "esignature_usage")
DOCUMENT_COUNTS = ("outgoing_documents", "issued_electronically", "fully_signed", "signer_only",
                   "invalid_signature", "paper", "paper_signed_by_leader", "via_axis",
                   "dispatched_within_one_working_day", "incoming_documents", "incoming_electronic",
                   "incoming_via_axis", "acknowledged_same_day")


def units_by_period(url: str, table: str, where: str = "true") -> dict[tuple, set]:
    found: dict[tuple, set] = defaultdict(set)
    for r in query(url, f"select distinct period_type, period_start, period_end, unit_id from kpi.{table} "
                        f"where {where}"):
        found[(r["period_type"], r["period_start"], r["period_end"])].add(r["unit_id"])
    return found


def test_no_old_unit_in_the_periodic_tables_after_its_last_day(published):
    url = published["url"]
    for table in PERIODIC:
        periods = units_by_period(url, table)
        after = [found for (_pt, _ps, end), found in periods.items() if end >= REFORM_DAY]
        assert after, table  # the build has periods ending after 30/6 (July, the quarter, the year...)
        for (pt, ps, end), found in periods.items():
            if end >= REFORM_DAY:
                assert not found & set(SUCCESSOR), (table, pt, ps, sorted(found & set(SUCCESSOR)))
            elif pt == "month":  # June: the old units are there, the new communes are not
                assert set(SUCCESSOR) <= found and not found & set(SUCCESSOR.values()), (table, pt, ps)


def test_periodic_tables_have_the_report_units_in_every_period(published):
    url = published["url"]
    report_units = units_by_period(url, "tthc_report", "field_code = '*'")
    subtree_units = units_by_period(url, "tthc_report_subtree", "field_code = '*'")
    own_tables = {"service_index": units_by_period(url, "service_index"),
                  "dx_indicators": units_by_period(url, "dx_indicators", "scope = 'own'"),
                  "esignature_usage": units_by_period(url, "esignature_usage")}
    for table, periods in own_tables.items():
        assert periods, table
        for key, found in periods.items():
            assert found == report_units[key], (table, key, found ^ report_units[key])
    subtree = units_by_period(url, "dx_indicators", "scope = 'subtree'")
    for key, found in subtree.items():
        assert found == subtree_units[key], ("dx_indicators subtree", key, found ^ subtree_units[key])


def unmapped_rule_values(url: str, only_unit: str | None = None) -> dict[tuple, dict]:
    """Per (period_type, period_start): the values of the additive rules summed over the records of
    the province (or only those carrying only_unit), under the units the records carry
    (int.int_indicator_monthly_counts, never mapped), with the backlog at the period's end (the
    running sum of the monthly changes) and the rules derived from it."""
    months = [r["period_start"] for r in query(url, "select distinct period_start from kpi.tthc_report "
                                                    "where period_type = 'month' order by 1")]
    monthly = query(url, "select * from int.int_indicator_monthly_counts where month_start = any(%s)"
                         " and (%s::text is null or unit_id = %s)", (months, only_unit, only_unit))
    columns = query(url, "select * from int.int_indicator_monthly_counts limit 1")[0]
    rules = [c for c in columns if c not in ("unit_id", "month_start")]
    out: dict[tuple, dict] = {}
    for p in query(url, "select distinct period_type, period_start, period_end from kpi.service_index"):
        inside = [m for m in monthly if p["period_start"] <= m["month_start"] <= p["period_end"]]
        upto = [m for m in monthly if m["month_start"] <= p["period_end"]]
        v = {rule: sum(m[rule] for m in inside) for rule in rules}
        v["dossiers_pending_at_end"] = sum(m["pending_change"] for m in upto)
        v["dossiers_pending_within_deadline_766"] = sum(m["pending_within_deadline_766_change"] for m in upto)
        v["dossiers_handled"] = v["dossiers_finished"] + v["dossiers_pending_at_end"]
        v["dossiers_handled_on_time_766"] = (v["dossiers_finished_on_time_766"]
                                             + v["dossiers_pending_within_deadline_766"])
        v["dossiers_late_766"] = v["dossiers_handled"] - v["dossiers_handled_on_time_766"]
        del v["pending_change"], v["pending_within_deadline_766_change"]  # not rules: their running sums are
        out[(p["period_type"], p["period_start"])] = v
    return out


def test_province_totals_of_the_indicators_equal_the_unmapped_sums(published):
    url = published["url"]
    unmapped = unmapped_rule_values(url)
    assert unmapped[("month", JULY)]["dossiers_handled"] > 100
    # kpi.dx_indicators, the province's rows in both scopes: numerator and denominator
    checked = 0
    for r in query(url, "select * from kpi.dx_indicators where unit_id = %s", (PROVINCE_ID,)):
        want = unmapped[(r["period_type"], r["period_start"])]
        for side in ("numerator", "denominator"):
            if r[f"{side}_rule"] in want:
                assert r[side] == want[r[f"{side}_rule"]], (r["period_type"], r["period_start"], r["scope"],
                                                            r["indicator_code"], side)
                checked += 1
    assert checked > 50
    # kpi.service_index, the province's row: every ratio of additive rules
    indicators = query(url, "select indicator_code, numerator_rule, denominator_rule from ref.service_index_indicators")
    checked = 0
    for r in query(url, "select * from kpi.service_index where unit_id = %s", (PROVINCE_ID,)):
        want = unmapped[(r["period_type"], r["period_start"])]
        for ind in indicators:
            num, den = ind["numerator_rule"], ind["denominator_rule"]
            if num in want and den in want:
                expected = max(Fraction(want[num], want[den]), 0) if want[den] else None
                got = r[f"{ind['indicator_code']}_ratio"]
                assert (got is None) == (expected is None), (r["period_type"], r["period_start"], ind)
                if expected is not None:
                    assert abs(Fraction(got) - expected) < Fraction(1, 10**12), (r["period_type"], ind)
                checked += 1
    assert checked > 10
    # nothing counted twice either: the own-scope values of the province's units, and the records of
    # the province's own desk, add up to the province's
    values = query(url, "select v.period_type, v.period_start, v.unit_id, v.rule_name, v.rule_value "
                        "from int.int_indicator_period_values v where v.scope = 'own'")
    summed: dict[tuple, int] = defaultdict(int)
    for key, own in unmapped_rule_values(url, PROVINCE_ID).items():
        for rule, value in own.items():
            summed[(*key, rule)] += value
    for v in values:
        if v["unit_id"] != PROVINCE_ID and v["rule_name"] in unmapped[(v["period_type"], v["period_start"])]:
            summed[(v["period_type"], v["period_start"], v["rule_name"])] += v["rule_value"]
    for (pt, ps), want in unmapped.items():
        for rule, value in want.items():
            assert summed.get((pt, ps, rule), 0) == value, (pt, ps, rule)


def test_province_totals_of_esignature_usage_equal_the_unmapped_sums(published):
    url = published["url"]
    sums = ", ".join(f"coalesce(sum(d.{c}), 0) as {c}" for c in DOCUMENT_COUNTS)
    unmapped = {(r["period_type"], r["period_start"]): r for r in query(url, f"""
        select p.period_type, p.period_start, {sums}
        from (select distinct period_type, period_start, period_end from kpi.esignature_usage) p
        left join marts.fct_esignature_daily d on d.date_day between p.period_start and p.period_end
        group by 1, 2""")}
    rows = query(url, "select * from kpi.esignature_usage")
    province = {(r["period_type"], r["period_start"]): r for r in rows if r["unit_id"] == PROVINCE_ID}
    # the province's own desk (its own documents), and every other unit's row
    under: dict[tuple, dict] = defaultdict(lambda: defaultdict(int))
    for r in query(url, f"""
            select p.period_type, p.period_start, {sums}
            from (select distinct period_type, period_start, period_end from kpi.esignature_usage) p
            join marts.fct_esignature_daily d on d.date_day between p.period_start and p.period_end
            where d.unit_id = %s
            group by 1, 2""", (PROVINCE_ID,)):
        for c in DOCUMENT_COUNTS:
            under[(r["period_type"], r["period_start"])][c] += r[c]
    for r in rows:
        if r["unit_id"] != PROVINCE_ID:
            for c in DOCUMENT_COUNTS:
                under[(r["period_type"], r["period_start"])][c] += r[c]
    assert province.keys() == unmapped.keys()
    for key, want in unmapped.items():
        for c in DOCUMENT_COUNTS:
            assert province[key][c] == want[c] == under[key][c], (key, c)
    assert unmapped[("month", JULY)]["outgoing_documents"] > 5
    # the old units' June documents are in the year 2025 (reported under the map of 15/7) under
    # their successors: they have no row of it, and the province's total still holds them
    old_june = query(url, "select coalesce(sum(outgoing_documents + incoming_documents), 0) as n "
                          "from marts.fct_esignature_daily where date_day < %s and unit_id = any(%s)",
                     (REFORM_DAY, list(SUCCESSOR)))[0]["n"]
    assert old_june > 0
    assert not {r["unit_id"] for r in rows if r["period_type"] == "year"} & set(SUCCESSOR)


def test_gate_suites_pass_on_the_build(published, tmp_path):
    """The publication gate's suites of the tables under the map, and kpi.late_dossiers (its two
    tie-outs read the list's units through the map at each month's end), on the published build."""
    from cchc.quality import run_gate

    url = published["url"]
    suites = ["late_dossiers", *PERIODIC]
    result = run_gate(url, suites, schema_map={}, run_id="test_reorganisation_demo_gate", report_dir=tmp_path)
    assert result.success, result.failures
    # the 766 tie-out is exercised across the date: July has listed dossiers the source records
    # under an old unit (open across the merge, or recorded there after its valid_to)
    old_listed = query(url, "select count(*) as n from kpi.late_dossiers where rule = 'decision_766' "
                            "and month = %s and unit_id = any(%s)", (JULY, list(SUCCESSOR)))[0]["n"]
    assert old_listed > 0


def test_gate_catches_an_old_unit_after_its_last_day_and_a_lost_766_row(published, tmp_path):
    """On copies of the published tables (schema map kpi -> a scratch schema): an old commune given
    a July row in kpi.esignature_usage and kpi.service_index, and a July decision_766 row of
    kpi.late_dossiers recorded under an old unit dropped (its successor's count no longer ties to
    the service index: the check reads the list through the map)."""
    from cchc.quality import run_gate

    url = published["url"]
    scratch = f"broken_{uuid.uuid4().hex[:6]}"
    tables = ("esignature_usage", "service_index", "tthc_report", "late_dossiers", "dx_indicators")
    old, new = next(iter(SUCCESSOR.items()))
    with psycopg.connect(url) as conn:
        conn.execute(f"create schema {scratch}")
        for table in tables:
            conn.execute(f"create table {scratch}.{table} as select * from kpi.{table}")
        for table in ("esignature_usage", "service_index"):
            conn.execute(f"create temporary table extra_row as select * from {scratch}.{table} "
                         f"where period_type = 'month' and period_start = %s and unit_id = %s", (JULY, new))
            assert conn.execute("update extra_row set unit_id = %s", (old,)).rowcount == 1
            conn.execute(f"insert into {scratch}.{table} select * from extra_row")
            conn.execute("drop table extra_row")
        dropped = conn.execute(
            f"delete from {scratch}.late_dossiers where (month, dossier_code, rule) = (select month, dossier_code, rule "
            f"from {scratch}.late_dossiers where rule = 'decision_766' and month = %s and unit_id = any(%s) "
            f"order by dossier_code limit 1)", (JULY, list(SUCCESSOR))).rowcount
        assert dropped == 1
    try:
        result = run_gate(url, ["late_dossiers", "esignature_usage", "service_index"], schema_map={"kpi": scratch},
                          run_id="test_reorganisation_demo_gate_broken", report_dir=tmp_path)
    finally:
        with psycopg.connect(url) as conn:
            conn.execute(f"drop schema {scratch} cascade")
    failed = {f.split(":")[0] for f in result.failures}
    assert not result.success
    assert {"esignature_usage.unit_in_force_at_period_end", "service_index.unit_in_force_at_period_end",
            "late_dossiers.decision_766_rows_match_the_service_index"} <= failed, result.failures
