"""kpi.tthc_report_subtree and ISO weeks (issue 9, parts 5 and 6), on a real PostgreSQL and a real
`dbt build` of hand-built landed data, audited by the real GX gate.

Units: province P; district H under P with communes X1 and X2; department S under P with its
branch B. Procedures 1.000001 (field LV01) and 1.000002 (LV02). as_of_date = 2025-02-04 (a
Tuesday). Times are local.

Dossiers (unit, field, channel, status):
  A1 H  LV01 desk    9  recv 2024-12-23 (Mon) due 12-27 17:00 end 12-26 10:00 -> early
  A2 X1 LV01 online  9  recv 2024-12-30 (Mon) due 2025-01-03 17:00 end 01-06 09:00 -> late,
                        overdue at the end of the week 12-30..01-05
  A3 X2 LV02 desk    9  recv 2024-12-31       due 2025-01-10 17:00 end 01-09 10:00 -> early
  A4 H  LV02 postal  9  recv 2024-12-27 (Fri) due 2025-01-02 17:00 end 01-02 16:00 -> on time
  A5 S  LV01 desk    9  recv 2025-01-02       due 01-06 17:00 end 01-03 10:00 -> early
  A6 B  LV02 online  4  recv 2024-12-24       due 12-26 17:00, open -> overdue from 12-26 on
  A7 P  LV01 desk    9  recv 2025-01-06       due 01-09 17:00 end 01-07 10:00 -> early (the
                        province's own desk)
  A8 X1 LV02 desk    7  recv 2024-12-26       due 12-31 17:00 end 12-28 09:00 -> withdrawn: on time
  A9 X2 LV01 desk    9  recv 2025-01-24 (Fri) due 02-05 17:00 end 02-03 09:00 -> early (across
                        the week 01-27..02-02, which straddles the end of January)

Weeks: the first reception (A1, Monday 2024-12-23) starts the first week; the week of Monday
2024-12-30 runs to Sunday 2025-01-05 across the end of December and of 2024 (one week, not two);
the week of Monday 2025-01-27 runs to Sunday 2025-02-02 across the end of January; the running
week of Monday 2025-02-03 is capped at as_of_date.
"""

from __future__ import annotations

import datetime as dt
from itertools import pairwise

import psycopg
import pytest
from builders import built_scenario, by_update_day, query, unit
from test_dbt_report import COUNTS, dossier, expect, land, procedure

AS_OF = "2025-02-04"
PUBLICATION_ID = 9
RUN_ID = "test-report-subtree-weeks"

P, H, X1, X2 = "000.00.00.H90", "000.00.10.H90", "000.10.01.H90", "000.10.02.H90"
S, B = "000.00.01.H90", "000.01.01.H90"
PROC1, PROC2 = "1.000001", "1.000002"
PARENT = {H: P, S: P, X1: H, X2: H, B: S}

UNITS = [
    unit(P, "UBND tỉnh", "TINH"),
    unit(H, "UBND huyện Kiến Xương", "HUYEN", P),
    unit(X1, "UBND xã Bình Minh", "XA", H),
    unit(X2, "UBND xã Thanh Tân", "XA", H),
    unit(S, "Sở Tài nguyên và Môi trường", "SO", P),
    unit(B, "Chi nhánh Văn phòng đăng ký đất đai", "SO", S),
]

DOSSIERS = [
    dossier("A1", H, PROC1, "1", "9", "20241223090000", "20241227170000", ended="20241226100000",
            updated="20241226100000"),
    dossier("A2", X1, PROC1, "2", "9", "20241230080000", "20250103170000", ended="20250106090000",
            updated="20250106090000"),
    dossier("A3", X2, PROC2, "1", "9", "20241231100000", "20250110170000", ended="20250109100000",
            updated="20250109100000"),
    dossier("A4", H, PROC2, "3", "9", "20241227090000", "20250102170000", ended="20250102160000",
            updated="20250102160000"),
    dossier("A5", S, PROC1, "1", "9", "20250102090000", "20250106170000", ended="20250103100000",
            updated="20250103100000"),
    dossier("A6", B, PROC2, "2", "4", "20241224090000", "20241226170000", updated="20241224090000"),
    dossier("A7", P, PROC1, "1", "9", "20250106090000", "20250109170000", ended="20250107100000",
            updated="20250107100000"),
    dossier("A8", X1, PROC2, "1", "7", "20241226090000", "20241231170000", ended="20241228090000",
            updated="20241228090000"),
    dossier("A9", X2, PROC1, "1", "9", "20250124090000", "20250205170000", ended="20250203090000",
            updated="20250203090000"),
]


def land_scenario(conn) -> None:
    land(conn, "reference", "units", "2024-12-20", UNITS)
    land(conn, "reference", "procedures", "2024-12-20",
         [procedure(PROC1, "Cấp giấy chứng nhận quyền sử dụng đất", 5), procedure(PROC2, "Đăng ký khai sinh", 3)])
    for day, records in by_update_day(DOSSIERS):
        land(conn, "onestop", "dossiers", day, records)


@pytest.fixture(scope="module")
def built(warehouse_db):
    for _result in built_scenario(warehouse_db, land_scenario, AS_OF, publication_id=PUBLICATION_ID, run_id=RUN_ID):
        yield warehouse_db


def table(url: str, name: str) -> dict[tuple, dict]:
    rows = query(url, f"select * from kpi_build.{name}")
    index = {(r["period_type"], r["period_start"], r["unit_id"], r["field_code"]): r for r in rows}
    assert len(index) == len(rows), f"{name}: grain not unique"
    return index


def counts(r: dict | None) -> dict:
    return {k: (r[k] if r else 0) for k in COUNTS}


D = dt.date


# -- hand-worked rows -------------------------------------------------------------------------------
SUBTREE_WEEKS = {
    # H + X1 + X2, week 2024-12-30..2025-01-05: carried A4 (H, open at the end of 12-29); received
    # A2 online (X1), A3 desk (X2); resolved A4 on time; pending at 01-05: A3 within deadline, A2
    # overdue (due 01-03)
    (H, D(2024, 12, 30), "*"): expect(1, 1, 1, 0, 1, 0, 0, 1, 1),
    # the next week carries A2 and A3; A2 finishes late on 01-06, A3 early on 01-09
    (H, D(2025, 1, 6), "*"): expect(0, 0, 2, 1, 0, 1, 0, 0, 0),
    # week 2024-12-23..12-29: received A1 desk (H), A4 postal (H), A8 desk (X1); A1 early, A8
    # withdrawn (on time, w/s); pending at 12-29: A4
    (H, D(2024, 12, 23), "*"): expect(0, 3, 0, 1, 1, 0, 1, 1, 0),
    (H, D(2024, 12, 23), "LV02"): expect(0, 2, 0, 0, 1, 0, 1, 1, 0),
    # week 2025-01-27..02-02 (across the end of January): A9 (X2, received 01-24) carried, still open
    (H, D(2025, 1, 27), "*"): expect(0, 0, 1, 0, 0, 0, 0, 1, 0),
    # S + B: A6 open and overdue since 12-26 (carried), A5 received and finished early
    (S, D(2024, 12, 30), "*"): expect(0, 1, 1, 1, 0, 0, 0, 0, 1),
    # the province: every unit, its own desk included
    (P, D(2024, 12, 30), "*"): expect(1, 2, 2, 1, 1, 0, 0, 1, 2),
    (P, D(2025, 1, 6), "*"): expect(0, 1, 3, 2, 0, 1, 0, 0, 1),
}


@pytest.mark.parametrize(("unit_id", "start", "field_code"), list(SUBTREE_WEEKS))
def test_hand_worked_subtree_weeks(built, unit_id, start, field_code):
    got = table(built, "tthc_report_subtree").get(("week", start, unit_id, field_code))
    assert got is not None, f"no subtree week row for {unit_id} {start} {field_code}"
    assert counts(got) == SUBTREE_WEEKS[(unit_id, start, field_code)]
    assert got["period_end"] == start + dt.timedelta(days=6)
    assert got["publication_id"] == PUBLICATION_ID


def test_own_rows_stay_own(built):
    # kpi.tthc_report's district row counts its own desk only (A4 carried and resolved)
    own = table(built, "tthc_report")
    assert counts(own[("week", D(2024, 12, 30), H, "*")]) == expect(0, 0, 1, 0, 1, 0, 0, 0, 0)


def test_subtree_units_are_parents_and_provinces(built):
    units = {key[2] for key in table(built, "tthc_report_subtree")}
    assert units == {P, H, S}  # communes and the branch have no units under them


# -- the subtree is the sum of its units ------------------------------------------------------------
def descendants(unit_id: str) -> set[str]:
    out = {unit_id}
    for child, parent in PARENT.items():
        if parent == unit_id:
            out |= descendants(child)
    return out


@pytest.mark.parametrize("parent", [H, S])
def test_subtree_row_is_own_row_plus_units_under_it(built, parent):
    """A district's (a department's) subtree row = its own row + its communes' (branches') rows,
    for every period type, period and field; where that sum has any count there is a row."""
    own, subtree = table(built, "tthc_report"), table(built, "tthc_report_subtree")
    members = descendants(parent)
    cells = {(pt, ps, f) for (pt, ps, u, f) in own if u in members}
    cells |= {(pt, ps, f) for (pt, ps, u, f) in subtree if u == parent}
    assert {pt for pt, _, _ in cells} == {"day", "week", "month", "quarter", "half_year", "year"}
    for pt, ps, f in cells:
        expected = {k: sum(counts(own.get((pt, ps, u, f)))[k] for u in members) for k in COUNTS}
        got = subtree.get((pt, ps, parent, f))
        if got is None:
            assert not any(expected.values()), (pt, ps, parent, f, expected)
            continue
        assert counts(got) == expected, (pt, ps, parent, f)
        assert got["period_end"] == own_period_end(own, pt, ps)


def own_period_end(own: dict, period_type: str, period_start: dt.date) -> dt.date:
    ends = {r["period_end"] for (pt, ps, _, _), r in own.items() if (pt, ps) == (period_type, period_start)}
    assert len(ends) == 1
    return ends.pop()


def test_province_row_equals_its_report_row(built):
    own, subtree = table(built, "tthc_report"), table(built, "tthc_report_subtree")
    province_own = {k: r for k, r in own.items() if k[2] == P}
    province_subtree = {k: r for k, r in subtree.items() if k[2] == P}
    assert province_subtree and province_subtree.keys() == province_own.keys()
    for key, r in province_subtree.items():
        assert r == province_own[key], key


# -- weeks ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["tthc_report", "tthc_report_subtree", "esignature_usage"])
def test_weeks_are_iso_weeks(built, name):
    weeks = sorted({(r["period_start"], r["period_end"]) for r in
                    query(built, f"select distinct period_start, period_end from kpi_build.{name}"
                                 " where period_type = 'week'")})
    # Monday 2024-12-23 (the first reception) to the running week of Monday 2025-02-03
    assert weeks[0] == (D(2024, 12, 23), D(2024, 12, 29))
    assert weeks[-1] == (D(2025, 2, 3), D(2025, 2, 4))  # capped at as_of_date
    assert len(weeks) == 7
    for start, end in weeks[:-1]:
        assert start.isoweekday() == 1 and end == start + dt.timedelta(days=6), (start, end)
    for (_, end), (nxt, _) in pairwise(weeks):
        assert nxt == end + dt.timedelta(days=1)
    # across the end of December and of the year: one week, ISO week 1 of 2025
    assert (D(2024, 12, 30), D(2025, 1, 5)) in weeks and D(2024, 12, 30).isocalendar()[:2] == (2025, 1)
    # across the end of January: one week
    assert (D(2025, 1, 27), D(2025, 2, 2)) in weeks
    assert not any(start.day == 1 for start, _ in weeks)  # no week restarts on the 1st


def test_week_rows_of_the_own_report(built):
    own = table(built, "tthc_report")
    # the week across the year end, province: what every unit had, the province desk included
    assert counts(own[("week", D(2024, 12, 30), P, "*")]) == expect(1, 2, 2, 1, 1, 0, 0, 1, 2)
    # the same dossiers split by month: December's end leaves A2, A3, A4, A6 pending
    assert own[("month", D(2024, 12, 1), P, "*")]["pending_total"] == 4
    # a unit valid all along without any dossier in a week still has its zero row
    assert counts(own[("week", D(2025, 1, 13), B, "*")]) == expect(0, 0, 1, 0, 0, 0, 0, 0, 1)


@pytest.mark.parametrize("name", ["tthc_report", "tthc_report_subtree"])
def test_weekly_rows_chain_by_identity_5(built, name):
    rows = table(built, name)
    weekly = {k: r for k, r in rows.items() if k[0] == "week"}
    assert weekly
    last_start = max(k[1] for k in weekly)
    chained = 0
    for (pt, start, unit_id, field), r in weekly.items():
        assert r["received_total"] == r["received_online"] + r["received_direct_postal"] + r["carried_over"]
        assert r["resolved_total"] == r["resolved_early"] + r["resolved_on_time"] + r["resolved_late"]
        assert r["pending_total"] == r["pending_on_time"] + r["pending_overdue"]
        assert r["received_total"] == r["resolved_total"] + r["pending_total"]
        previous = weekly.get((pt, start - dt.timedelta(days=7), unit_id, field))
        assert r["carried_over"] == (previous["pending_total"] if previous else 0), (start, unit_id, field)
        if start != last_start:
            nxt = weekly.get((pt, start + dt.timedelta(days=7), unit_id, field))
            assert (nxt["carried_over"] if nxt else 0) == r["pending_total"], (start, unit_id, field)
        chained += bool(previous and previous["pending_total"])
    assert chained >= 5  # the chain is exercised, not vacuous


# -- the gate -----------------------------------------------------------------------------------------
def test_gate_passes_on_the_candidates(built, tmp_path):
    from cchc.quality import published_suites, run_gate

    assert published_suites(["tthc_report_subtree"]) == ["tthc_report_subtree"]
    result = run_gate(built, ["tthc_report", "tthc_report_subtree", "esignature_usage"],
                      schema_map={"kpi": "kpi_build"}, run_id="test_subtree_gate", report_dir=tmp_path)
    assert result.success, result.failures
    assert result.checks_evaluated >= 60  # the grain and keys are dbt's (expectations/README.md)


BREAKS = [
    # a district's row is no longer its units' sum (identities 1-4 still hold on the row)
    ("set received_online = received_online + {d}, received_total = received_total + {d},"
     " pending_on_time = pending_on_time + {d}, pending_total = pending_total + {d}"
     " where unit_id = '" + H + "' and period_type = 'week' and period_start = '2025-01-27' and field_code = '*'"),
    # the province's row differs from its report row
    ("set carried_over = carried_over + {d}, received_total = received_total + {d},"
     " pending_overdue = pending_overdue + {d}, pending_total = pending_total + {d}"
     " where unit_id = '" + P + "' and period_type = 'month' and period_start = '2025-01-01' and field_code = '*'"),
    # a week that does not start on a Monday
    "set period_start = period_start + {d} where period_type = 'week' and period_start = date '2024-12-23' + {s}",
]


def test_gate_catches_broken_subtree_rows(built, tmp_path):
    """Breaks rows of the candidate in three ways (and puts them back)."""
    from cchc.quality import run_gate

    with psycopg.connect(built) as conn:
        for change in BREAKS:
            conn.execute("update kpi_build.tthc_report_subtree " + change.format(d=1, s=0))
    try:
        result = run_gate(built, ["tthc_report_subtree"], schema_map={"kpi": "kpi_build"},
                          run_id="test_subtree_gate_broken", report_dir=tmp_path)
    finally:
        with psycopg.connect(built) as conn:
            for change in BREAKS:
                conn.execute("update kpi_build.tthc_report_subtree " + change.format(d=-1, s=1))
    failed = {f.split(":")[0] for f in result.failures}
    assert not result.success
    assert {"tthc_report_subtree.subtree_is_the_sum_of_its_units",
            "tthc_report_subtree.province_rows_equal_tthc_report",
            "tthc_report_subtree.identity_5_carried_over",
            "tthc_report_subtree.period_bounds_match_type"} <= failed, result.failures
    assert not {f for f in failed if f.startswith("tthc_report_subtree.identity_") and "_5_" not in f}


# -- the periods model ---------------------------------------------------------------------------------
def test_week_alignment_in_sql_matches_python(built):
    """int_report_periods' weeks (macros/report_periods.sql) are Python's ISO weeks, Monday to Sunday."""
    weeks = query(built, "select period_start, period_natural_end, period_end from int.int_report_periods"
                         " where period_type = 'week' order by 1")
    assert len(weeks) == 7
    for w in weeks:
        iso_year, iso_week, weekday = w["period_start"].isocalendar()
        assert weekday == 1 and dt.date.fromisocalendar(iso_year, iso_week, 7) == w["period_natural_end"]
        assert w["period_end"] == min(w["period_natural_end"], dt.date.fromisoformat(AS_OF))


# -- the published simulated province (shared session fixture, read-only) ----------------------------
def test_published_province_subtree_and_weeks(published_warehouse):
    """On the published kpi views of the simulated province: every parent's subtree row is the sum
    of the own rows of its subtree (unit tree from marts.dim_unit), for every period and field; the
    province rows equal kpi.tthc_report's; weekly rows are ISO weeks and chain by identity 5."""
    url = published_warehouse["url"]
    mismatched = query(url, """
        with recursive tree (ancestor_unit_id, unit_id) as (
            select unit_id, unit_id from marts.dim_unit where not is_province
            union
            select tree.ancestor_unit_id, c.unit_id from tree
            join marts.dim_unit c on c.parent_unit_id = tree.unit_id and not c.is_province
        ),
        expected as (
            select r.period_type, r.period_start, tree.ancestor_unit_id as unit_id, r.field_code,
                   sum(r.received_total) as received_total, sum(r.carried_over) as carried_over,
                   sum(r.resolved_late) as resolved_late, sum(r.pending_overdue) as pending_overdue,
                   sum(r.pending_total) as pending_total
            from kpi.tthc_report r join tree on tree.unit_id = r.unit_id
            group by 1, 2, 3, 4
        )
        select s.period_type, s.period_start, s.unit_id, s.field_code
        from kpi.tthc_report_subtree s
        join marts.dim_unit u on u.unit_id = s.unit_id and not u.is_province
        left join expected e
          on e.period_type = s.period_type and e.period_start = s.period_start
         and e.unit_id = s.unit_id and e.field_code = s.field_code
        where (s.received_total, s.carried_over, s.resolved_late, s.pending_overdue, s.pending_total)
              is distinct from (coalesce(e.received_total, 0), coalesce(e.carried_over, 0),
                                coalesce(e.resolved_late, 0), coalesce(e.pending_overdue, 0),
                                coalesce(e.pending_total, 0))""")
    assert mismatched == []
    parents = query(url, """
        select u.unit_level, count(distinct s.unit_id) as units,
               count(*) filter (where s.period_type = 'week') as week_rows
        from kpi.tthc_report_subtree s join marts.dim_unit u on u.unit_id = s.unit_id group by 1""")
    levels = {r["unit_level"]: r for r in parents}
    assert "TINH" in levels and "HUYEN" in levels and levels["HUYEN"]["week_rows"] > 0, parents
    # communes have no units under them: no subtree row
    assert "XA" not in levels
    province = query(url, """
        select count(*) as n,
               count(*) filter (where to_jsonb(s) = to_jsonb(r)) as equal
        from (select s.* from kpi.tthc_report_subtree s
              join marts.dim_unit u on u.unit_id = s.unit_id and u.is_province) s
        full join (select r.* from kpi.tthc_report r
                   join marts.dim_unit u on u.unit_id = r.unit_id and u.is_province) r
          on r.period_type = s.period_type and r.period_start = s.period_start
         and r.unit_id = s.unit_id and r.field_code = s.field_code""")[0]
    assert province["n"] > 0 and province["equal"] == province["n"]
    for name in ("tthc_report", "tthc_report_subtree", "esignature_usage"):
        bad_weeks = query(url, f"""
            select distinct period_start, period_end from kpi.{name}
            where period_type = 'week' and (extract(isodow from period_start) <> 1
                  or period_end > period_start + 6
                  or (period_end < period_start + 6 and period_end <> %s))""",
                          (published_warehouse["as_of_date"],))
        assert bad_weeks == [], name
    broken_chain = query(url, """
        select cur.unit_id, cur.field_code, cur.period_start from kpi.tthc_report_subtree cur
        left join kpi.tthc_report_subtree prev
          on prev.period_type = 'week' and prev.unit_id = cur.unit_id
         and prev.field_code = cur.field_code and prev.period_start = cur.period_start - 7
        where cur.period_type = 'week'
          and cur.period_start > (select min(period_start) from kpi.tthc_report_subtree where period_type = 'week')
          and cur.carried_over <> coalesce(prev.pending_total, 0)""")
    assert broken_chain == []
