"""The indicators on the simulated province, end to end: simulator -> `cchc run` (Airflow dag.test)
-> raw -> dbt -> GX -> kpi. The range crosses 1 July 2025, when the districts and old communes were
abolished and the merged communes began: every unit valid in a month must have its rows in the
three published tables of issue 7, and the published figures must agree with each other and with
kpi.tthc_report."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from cchc_demo.simulator import SimulatorConfig, generate
from cchc.warehouse import connect

START, END = dt.date(2025, 6, 16), dt.date(2025, 7, 6)
CCHC = str(Path(sys.executable).parent / "cchc")


@pytest.fixture(scope="module")
def published(cchc_env, tmp_path_factory, warehouse_db):
    root = tmp_path_factory.mktemp("sources")
    generate(root, SimulatorConfig(start=START, end=END, seed=11, dossiers_per_day=60,
                                   documents_per_day=20, bad_rate=0.01))
    res = subprocess.run([CCHC, "run", "--start", START.isoformat(), "--end", END.isoformat(),
                          "--source-dir", str(root)], env=cchc_env, capture_output=True, text=True, timeout=1200)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-6000:]
    return warehouse_db


def rows(url: str, sql: str, *params) -> list[dict]:
    with connect(url) as conn:
        cur = conn.execute(sql, params)
        names = [c.name for c in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def valid_units(url: str, period_start: dt.date, period_end: dt.date) -> set[str]:
    return {r["unit_id"] for r in rows(
        url, "select unit_id from marts.dim_unit where (valid_from is null or valid_from <= %s)"
             " and (valid_to is null or valid_to >= %s)", period_end, period_start)}


def test_the_three_tables_are_published(published):
    pub = rows(published, "select tables_published from kpi.publications where is_current")[0]
    assert {"dx_indicators", "service_index", "late_accountability"} <= set(pub["tables_published"])
    for table in ("dx_indicators", "service_index", "late_accountability"):
        assert rows(published, f"select count(*) as n from kpi.{table}")[0]["n"] > 0, table


def test_every_valid_unit_has_its_rows_in_every_month(published):
    months = rows(published, "select distinct period_start, period_end from kpi.service_index"
                             " where period_type = 'month' order by 1")
    assert [m["period_start"] for m in months] == [dt.date(2025, 6, 1), dt.date(2025, 7, 1)]
    catalogue = rows(published, "select indicator_code, unit_levels from ref.dx_indicator_catalogue")
    for month in months:
        units = valid_units(published, month["period_start"], month["period_end"])
        levels = {r["unit_id"]: r["unit_level"] for r in rows(published, "select unit_id, unit_level from marts.dim_unit")}
        index = {r["unit_id"] for r in rows(published, "select unit_id from kpi.service_index where period_type ="
                                                       " 'month' and period_start = %s", month["period_start"])}
        listed = {r["unit_id"] for r in rows(published, "select unit_id from kpi.late_accountability where month = %s",
                                              month["period_start"])}
        dx = defaultdict(set)
        for r in rows(published, "select unit_id, indicator_code from kpi.dx_indicators where period_type = 'month'"
                                 " and period_start = %s and scope = 'own'", month["period_start"]):
            dx[r["unit_id"]].add(r["indicator_code"])
        assert units <= index and units <= listed, month
        for unit_id in units:
            expected = {c["indicator_code"] for c in catalogue if levels[unit_id] in c["unit_levels"].split()}
            assert dx[unit_id] == expected, (month, unit_id)
    # June has the districts, July the merged communes (and an abolished district only with activity)
    june = valid_units(published, dt.date(2025, 6, 1), dt.date(2025, 6, 30))
    july = valid_units(published, dt.date(2025, 7, 1), dt.date(2025, 7, 6))
    assert june != july and "000.00.11.H99" in june and "000.30.01.H99" in july - june


def test_ranks_are_dense_and_complete_per_province_and_period(published):
    groups = defaultdict(list)
    for r in rows(published, "select s.period_type, s.period_start, s.province_unit_id, s.unit_id, s.total_score,"
                             " s.rank_in_province, u.is_province from kpi.service_index s"
                             " join marts.dim_unit u on u.unit_id = s.unit_id"):
        assert (r["rank_in_province"] is None) == r["is_province"], r
        if not r["is_province"]:
            groups[(r["period_type"], r["period_start"], r["province_unit_id"])].append(r)
    assert groups
    for key, members in groups.items():
        scores = sorted({m["total_score"] for m in members}, reverse=True)
        for m in members:
            assert m["rank_in_province"] == scores.index(m["total_score"]) + 1, (key, m)


def test_published_figures_agree(published):
    # the accountability list counts what the periodic report counts
    mismatched = rows(published, """
        select a.month, a.unit_id from kpi.late_accountability a
        join kpi.tthc_report t on t.period_type = 'month' and t.period_start = a.month
         and t.unit_id = a.unit_id and t.field_code = '*'
        where a.dossiers_handled <> t.received_total or a.late_total <> t.resolved_late + t.pending_overdue
           or a.late_dossiers <> a.late_total""")
    assert mismatched == []
    # the online share of new dossiers is the periodic report's
    mismatched = rows(published, """
        select d.period_type, d.period_start, d.unit_id from kpi.dx_indicators d
        join kpi.tthc_report t on t.period_type = d.period_type and t.period_start = d.period_start
         and t.unit_id = d.unit_id and t.field_code = '*'
        where d.indicator_code = 'online_dossiers_share' and d.scope = 'own'
          and (d.numerator <> t.received_online or d.denominator <> t.received_online + t.received_direct_postal)""")
    assert mismatched == []
    # the province's subtree rows are its own rows; the e-document shares are kpi.esignature_usage's
    assert rows(published, """
        select o.* from kpi.dx_indicators o join kpi.dx_indicators s
          on s.period_type = o.period_type and s.period_start = o.period_start and s.unit_id = o.unit_id
         and s.indicator_code = o.indicator_code and s.scope = 'subtree'
        join marts.dim_unit u on u.unit_id = o.unit_id and u.is_province
        where o.scope = 'own' and (o.numerator, o.denominator) <> (s.numerator, s.denominator)""") == []
    assert rows(published, """
        select d.* from kpi.dx_indicators d
        join kpi.esignature_usage e on e.period_type = d.period_type and e.period_start = d.period_start
         and e.unit_id = d.unit_id
        where d.scope = 'own' and d.indicator_code = 'edoc_fully_signed_share'
          and (d.numerator, d.denominator) <> (e.fully_signed, e.outgoing_documents)""") == []
    # the timeliness group scores the national portal's ratio, never above the periodic report's
    # handled dossiers; the periodic ratio is the report's
    assert rows(published, """
        select s.* from kpi.service_index s
        join kpi.tthc_report t on t.period_type = s.period_type and t.period_start = s.period_start
         and t.unit_id = s.unit_id and t.field_code = '*'
        where t.received_total > 0 and abs(s.timeliness_periodic_ratio
              - (t.resolved_early + t.resolved_on_time + t.pending_on_time)::numeric / t.received_total) > 1e-9""") == []
    # targets come from the simulated list: every unit-year-indicator either has one or says so
    statuses = {r["target_status"] for r in rows(published, "select distinct target_status from kpi.dx_indicators")}
    assert {"attained", "not_attained"} <= statuses
