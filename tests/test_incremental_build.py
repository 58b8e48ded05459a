"""Incremental nightly builds give the same warehouse as a full rebuild (real PostgreSQL, real dbt).

Five nights land through the ledger (export folders, land_day, the batch gate's verdicts) and are
built one by one with cchc.transform.build: new dossiers, a late update of an old dossier (finished
late, another moved to another unit and field), supplements requested then received (overdue ->
waiting -> within deadline), a due time passing, a correction re-delivery of an old day that drops a
dossier and a document (held by the ledger, accepted by an operator), document signature updates.
Then `build(..., full_rebuild=True)` recomputes everything from scratch, and every table of int,
marts and kpi_build must be identical, row for row, to the incremental result (publication_id and
run_id aside). The incremental nights must also have recomputed only the changed records.
"""

from __future__ import annotations

import datetime as dt
import shutil

import psycopg
import pytest

from cchc.extract import FileSource
from cchc.land import land_day
from cchc.ledger import list_batches, record_gate, review
from cchc.transform.dbt_runner import build, dbt_work_dir
from export_fixtures import UNITS, document, dossier, step, ts, write_export_day, write_reference_day

pytestmark = pytest.mark.slow

KEY = b"incremental-test-key-0123456789"
# Mon 2025-06-02 .. Fri 2025-06-06
D1, D2, D3, D4, D5 = (dt.date(2025, 6, 2) + dt.timedelta(days=i) for i in range(5))
SCHEMAS = ("int", "marts", "kpi_build")
BUILD_COLUMNS = {"publication_id", "run_id", "merge_id"}  # merge_id: which ledger merge wrote the row
RECORD_MODELS = {
    "onestop__dossiers": ("int_dossiers", "int_dossier_supplements", "int_dossier_apologies", "int_dossier_fees",
                          "int_dossier_components", "int_dossier_result_documents", "int_dossier_events",
                          "fct_dossiers"),
    "edoc__documents": ("int_document_recipients", "int_document_statuses", "fct_document_signatures",
                        "fct_documents", "int_document_findings"),
}
#: per state table: (its record-level models whose rows_affected is one per changed record)
ONE_ROW_PER_RECORD = {"onestop__dossiers": ("int_dossiers", "fct_dossiers"), "edoc__documents": ("fct_documents",)}


def gen(day: dt.date, hours: int = 0) -> str:
    return (dt.datetime.combine(day + dt.timedelta(days=1), dt.time(3, 10)) + dt.timedelta(hours=hours)
            ).isoformat() + "+07:00"


def deliver(root, day, dossiers, documents, *, hours=0, reference=True, steps=()):
    """The day's export files: the dossiers with a first step each (and the extra steps), the documents."""
    if reference:
        write_reference_day(root, day, generated_at=gen(day, hours))
    write_export_day(root, "onestop", day,
                     {"dossiers": dossiers, "steps": [step(d["MaHoSo"], 1, day) for d in dossiers] + list(steps)},
                     generated_at=gen(day, hours))
    write_export_day(root, "edoc", day, {"documents": documents}, generated_at=gen(day, hours))


def land_and_gate(url, root, day):
    result = land_day(url, FileSource(root), day, pseudonym_key=KEY, run_id="incremental-test")
    with psycopg.connect(url) as conn:
        pending = [r["batch_id"] for r in list_batches(conn, dispositions=["pending"], limit=1000)]
        record_gate(conn, "incremental-test", passed=pending, failed={})
        conn.commit()
    return result


def redeliver_accepted(url, root, day, dossiers, documents, *, steps=()):
    """The day delivered again, corrected (five hours later, no reference lists): the batches that
    drop keys are held, an operator accepts them, then they pass the gate."""
    deliver(root, day, dossiers, documents, hours=5, reference=False, steps=steps)
    corrected = land_day(url, FileSource(root), day, feeds=["dossiers", "steps", "documents"], pseudonym_key=KEY,
                         run_id="incremental-test")
    with psycopg.connect(url) as conn:
        for b in corrected.batches:
            if b.disposition == "held":  # drops keys: an operator accepts the correction
                review(conn, b.batch_id, action="accept", by="test", reason=f"the source corrected day {day}")
        conn.commit()
    land_and_gate(url, root, day)  # nothing new to land; the accepted batches pass the gate


def code(day, i):
    return f"{UNITS[0]}-{day:%y%m%d}-{i:04d}"


def doc_id(day, i):
    return f"DOC-{day:%Y%m%d}-{i}"


# -- the nights ------------------------------------------------------------------------------------
def night1():
    dossiers = [dossier(code(D1, i), D1) for i in range(8)]
    # due at the end of D2: overdue from D2 on
    dossiers[4] = dossier(code(D1, 4), D1, NgayHenTra=ts(D2, 17))
    dossiers[2] = dossier(code(D1, 2), D1, NgayHenTra=ts(D2, 17))
    # finished on the day it was received (never pending)
    dossiers[5] = dossier(code(D1, 5), D1, TrangThaiHoSo="9", NgayKetThucXuLy=ts(D1, 15))
    return dossiers, [document(doc_id(D1, i), D1, CodeNumber=str(i + 1)) for i in range(3)]


def night2():
    dossiers = [dossier(code(D2, i), D2, KenhThucHien="1") for i in range(5)]
    # an old dossier finishes
    dossiers.append(dossier(code(D1, 1), D1, TrangThaiHoSo="9", NgayKetThucXuLy=ts(D2, 11), NgayCapNhat=ts(D2, 11)))
    return dossiers, [document(doc_id(D2, i), D2, CodeNumber=str(10 + i)) for i in range(3)]


def night3():
    dossiers = [dossier(code(D3, i), D3) for i in range(3)]
    # a supplement requested on D3: waiting (within deadline) although its due time has passed;
    # the due time in force on D2 was the supplement's NgayHenTraTruoc (D2 17:00): overdue then
    dossiers.append(dossier(code(D1, 2), D1, TrangThaiHoSo="5", NgayHenTra=ts(D2, 17), NgayCapNhat=ts(D3, 10),
                            DanhSachHoSoBoSung=[{"HoSoBoSungId": "BS1", "NgayYeuCauBoSung": ts(D3, 10),
                                                 "NgayTiepNhanBoSung": "", "NgayHenTraTruoc": ts(D2, 17),
                                                 "NgayHenTraMoi": ""}]))
    signed = document(doc_id(D1, 0), D1, CodeNumber="1", NgayCapNhat=ts(D3, 9),
                      Signatures=[{"Kind": "SIGNER", "SignedAt": ts(D1, 8, 30), "CertSerial": "ab", "Valid": True},
                                  {"Kind": "ORGANIZATION", "SignedAt": ts(D3, 8), "CertSerial": "cd", "Valid": True}])
    return dossiers, [signed, document(doc_id(D3, 0), D3, CodeNumber="20")]


def night4():
    dossiers = [dossier(code(D4, i), D4) for i in range(2)]
    # the supplement arrives, the due time moves to D6: within deadline
    dossiers.append(dossier(code(D1, 2), D1, TrangThaiHoSo="4", NgayHenTra=ts(D5 + dt.timedelta(days=1), 17),
                            NgayCapNhat=ts(D4, 9, 30),
                            DanhSachHoSoBoSung=[{"HoSoBoSungId": "BS1", "NgayYeuCauBoSung": ts(D3, 10),
                                                 "NgayTiepNhanBoSung": ts(D4, 9), "NgayHenTraTruoc": ts(D2, 17),
                                                 "NgayHenTraMoi": ts(D5 + dt.timedelta(days=1), 17)}]))
    # a late update of the oldest dossier: finished late (due D2)
    dossiers.append(dossier(code(D1, 4), D1, NgayHenTra=ts(D2, 17), TrangThaiHoSo="10",
                            NgayKetThucXuLy=ts(D4, 8), NgayTra=ts(D4, 9), NgayCapNhat=ts(D4, 9)))
    return dossiers, [document(doc_id(D4, 0), D4, CodeNumber="30", IsElectronic=False)]


def correction_of_d2():
    """D2 delivered again, corrected: one dossier and one document are no longer there, one dossier
    changed its status and channel."""
    dossiers, documents = night2()
    kept = [d for d in dossiers if d["MaHoSo"] != code(D2, 4)]
    kept[3] = dict(kept[3], TrangThaiHoSo="7", NgayKetThucXuLy=ts(D2, 16), KenhThucHien="2")
    return kept, documents[:2]


def night5():
    # an old dossier moves to another unit and field (its old cells must lose it)
    moved = dossier(code(D1, 6), D1, DonViXuLy=UNITS[2], MaLinhVuc="LV02", TenLinhVuc="Hộ tịch",
                    NgayCapNhat=ts(D5, 9))
    return [moved, dossier(code(D5, 0), D5)], [document(doc_id(D5, 0), D5, CodeNumber="40", Direction="IN",
                                                        OrganId=UNITS[2])]


# -- helpers ---------------------------------------------------------------------------------------
def tables(url) -> dict[str, list[str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select c.table_schema || '.' || c.table_name, array_agg(c.column_name::text order by c.ordinal_position) "
            "from information_schema.columns c join information_schema.tables t "
            "on t.table_schema = c.table_schema and t.table_name = c.table_name "
            "where t.table_type = 'BASE TABLE' and c.table_schema = any(%s) group by 1 order by 1",
            (list(SCHEMAS),)).fetchall()
    return {name: [c for c in cols if c not in BUILD_COLUMNS] for name, cols in rows}


def snapshot(url) -> dict[str, list[tuple]]:
    out = {}
    with psycopg.connect(url) as conn:
        for name, cols in tables(url).items():
            select = ", ".join(f'"{c}"::text' for c in cols)
            out[name] = sorted(conn.execute(f"select {select} from {name}").fetchall(),
                               key=lambda r: tuple("" if v is None else v for v in r))
    return out


def query(url, sql, params=()):
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def rows_affected(url, run_id, model):
    return query(url, "select rows_affected from ops.dbt_run_results where run_id = %s and unique_id = %s",
                 (run_id, f"model.cchc.{model}"))[0][0]


def read_tests_watermark(url) -> int | None:
    rows = query(url, "select merge_id from ops.dbt_tests_watermark where scope = 'staging'")
    return rows[0][0] if rows else None


def compiled_tests(url) -> dict[str, str]:
    """The SQL the last build ran for a staging test, an int_ test and the singular calendar test."""
    compiled = dbt_work_dir(url) / "target" / "compiled" / "cchc"
    found = {}
    for key, pattern in (("staging", "in_code_list_stg_onestop__doss*.sql"),
                         ("int", "accepted_values_int_dossiers_timeliness*.sql"),
                         ("singular", "assert_dossier_dates_in_calendar_years.sql")):
        paths = sorted(compiled.rglob(pattern))
        found[key] = paths[0].read_text() if paths else ""
    return found


# -- the test --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def nights(warehouse_db, tmp_path_factory):
    url, root = warehouse_db, tmp_path_factory.mktemp("exports")
    results = {}
    for n, (day, make) in enumerate([(D1, night1), (D2, night2), (D3, night3)], start=1):
        deliver(root, day, *make())
        land_and_gate(url, root, day)
        results[n] = build(url, as_of_date=day, publication_id=n, run_id=f"inc-{n}")
    # night 4: the day's delivery, and D2 delivered again without one dossier and one document
    deliver(root, D4, *night4())
    land_and_gate(url, root, D4)
    redeliver_accepted(url, root, D2, *correction_of_d2())
    results[4] = build(url, as_of_date=D4, publication_id=4, run_id="inc-4")
    deliver(root, D5, *night5())
    land_and_gate(url, root, D5)
    results["tested_before_5"] = read_tests_watermark(url)
    results[5] = build(url, as_of_date=D5, publication_id=5, run_id="inc-5")
    results["tested_after_5"] = read_tests_watermark(url)
    results["latest_merge_5"] = query(url, "select max(merge_id) from state.merges")[0][0]
    results["test_sql_5"] = compiled_tests(url)
    incremental = snapshot(url)
    results["full"] = build(url, as_of_date=D5, publication_id=6, run_id="full", full_rebuild=True)
    results["tested_after_full"] = read_tests_watermark(url)
    results["latest_merge_full"] = query(url, "select max(merge_id) from state.merges")[0][0]
    results["test_sql_full"] = compiled_tests(url)
    yield url, results, incremental, snapshot(url)
    shutil.rmtree(dbt_work_dir(url), ignore_errors=True)


def test_the_scenario_happened(nights):
    url, results, _, _ = nights
    # the correction was applied: a dossier and a document removed, logged by the merge
    removed = {r[0]: r[1] for r in query(url, "select table_name, count(*) from state.removed_keys group by 1")}
    assert removed == {"onestop__dossiers": 1, "onestop__steps": 1, "edoc__documents": 1}
    assert results[4].state.tables["onestop__dossiers"]["mode"] == "incremental"
    ids = {r[0] for r in query(url, "select dossier_id from marts.fct_dossiers")}
    assert code(D2, 4) not in ids and code(D1, 6) in ids
    assert doc_id(D2, 2) not in {r[0] for r in query(url, "select document_id from marts.fct_documents")}
    # the supplement dossier: overdue at the end of D2, waiting on D3, within deadline from D4
    events = query(url, "select date_day, pending_on_time_change, pending_overdue_change from int.int_dossier_events"
                        " where dossier_id = %s order by date_day", (code(D1, 2),))
    # (and overdue again from the end of its new due day, after as_of_date: a future event)
    assert events == [(D1, 1, 0), (D2, -1, 1), (D3, 1, -1), (D5 + dt.timedelta(days=1), -1, 1)]
    # the late update: received D1, overdue from D2, finished late on D4
    assert query(url, "select timeliness from marts.fct_dossiers where dossier_id = %s", (code(D1, 4),)) == [("late",)]
    daily = query(url, "select date_day, pending_on_time, pending_overdue from marts.fct_dossier_daily"
                       " where unit_id = %s and field_code = 'LV01' order by date_day", (UNITS[1],))
    assert daily[-1][0] == D5 and sum(daily[-1][1:]) > 0


def test_incremental_nights_equal_a_full_rebuild(nights):
    _, results, incremental, full = nights
    assert "full" in results and results["full"].state.any_full
    assert set(incremental) == set(full)
    for table in ("int.int_dossiers", "int.int_dossier_events", "marts.fct_dossiers", "marts.fct_dossier_daily",
                  "marts.fct_documents", "kpi_build.tthc_report", "kpi_build.dossier_facts_daily"):
        assert table in full and full[table], f"{table} is empty: the comparison would prove nothing"
    different = [t for t in full if incremental[t] != full[t]]
    for t in different:  # name the first differing rows
        only_inc = [r for r in incremental[t] if r not in full[t]][:3]
        only_full = [r for r in full[t] if r not in incremental[t]][:3]
        print(t, "incremental only:", only_inc, "full only:", only_full)
    assert different == []


def test_the_tests_read_the_nights_rows(nights):
    """A night's tests of record-level rows read the rows merged since the last build without
    errors; a full rebuild tests every row; each build's watermark is the latest merge it built on."""
    url, results, _, _ = nights
    before, sql = results["tested_before_5"], results["test_sql_5"]
    assert before is not None and before >= 0
    assert results["tested_after_5"] == results["latest_merge_5"] > before
    for kind in ("staging", "int", "singular"):
        assert f"merge_id > {before}" in sql[kind], (kind, sql[kind])
    assert results["tested_after_full"] == results["latest_merge_full"]
    for kind in ("staging", "int", "singular"):
        assert "merge_id > -1" in results["test_sql_full"][kind], kind
    # a relation without merge_id (daily facts, candidates) is tested whole
    compiled = dbt_work_dir(url) / "target" / "compiled" / "cchc"
    daily = sorted(compiled.rglob("fct_dossier_daily_totals.sql"))
    assert daily and "merge_id" not in daily[0].read_text()


def test_a_night_recomputes_only_the_changed_records(nights):
    url, results, _, _ = nights
    total = {"onestop__dossiers": query(url, "select count(*) from marts.fct_dossiers")[0][0],
             "edoc__documents": query(url, "select count(*) from marts.fct_documents")[0][0]}
    for night in (2, 3, 4, 5):
        for table, models in ONE_ROW_PER_RECORD.items():
            merge = results[night].state.tables[table]
            assert merge["mode"] == "incremental" and 0 < merge["keys"] < total[table], (night, table)
            # the incremental models took in the changed records only (removed ones are deleted)
            removed = query(url, "select count(*) from state.removed_keys where table_name = %s and merge_id = %s",
                            (table, merge["merge_id"]))[0][0]
            for model in models:
                assert rows_affected(url, f"inc-{night}", model) == merge["keys"] - removed, (night, model)
    # every record model's watermark is the state's latest merge
    for table, models in RECORD_MODELS.items():
        latest = query(url, "select max(merge_id) from state.merges where table_name = %s", (table,))[0][0]
        marks = dict(query(url, "select model_name, merge_id from ops.dbt_incremental_watermarks"
                                " where state_table = %s", (table,)))
        assert {m: marks.get(m) for m in models} == {m: latest for m in models}


def test_a_changed_reference_list_forces_a_full_refresh(nights):
    url, _, _, _ = nights
    with psycopg.connect(url) as conn:
        batch = conn.execute("select batch_id from raw.load_batches where feed = 'units' and disposition = 'in_force'"
                             " order by source_day desc limit 1").fetchone()[0]
        conn.execute("update raw.reference__units set payload = jsonb_set(payload, '{Name}', '\"Renamed\"')"
                     " where batch_id = %s", (batch,))
        conn.commit()
    build(url, as_of_date=D5, publication_id=7, run_id="ref-changed")
    # a full refresh rebuilt every dossier, not only the changed ones (none changed)
    total = query(url, "select count(*) from marts.fct_dossiers")[0][0]
    assert rows_affected(url, "ref-changed", "fct_dossiers") == total
    assert query(url, "select distinct unit_name from kpi_build.dossier_facts_daily where unit_id = %s",
                 (UNITS[1],)) == [("Renamed",)]
    # the next night with nothing changed: incremental, nothing recomputed
    build(url, as_of_date=D5, publication_id=8, run_id="nothing-new")
    for model in ("fct_dossiers", "int_dossier_events", "fct_documents"):
        assert rows_affected(url, "nothing-new", model) == 0, model
