"""The 1/7/2025 reorganisation (issue 9, part 7) on hand-built landed data: a real PostgreSQL, a real
`dbt build`, the real GX gate.

Every expected number was worked out by hand from the counting rules (domain.md, "Mẫu 06") and the
map rule (macros/mau06_period_report.sql, README "The 1/7/2025 reorganisation"): each period is
reported under the map of units in force at its end; a unit succeeded by then has no row, its
dossiers (open ones included) are its successor's; kpi.tthc_report_current_map restates every
period under today's units (current_unit_id).

Units: province P; district D (valid to 2025-06-30, successor N1) with communes A and B (to
2025-06-30, successor N1) and C (to 2025-06-30, successor N2); new communes N1 and N2 under P,
valid from 2025-07-01. Procedures 1.000001 (LV01, 5 working days) and 1.000002 (LV02, 3).
as_of_date = 2025-07-15 (a Tuesday). Times are local.

Dossiers (unit recorded by the source, field, channel, status):
  R1 A  LV01 desk    9  recv 06-20 (Fri) due 07-04 17:00 end 07-03 10:00 -> early; open across
                        1/7 in a merged commune: pending at A on 06-30, carried over to N1
  R2 B  LV01 online  9  recv 06-16       due 06-27 17:00 end 07-08 10:00 -> late; overdue at
                        B's last day, carried over to N1 overdue, finished late there
  R3 D  LV02 desk    4  recv 06-25       due 07-10 17:00, open -> received by the abolished
                        district's desk, open at the date: carried to N1, overdue from 07-10
  R4 C  LV01 desk    9  recv 06-10       due 06-20 17:00 end 06-18 10:00 -> early (June, at C)
  R5 A  LV02 online  9  recv 07-02       due 07-09 17:00 end 07-07 10:00 -> early; recorded
                        under A after A's valid_to: counted under N1
  R6 N1 LV01 desk    2  recv 07-03       due 07-20 17:00, open -> pending within deadline
  R7 C  LV02 desk    9  recv 05-20       due 06-05 17:00 end 06-10 10:00 -> late; carried into
                        June at C
  R8 B  LV01 desk    9  recv 06-30 14:00 (B's last day, a Monday) due 07-07 17:00 end 07-01
                        09:00 -> early: received by B on the day period 06-30, resolved by N1 on
                        07-01; the week 06-30..07-06 is reported under N1 as a whole
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import psycopg
import pytest
from builders import Verdicts, built_scenario, by_update_day, lateness_verdicts, query, unit
from export_fixtures import document
from test_dbt_report import COUNTS, dossier, expect, land, procedure

AS_OF = "2025-07-15"
PUBLICATION_ID = 7
RUN_ID = "test-reorganisation-scenarios"

P, D = "000.00.00.H77", "000.00.10.H77"
A, B, C = "000.10.01.H77", "000.10.02.H77", "000.10.03.H77"
N1, N2 = "000.30.01.H77", "000.30.02.H77"
PROC1, PROC2 = "1.000001", "1.000002"
OLD_TO, NEW_FROM = "20250630235959", "20250701000000"

UNITS = [
    unit(P, "UBND tỉnh Hà Nam Sơn", "TINH"),
    unit(D, "UBND huyện Đông Lâm", "HUYEN", P, valid_to=OLD_TO, successor=N1),
    unit(A, "UBND xã Đông An", "XA", D, valid_to=OLD_TO, successor=N1),
    unit(B, "UBND xã Đông Bình", "XA", D, valid_to=OLD_TO, successor=N1),
    unit(C, "UBND xã Đông Cường", "XA", D, valid_to=OLD_TO, successor=N2),
    unit(N1, "UBND xã Đông Lâm", "XA", P, valid_from=NEW_FROM),
    unit(N2, "UBND xã Đông Cường Mới", "XA", P, valid_from=NEW_FROM),
]

DOSSIERS = [
    dossier("R1", A, PROC1, "1", "9", "20250620090000", "20250704170000", ended="20250703100000",
            updated="20250703100000"),
    dossier("R2", B, PROC1, "2", "9", "20250616090000", "20250627170000", ended="20250708100000",
            updated="20250708100000"),
    dossier("R3", D, PROC2, "1", "4", "20250625090000", "20250710170000", updated="20250625090000"),
    dossier("R4", C, PROC1, "1", "9", "20250610090000", "20250620170000", ended="20250618100000",
            updated="20250618100000"),
    dossier("R5", A, PROC2, "2", "9", "20250702090000", "20250709170000", ended="20250707100000",
            updated="20250707100000"),
    dossier("R6", N1, PROC1, "1", "2", "20250703090000", "20250720170000", updated="20250703090000"),
    dossier("R7", C, PROC2, "1", "9", "20250520090000", "20250605170000", ended="20250610100000",
            updated="20250610100000"),
    dossier("R8", B, PROC1, "1", "9", "20250630140000", "20250707170000", ended="20250701090000",
            updated="20250701090000"),
]

D_ = dt.date

# Outgoing documents signed on paper by a leader of commune A (kpi.leader_paper_documents lists
# them under A, the issuing unit): in June, and on 07-02, after A's valid_to, when
# kpi.esignature_usage counts A's documents on its successor N1's row.
PAPER_DOCUMENTS = [document("RD1", D_(2025, 6, 20), OrganId=A, FromOrganId=A, IsElectronic=False, CodeNumber="1"),
                   document("RD2", D_(2025, 7, 2), OrganId=A, FromOrganId=A, IsElectronic=False, CodeNumber="2")]


def land_scenario(conn) -> None:
    land(conn, "reference", "units", "2025-05-01", UNITS)
    land(conn, "reference", "procedures", "2025-05-01",
         [procedure(PROC1, "Cấp giấy chứng nhận quyền sử dụng đất", 5), procedure(PROC2, "Đăng ký khai sinh", 3)])
    for day, records in by_update_day(DOSSIERS):
        land(conn, "onestop", "dossiers", day, records)
    for day, records in by_update_day(PAPER_DOCUMENTS):
        land(conn, "edoc", "documents", day, records)


@pytest.fixture(scope="module")
def built(warehouse_db):
    for _result in built_scenario(warehouse_db, land_scenario, AS_OF, publication_id=PUBLICATION_ID, run_id=RUN_ID):
        yield warehouse_db


# -- helpers, shared with test_reorganisation_demo.py ------------------------------------------------
def report(url: str, name: str, schema: str = "kpi_build") -> dict[tuple, dict]:
    """The rows of a report table by (period_type, period_start, unit_id, field_code)."""
    rows = query(url, f"select * from {schema}.{name}")
    index = {(r["period_type"], r["period_start"], r["unit_id"], r["field_code"]): r for r in rows}
    assert len(index) == len(rows), f"{name}: grain not unique"
    return index


def counts(r: dict | None) -> dict:
    return {k: (r[k] if r else 0) for k in COUNTS}


def unit_map(url: str):
    """The map in force on a day, computed here from marts.dim_unit (valid_to, successor_unit_id)
    independently of the warehouse's int_unit_succession: follow the SuccessorId chain to the
    first unit whose valid_to is open or on or after the day (its end if there is none)."""
    units = {r["unit_id"]: r for r in query(url, "select unit_id, valid_to, successor_unit_id from marts.dim_unit")}

    def reported_under(unit_id: str, day: dt.date) -> str:
        seen, current = [], unit_id
        while True:
            seen.append(current)
            valid_to = units[current]["valid_to"]
            nxt = units[current]["successor_unit_id"]
            if valid_to is None or valid_to >= day or not nxt or nxt in seen or nxt not in units:
                return current
            current = nxt

    return reported_under


def check_identity_5_through_map(rows: dict[tuple, dict], reported_under) -> int:
    """Identity 5 read through the map, for every row and field: carried_over of (u, p) = the sum
    of pending_total of p - 1 over the units the map at p's end sends to u; and every pending_total
    of p - 1 lands in a row of p (unless p - 1 is the last period). Returns how many rows carried
    over another unit's pending (the merge is exercised, not vacuous)."""
    ends: dict[tuple, dt.date] = {(k[0], k[1]): r["period_end"] for k, r in rows.items()}
    by_end = {(pt, end): ps for (pt, ps), end in ends.items()}
    last = {pt: max(ps for (t, ps) in ends if t == pt) for pt, _ in ends}
    expected: dict[tuple, int] = defaultdict(int)
    moved: set[tuple] = set()
    for (pt, ps, u, f), r in rows.items():
        if ps == last[pt]:
            continue
        nxt = next(start for (t, start) in ends if t == pt and start == ends[(pt, ps)] + dt.timedelta(days=1))
        target = reported_under(u, ends[(pt, nxt)])
        expected[(pt, nxt, target, f)] += r["pending_total"]
        if target != u and r["pending_total"]:
            moved.add((pt, nxt, target, f))
    for (pt, ps, u, f), r in rows.items():
        has_previous = (pt, ps - dt.timedelta(days=1)) in by_end
        if has_previous:
            assert r["carried_over"] == expected.get((pt, ps, u, f), 0), (pt, ps, u, f, r["carried_over"])
    for key, pending in expected.items():
        assert pending == 0 or key in rows, f"pending {pending} carried into {key}, which has no row"
    return len(moved)


def check_province_totals_equal(in_force: dict[tuple, dict], current: dict[tuple, dict], province: str) -> int:
    """The province's rows are the same under both maps, every period, field and count."""
    a = {k: counts(r) | {"period_end": r["period_end"]} for k, r in in_force.items() if k[2] == province}
    b = {k: counts(r) | {"period_end": r["period_end"]} for k, r in current.items() if k[2] == province}
    assert a and a.keys() == b.keys()
    for key in a:
        assert a[key] == b[key], key
    return len(a)


# -- the map in force: June under the old units, July under the new -----------------------------------
JUNE = {
    # A: R1 received at the desk, open at A's last day, within deadline (due 07-04)
    A: expect(0, 1, 0, 0, 0, 0, 0, 1, 0),
    # B: R2 online (overdue since 06-27), R8 at the desk on 06-30 (due 07-07): both open at B's end
    B: expect(1, 1, 0, 0, 0, 0, 0, 1, 1),
    # C: R7 carried from May and finished late (06-10 > 06-05), R4 received and finished early
    C: expect(0, 1, 1, 1, 0, 1, 0, 0, 0),
    # D: R3 at the district's desk, open within deadline (due 07-10)
    D: expect(0, 1, 0, 0, 0, 0, 0, 1, 0),
    # the province: A + B + C + D
    P: expect(1, 4, 1, 1, 0, 1, 0, 3, 1),
}
JULY = {
    # N1 carries over what A (R1), B (R2, R8) and D (R3) left pending at 06-30: 1 + 2 + 1 = 4;
    # receives R5 (recorded under A after its valid_to, online) and R6 (desk); resolves R8 (07-01),
    # R1 (07-03), R5 (07-07) early and R2 (07-08) late; pending at 07-15: R6 within deadline
    # (due 07-20), R3 overdue (due 07-10)
    N1: expect(1, 1, 4, 3, 0, 1, 0, 1, 1),
    # N2: C left nothing pending; valid, so a zero row
    N2: expect(0, 0, 0, 0, 0, 0, 0, 0, 0),
    # the province carries over its own June pending (4)
    P: expect(1, 1, 4, 3, 0, 1, 0, 1, 1),
}
WEEKS = {
    # week 06-23..06-29, old map: A carries R1; B carries R2 (overdue since 06-27); D receives R3
    (D_(2025, 6, 23), A): expect(0, 0, 1, 0, 0, 0, 0, 1, 0),
    (D_(2025, 6, 23), B): expect(0, 0, 1, 0, 0, 0, 0, 0, 1),
    (D_(2025, 6, 23), D): expect(0, 1, 0, 0, 0, 0, 0, 1, 0),
    # week 06-30..07-06 straddles the date: reported whole under the map of 07-06. N1 carries the
    # 3 that A, B, D had open at 06-29; receives R8 (desk, 06-30 at B), R5 (online), R6 (desk);
    # resolves R8 and R1 early; pending at 07-06: R3, R5, R6 within deadline, R2 overdue
    (D_(2025, 6, 30), N1): expect(1, 2, 3, 2, 0, 0, 0, 3, 1),
}


@pytest.mark.parametrize("unit_id", list(JUNE))
def test_june_under_the_old_map(built, unit_id):
    got = report(built, "tthc_report").get(("month", D_(2025, 6, 1), unit_id, "*"))
    assert got is not None, unit_id
    assert counts(got) == JUNE[unit_id]


@pytest.mark.parametrize("unit_id", list(JULY))
def test_july_under_the_new_map(built, unit_id):
    got = report(built, "tthc_report").get(("month", D_(2025, 7, 1), unit_id, "*"))
    assert got is not None, unit_id
    assert counts(got) == JULY[unit_id]
    assert got["period_end"] == D_(2025, 7, 15)


def test_old_units_have_no_rows_after_the_date(built):
    rows = report(built, "tthc_report")
    for (pt, ps, u, _f), r in rows.items():
        if u in (A, B, C, D):
            assert r["period_end"] <= D_(2025, 6, 30), (pt, ps, u)
        if u in (N1, N2):
            assert r["period_end"] >= D_(2025, 7, 1), (pt, ps, u)
    # the year 2025 (map of 07-15) and the third quarter: only the new communes and the province
    years = {u for (pt, ps, u, _f) in rows if pt == "year"}
    assert years == {P, N1, N2}
    # a commune's last day (the day 06-30) is still its own: R8 received at B
    assert counts(rows[("day", D_(2025, 6, 30), B, "*")]) == expect(0, 1, 1, 0, 0, 0, 0, 1, 1)
    # ... and the next day N1 carries over the 4 dossiers A, B and D left open
    assert counts(rows[("day", D_(2025, 7, 1), N1, "*")]) == expect(0, 0, 4, 1, 0, 0, 0, 2, 1)


@pytest.mark.parametrize(("start", "unit_id"), list(WEEKS))
def test_weeks_across_the_date(built, start, unit_id):
    got = report(built, "tthc_report").get(("week", start, unit_id, "*"))
    assert got is not None, (start, unit_id)
    assert counts(got) == WEEKS[(start, unit_id)]
    rows = report(built, "tthc_report")
    assert not any(k[:2] == ("week", D_(2025, 6, 30)) and k[2] in (A, B, C, D) for k in rows)


def test_field_rows_carry_over_by_field(built):
    rows = report(built, "tthc_report")
    # LV02: R3 (D, within deadline at 06-30) is carried over to N1's LV02 row
    assert rows[("month", D_(2025, 6, 1), D, "LV02")]["pending_total"] == 1
    assert counts(rows[("month", D_(2025, 7, 1), N1, "LV02")]) == expect(1, 0, 1, 1, 0, 0, 0, 0, 1)
    # LV01: R1 (A), R2 and R8 (B) carried; R6 received; R1, R8 early, R2 late; R6 pending
    assert counts(rows[("month", D_(2025, 7, 1), N1, "LV01")]) == expect(0, 1, 3, 2, 0, 1, 0, 1, 0)


def test_lateness_classifications_unchanged_by_the_merge(built):
    """R1 and R2 keep the classifications of their due dates under both rules, though they
    finished under the successor; and each is resolved in N1's July row in its class."""
    timeliness = {r["dossier_id"]: r for r in query(
        built, "select f.dossier_id, f.unit_id, f.timeliness, t.timeliness_766 from marts.fct_dossiers f"
               " join int.int_dossier_timeliness_766 t on t.dossier_id = f.dossier_id")}
    assert (timeliness["R1"]["timeliness"], timeliness["R1"]["timeliness_766"]) == ("early", "on_time")
    assert (timeliness["R2"]["timeliness"], timeliness["R2"]["timeliness_766"]) == ("late", "late")
    assert (timeliness["R8"]["timeliness"], timeliness["R8"]["timeliness_766"]) == ("early", "on_time")
    # the dossier-level facts keep the unit the source records
    assert timeliness["R1"]["unit_id"] == A and timeliness["R5"]["unit_id"] == A


def test_identity_5_through_the_map(built):
    rows = report(built, "tthc_report")
    moved = check_identity_5_through_map(rows, unit_map(built))
    # day 07-01, week 06-30, month/quarter/half year of July (the year has no predecessor): '*'
    # and field rows of N1
    assert moved >= 8
    # the successor's carried_over in July = the sum of its predecessors' pending_total in June
    june = sum(rows[("month", D_(2025, 6, 1), u, "*")]["pending_total"] for u in (A, B, D))
    assert rows[("month", D_(2025, 7, 1), N1, "*")]["carried_over"] == june == 4


# -- the restatement under today's map ---------------------------------------------------------------
def test_restated_june_row_is_the_sum_of_the_old_communes(built):
    current = report(built, "tthc_report_current_map")
    in_force = report(built, "tthc_report")
    for new, olds in ((N1, (A, B, D)), (N2, (C,))):
        for field in ("*", "LV01", "LV02"):
            want = {k: sum(counts(in_force.get(("month", D_(2025, 6, 1), u, field)))[k] for u in olds)
                    for k in COUNTS}
            assert counts(current.get(("month", D_(2025, 6, 1), new, field))) == want, (new, field)
    assert counts(current[("month", D_(2025, 6, 1), N1, "*")]) == expect(1, 3, 0, 0, 0, 0, 0, 3, 1)
    assert counts(current[("month", D_(2025, 6, 1), N2, "*")]) == expect(0, 1, 1, 1, 0, 1, 0, 0, 0)
    # May: R7 (C, open at 05-31 within deadline) is N2's; N1's old units were valid, so a zero row
    assert counts(current[("month", D_(2025, 5, 1), N2, "*")]) == expect(0, 1, 0, 0, 0, 0, 0, 1, 0)
    assert counts(current[("month", D_(2025, 5, 1), N1, "*")]) == expect(0, 0, 0, 0, 0, 0, 0, 0, 0)
    # July is the same under both maps
    for u in (N1, N2, P):
        assert counts(current[("month", D_(2025, 7, 1), u, "*")]) == counts(in_force[("month", D_(2025, 7, 1), u, "*")])
    # only today's units
    assert {k[2] for k in current} == {P, N1, N2}


def test_restatement_chains_plainly(built):
    current = report(built, "tthc_report_current_map")
    identity_map = lambda unit_id, day: unit_id  # noqa: E731  (today's units never move)
    check_identity_5_through_map(current, identity_map)
    assert current[("month", D_(2025, 6, 1), N1, "*")]["pending_total"] == \
        current[("month", D_(2025, 7, 1), N1, "*")]["carried_over"]


def test_province_totals_equal_under_both_maps(built):
    checked = check_province_totals_equal(report(built, "tthc_report"), report(built, "tthc_report_current_map"), P)
    assert checked > 100  # days, weeks, months, quarters, half years, the year; '*' and fields


def test_unit_succession(built):
    rows = query(built, "select * from marts.dim_unit_succession order by unit_id, from_day nulls first")
    by_unit = defaultdict(list)
    for r in rows:
        by_unit[r["unit_id"]].append((r["report_unit_id"], r["from_day"], r["to_day"]))
    assert by_unit[A] == [(A, None, D_(2025, 6, 30)), (N1, D_(2025, 7, 1), None)]
    assert by_unit[C] == [(C, None, D_(2025, 6, 30)), (N2, D_(2025, 7, 1), None)]
    assert by_unit[N1] == [(N1, None, None)] and by_unit[P] == [(P, None, None)]


# -- the subtree and the gate --------------------------------------------------------------------------
def test_subtree_of_the_abolished_district(built):
    subtree = report(built, "tthc_report_subtree")
    # June: D's subtree = D + A + B + C
    assert counts(subtree[("month", D_(2025, 6, 1), D, "*")]) == expect(1, 4, 1, 1, 0, 1, 0, 3, 1)
    # from the week of 06-30 on, no row: D's communes' dossiers are N1's and N2's
    assert not any(k[2] == D and r["period_end"] > D_(2025, 6, 30) for k, r in subtree.items())
    assert counts(subtree[("month", D_(2025, 7, 1), P, "*")]) == JULY[P]


def test_gate_passes_on_the_candidates(built, tmp_path):
    from cchc.quality import published_suites, run_gate

    assert published_suites(["tthc_report_current_map"]) == ["tthc_report_current_map"]
    result = run_gate(built, ["tthc_report", "tthc_report_subtree", "tthc_report_current_map"],
                      schema_map={"kpi": "kpi_build"}, run_id="test_reorganisation_gate", report_dir=tmp_path)
    assert result.success, result.failures


def test_leader_paper_documents_agree_with_esignature_usage_through_the_map(built, tmp_path):
    """The list names the issuing unit; esignature_usage counts A's July document on N1's row: the
    gate's agreement check reads the list through the map at the month's end."""
    from cchc.quality import run_gate

    listed = {(r["document_id"], r["unit_id"], r["month"]) for r in query(
        built, "select document_id, unit_id, month from kpi_build.leader_paper_documents")}
    assert listed == {("RD1", A, D_(2025, 6, 1)), ("RD2", A, D_(2025, 7, 1))}
    usage = {(r["unit_id"], r["period_start"]): r["paper_signed_by_leader"] for r in query(
        built, "select unit_id, period_start, paper_signed_by_leader from kpi_build.esignature_usage "
               "where period_type = 'month'")}
    assert usage[(A, D_(2025, 6, 1))] == 1 and usage[(N1, D_(2025, 7, 1))] == 1 and (A, D_(2025, 7, 1)) not in usage
    result = run_gate(built, ["leader_paper_documents", "esignature_usage"], schema_map={"kpi": "kpi_build"},
                      run_id="test_reorganisation_paper", report_dir=tmp_path)
    assert result.success, result.failures
    with psycopg.connect(built) as conn:
        conn.execute("update kpi_build.esignature_usage set paper_signed_by_leader = 0 "
                     f"where unit_id = '{N1}' and period_type = 'month' and period_start = '2025-07-01'")
    try:
        broken = run_gate(built, ["leader_paper_documents"], schema_map={"kpi": "kpi_build"},
                          run_id="test_reorganisation_paper_broken", report_dir=tmp_path)
    finally:
        with psycopg.connect(built) as conn:
            conn.execute("update kpi_build.esignature_usage set paper_signed_by_leader = 1 "
                         f"where unit_id = '{N1}' and period_type = 'month' and period_start = '2025-07-01'")
    assert not broken.success
    assert any(f.startswith("leader_paper_documents.agrees_with_esignature_usage") for f in broken.failures)


def test_gate_catches_a_lost_carry_over(built, tmp_path):
    """N1's July carried_over no longer equals its predecessors' June pending (identities 1-4 kept
    on the row), and a province row of the restatement differs from the report's."""
    from cchc.quality import run_gate

    changes = [
        ("tthc_report", f"set carried_over = carried_over + {{d}}, received_total = received_total + {{d}},"
                        f" pending_on_time = pending_on_time + {{d}}, pending_total = pending_total + {{d}}"
                        f" where unit_id = '{N1}' and period_type = 'month' and period_start = '2025-07-01'"
                        f" and field_code = '*'"),
        ("tthc_report_current_map", f"set received_online = received_online + {{d}}, received_total ="
                                    f" received_total + {{d}}, resolved_early = resolved_early + {{d}},"
                                    f" resolved_total = resolved_total + {{d}} where unit_id = '{P}'"
                                    f" and period_type = 'day' and period_start = '2025-06-20' and field_code = '*'"),
    ]
    with psycopg.connect(built) as conn:
        for table, change in changes:
            conn.execute(f"update kpi_build.{table} " + change.format(d=1))
    try:
        result = run_gate(built, ["tthc_report", "tthc_report_current_map"], schema_map={"kpi": "kpi_build"},
                          run_id="test_reorganisation_gate_broken", report_dir=tmp_path)
    finally:
        with psycopg.connect(built) as conn:
            for table, change in changes:
                conn.execute(f"update kpi_build.{table} " + change.format(d=-1))
    failed = {f.split(":")[0] for f in result.failures}
    assert not result.success
    assert {"tthc_report.identity_5_carried_over",
            "tthc_report_current_map.province_totals_equal_tthc_report"} <= failed, result.failures


# -- both lateness rules, every dossier (issue 9, "Done when": the scenario catalogue) ---------------
# Worked by hand from each dossier's data, by the rules of README "The two lateness rules" (codes:
# seeds/lateness_reasons.csv). No dossier here has a supplement or an apology slip, so both rules
# judge the finish against NgayHenTra: after it -> late / finished_after_due (both); else the
# periodic rule says early / finished_early on a day before the due day, on_time /
# finished_on_time on it, and Decision 766 on_time / finished_on_time. An open dossier is 'open' /
# open_judged_at_period_end in int_dossier_lateness and judged at the end of as_of_date (07-15) in
# int_open_dossier_lateness. The merge changes no verdict: a dossier keeps its own due date and the
# unit the source records. Working days late = working days in (due day, finish day].


EARLY = ("early", "finished_early", "on_time", "finished_on_time")
OPEN = ("open", "open_judged_at_period_end", "open", "open_judged_at_period_end")
VERDICTS = {
    # R1 open across 1/7 in a merged commune (A -> N1): finished Thu 07-03 10:00, due Fri 07-04
    #    17:00 -> early; 766 on time
    "R1": Verdicts(*EARLY),
    # R2 due Fri 06-27 17:00, finished Tue 07-08 10:00 under N1 -> late by both, finished_after_due;
    #    (06-27, 07-08] = 06-30, 07-01, 02, 03, 04, 07, 08 -> 7
    "R2": Verdicts("late", "finished_after_due", "late", "finished_after_due", 7, 7),
    # R3 the abolished district's desk, open (status 4), due Thu 07-10 17:00, before the end of
    #    07-15 -> past due by both
    "R3": Verdicts(*OPEN, at_as_of=("late", "open_past_due", "late", "open_past_due")),
    # R4 finished Wed 06-18, due Fri 06-20 -> early; 766 on time
    "R4": Verdicts(*EARLY),
    # R5 recorded under A after its valid_to: finished Mon 07-07, due Wed 07-09 -> early; 766 on time
    "R5": Verdicts(*EARLY),
    # R6 open (status 2, accepted), due Sun 07-20 17:00, after the end of 07-15 -> within due by both
    "R6": Verdicts(*OPEN, at_as_of=("open", "open_within_due", "open", "open_within_due")),
    # R7 due Thu 06-05 17:00, finished Tue 06-10 10:00 -> late by both, finished_after_due;
    #    (06-05, 06-10] = 06, 09, 10 -> 3
    "R7": Verdicts("late", "finished_after_due", "late", "finished_after_due", 3, 3),
    # R8 received on B's last day, finished Tue 07-01 09:00 under N1, due Mon 07-07 -> early; 766 on time
    "R8": Verdicts(*EARLY),
}


def test_both_lateness_rules_every_dossier(built):
    """Every dossier's classification and reason under both rules (int_dossier_lateness), its
    working days late, and for the dossiers open at as_of_date their judgement there
    (int_open_dossier_lateness), against the hand-worked table; the unit stays the source's."""
    assert set(VERDICTS) == {rec["MaHoSo"] for rec in DOSSIERS}
    got, units = lateness_verdicts(built)
    assert set(got) == set(VERDICTS)
    wrong = {code: (VERDICTS[code], got[code]) for code in VERDICTS if got[code] != VERDICTS[code]}
    assert not wrong, wrong
    assert units == {rec["MaHoSo"]: rec["DonViXuLy"] for rec in DOSSIERS}


# kpi.late_dossiers, worked from the verdicts above; the list keeps the unit the source records:
#   June  R2 (B) open past due at the end of 06-30 ((06-27, 06-30] = 06-30 -> 1), R7 (C) finished
#         late (3); July (to 07-15) R2 (B) finished late (7), R3 (D) open past due ((07-10, 07-15] =
#         11, 14, 15 -> 3). The same rows by both rules (no supplement). May: R7 open at 05-31 is
#         within its due (06-05): not listed.
LATE_LIST = {
    (D_(2025, 6, 1), "R2", rule): (B, "open_past_due", 1) for rule in ("periodic_report", "decision_766")
} | {
    (D_(2025, 6, 1), "R7", rule): (C, "finished_after_due", 3) for rule in ("periodic_report", "decision_766")
} | {
    (D_(2025, 7, 1), "R2", rule): (B, "finished_after_due", 7) for rule in ("periodic_report", "decision_766")
} | {
    (D_(2025, 7, 1), "R3", rule): (D, "open_past_due", 3) for rule in ("periodic_report", "decision_766")
}


def test_the_late_list_by_both_rules(built):
    rows = query(built, "select month, dossier_code, rule, unit_id, reason_code, working_days_late"
                        " from kpi_build.late_dossiers")
    got = {(r["month"], r["dossier_code"], r["rule"]): (r["unit_id"], r["reason_code"], r["working_days_late"])
           for r in rows}
    assert got == LATE_LIST
