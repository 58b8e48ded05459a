"""Incremental builds across a month's end give the same warehouse as a full rebuild.

The models that keep rows per month (int_indicator_monthly_dossier_counts and
int_due_date_unit_months, recomputing the (unit, month) cells a night touches, the second after a
build of it that failed; int_late_dossiers_monthly, int_late_dossier_months, int_late_dossier_list
and int_due_date_month_ends, recomputing the changed dossiers and the months from the previous
as_of_date on) are checked where their shortcuts could go wrong: the running month closes (May's end judged at
the end of May, not at as_of_date), a new month starts, a dossier received in an earlier month
changes (its April cell), a dossier moves to another unit (both units' cells), backlog changes
dated after as_of_date come into range, and an earlier month's late dossier gains and loses steps
(the late list's longest step) while its record stays as it was.
Real PostgreSQL and dbt; every table of int, marts and kpi_build is compared row for row.
"""

from __future__ import annotations

import datetime as dt
import shutil

import psycopg
import pytest
from export_fixtures import UNITS, document, dossier, step, ts
from test_incremental_build import deliver, land_and_gate, query, redeliver_accepted, snapshot

from cchc.transform.dbt_runner import DbtBuildError, build, dbt_work_dir

pytestmark = pytest.mark.slow
A, B, C, D = dt.date(2025, 5, 29), dt.date(2025, 5, 30), dt.date(2025, 6, 2), dt.date(2025, 6, 3)
APRIL = dt.date(2025, 4, 10)


def code(day, i):
    return f"M-{day:%y%m%d}-{i:03d}"


def night_a():
    dossiers = [dossier(code(A, i), A) for i in range(4)]
    dossiers[1] = dossier(code(A, 1), A, NgayHenTra=ts(B, 17))  # overdue from the end of May 30, still open
    dossiers[2] = dossier(code(A, 2), A, NgayHenTra=ts(C, 17))  # overdue from June 2 (after as_of_date)
    # another unit's only dossier, due on the morning of June 3: its backlog change that day (the
    # national portal's "within deadline" ends) lies after as_of_date until the night of June 3
    dossiers.append(dossier(code(A, 5), A, DonViXuLy=UNITS[0], NgayHenTra=ts(D, 8)))
    # received in April, delivered late, still open and overdue since April 24
    dossiers.append(dossier(code(APRIL, 0), APRIL, NgayHenTra=ts(dt.date(2025, 4, 24), 17), NgayCapNhat=ts(A, 8)))
    dossiers.append(stepped_dossier())
    return dossiers, [document(f"MD-{A}-0", A, CodeNumber="1")]


def night_b():
    dossiers = [dossier(code(B, i), B, KenhThucHien="1") for i in range(3)]
    dossiers.append(dossier(code(A, 3), A, TrangThaiHoSo="9", NgayKetThucXuLy=ts(B, 11), NgayCapNhat=ts(B, 11)))
    return dossiers, [document(f"MD-{B}-0", B, CodeNumber="2")]


def night_c():
    # the April dossier finishes late in June, with an electronic result (its April reception cell
    # and its June finish cell change); a May dossier moves to another unit
    finished = dossier(code(APRIL, 0), APRIL, NgayHenTra=ts(dt.date(2025, 4, 24), 17), TrangThaiHoSo="10",
                       NgayKetThucXuLy=ts(C, 9), NgayTra=ts(C, 10), NgayCapNhat=ts(C, 10),
                       HoSoCoThanhPhanSoHoa="0")
    moved = dossier(code(B, 0), B, KenhThucHien="1", DonViXuLy=UNITS[2], NgayCapNhat=ts(C, 9))
    return [finished, moved, dossier(code(C, 0), C)], [document(f"MD-{C}-0", C, CodeNumber="3")]


def night_d():
    return [dossier(code(D, 0), D)], [document(f"MD-{D}-0", D, CodeNumber="4")]


# A late April dossier of another unit whose record never changes after night A (delivered in day
# A's file; its first step is recorded on day A). Day C's file records a step that held it in April:
# its April row (a month before night C's recomputed months) must name that step's official; night D
# delivers day C again without the step, and the April row must lose it again (no step before the
# end of April).
STEPPED = code(APRIL, 1)


def stepped_dossier():
    return dossier(STEPPED, APRIL, DonViXuLy=UNITS[2], NgayHenTra=ts(dt.date(2025, 4, 24), 17), NgayCapNhat=ts(A, 8))


def april_step():
    return step(STEPPED, 2, APRIL, NgayBatDau=ts(dt.date(2025, 4, 11), 9), ThoiDiemXuLy=ts(dt.date(2025, 4, 22), 16),
                NguoiXuLy="Cán bộ C", NgayCapNhat=ts(C, 8))


def cells_log(url):
    """The readers' marks on the (unit, month) cells log, and the change_ids left in the log."""
    marks = dict(query(url, "select model_name, change_id from ops.indicator_cell_marks"))
    return marks, [r[0] for r in query(url, "select change_id from ops.indicator_cell_changes order by 1")]


def build_with_one_cells_reader_failing(url, day, n):
    """Night C's first build fails in int_due_date_unit_months (a constraint refuses its rows), after
    int_indicator_monthly_dossier_counts took in the night's cells: the failed reader's mark stays
    where it was, so the night's log rows stay for its next build (the retry that follows)."""
    before, _ = cells_log(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("alter table int.int_due_date_unit_months add constraint refuse_rows check (false) not valid")
    try:
        with pytest.raises(DbtBuildError, match="int_due_date_unit_months"):
            build(url, as_of_date=day, publication_id=n, run_id=f"months-{n}-failing")
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("alter table int.int_due_date_unit_months drop constraint if exists refuse_rows")
    after, log_rows = cells_log(url)
    return before, after, log_rows


@pytest.fixture(scope="module")
def months(warehouse_db, tmp_path_factory):
    url, root = warehouse_db, tmp_path_factory.mktemp("exports_months")
    for n, (day, make) in enumerate([(A, night_a), (B, night_b), (C, night_c), (D, night_d)], start=1):
        if day == D:  # day C again, corrected: without the April step
            redeliver_accepted(url, root, C, *night_c())
        deliver(root, day, *make(), steps=[april_step()] if day == C else [])
        land_and_gate(url, root, day)
        if day == C:
            cells_log_after_c = build_with_one_cells_reader_failing(url, day, n)
        build(url, as_of_date=day, publication_id=n, run_id=f"months-{n}")
        if day == C:
            officials_after_c = april_officials(url)
    incremental = snapshot(url)
    build(url, as_of_date=D, publication_id=9, run_id="months-full", full_rebuild=True)
    yield url, incremental, snapshot(url), officials_after_c, cells_log_after_c
    shutil.rmtree(dbt_work_dir(url), ignore_errors=True)


def test_the_month_scenario_happened(months):
    url, *_ = months
    late = query(url, "select month_start, dossier_id, late_kind, judged_at from int.int_late_dossiers_monthly "
                      "order by 1, 2")
    may, june = dt.date(2025, 5, 1), dt.date(2025, 6, 1)
    # judged at the end of May (the moment May ends), not at the end of as_of_date
    assert (may, code(A, 1), "pending_overdue", dt.datetime(2025, 6, 1)) in late
    kinds = {(m, d): k for m, d, k, _ in late}
    assert kinds[(june, code(APRIL, 0))] == "finished_late" and kinds[(may, code(APRIL, 0))] == "pending_overdue"
    assert kinds[(june, code(A, 2))] == "pending_overdue" and (may, code(A, 2)) not in kinds
    cells = dict(((u, m), r) for u, m, r in query(
        url, "select unit_id, month_start, dossiers_received from int.int_indicator_monthly_dossier_counts"))
    assert cells[(UNITS[1], dt.date(2025, 4, 1))] == 1 and cells[(UNITS[2], may)] == 1
    within = dict(((u, m), r) for u, m, r in query(
        url, "select unit_id, month_start, pending_within_deadline_766_change "
             "from int.int_indicator_monthly_dossier_counts"))
    assert within[(UNITS[0], may)] == 1 and within[(UNITS[0], june)] == -1  # the cell no dossier change touched


def test_incremental_months_equal_a_full_rebuild(months):
    _, incremental, full, *_ = months
    assert set(incremental) == set(full)
    for table in ("int.int_indicator_dossier_contributions", "int.int_indicator_monthly_dossier_counts",
                  "int.int_late_dossiers_monthly", "int.int_late_dossier_months", "int.int_late_dossier_list",
                  "int.int_due_date_unit_months", "int.int_due_date_month_ends", "kpi_build.due_date_audit_monthly",
                  "kpi_build.late_dossiers", "kpi_build.late_accountability", "kpi_build.dx_indicators"):
        assert table in full and full[table], f"{table} is empty: the comparison would prove nothing"
    different = [t for t in full if incremental[t] != full[t]]
    for t in different:
        print(t, "incremental only:", [r for r in incremental[t] if r not in full[t]][:3],
              "full only:", [r for r in full[t] if r not in incremental[t]][:3])
    assert different == []


def april_officials(url):
    return query(url, "select rule, official_name from kpi_build.late_dossiers "
                      "where dossier_code = %s and month = %s order by rule", (STEPPED, APRIL.replace(day=1)))


def test_a_late_month_follows_its_steps(months):
    """A step added to, then removed from, an earlier month's late dossier whose record is unchanged:
    each alone recomputes the dossier's rows of that month."""
    url, _, _, officials_after_c, _ = months
    assert officials_after_c == [("decision_766", "Cán bộ C"), ("periodic_report", "Cán bộ C")]
    assert april_officials(url) == [("decision_766", None), ("periodic_report", None)]


def test_a_cells_reader_that_failed_takes_in_the_night_at_its_next_build(months):
    """The cells log has two readers (macros/indicator_cells.sql): the one whose build failed keeps
    its mark, the log keeps the night's rows for it, and its retry takes them in (its cells equal a
    full rebuild's: test_incremental_months_equal_a_full_rebuild)."""
    url, *_, (before, after, log_rows) = months
    counts, due = "int_indicator_monthly_dossier_counts", "int_due_date_unit_months"
    assert before[counts] == before[due]  # night B: both took in the whole log
    assert after[counts] > before[counts]  # night C's first build: the counts took in the night's cells
    assert after[due] == before[due]  # the failed reader did not move
    assert log_rows and min(log_rows) > after[due] and max(log_rows) <= after[counts]  # kept for it
    marks, left = cells_log(url)
    assert marks[counts] == marks[due] and left == []  # every reader took everything in: pruned
