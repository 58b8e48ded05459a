"""No single bad record blocks the build: it is left out of the counts, named, and judged by
threshold at the publication gate. A real PostgreSQL, a real `dbt build`, a real GX gate.

Landed (as_of_date 2025-03-31; units: province P, district H under P; procedures 1.000001 in
field LV01, 1.000002 in LV02):

  good dossiers (all unit H)
    G1 LV01 online 10  recv 03-03 08:00 due 03-07 17:00 end 03-05 10:00 -> early
    G2 LV01 desk    9  recv 03-04 09:00 due 03-11 17:00 end 03-12 10:00 -> late
    G3 LV02 desk    4  recv 03-10 09:00 due 03-14 17:00                 -> pending, overdue at 03-31
    G4 LV02 online  2  recv 03-20 09:00 due 04-10 17:00                 -> pending within deadline
  bad dossiers (each would have failed the build before: calendar years, '*'/unknown field)
    B2099  LV01 desk 4  recv 03-05, NgayHenTra 2099-01-01               -> date_outside_calendar
    BFIELD field LV99 (no procedure has it) desk 2 recv 03-06           -> unknown_field
    B2019  LV01 desk 4  NgayTiepNhan 2019-06-01 (no calendar notice)    -> date_outside_calendar
  documents (unit H): one good outgoing document signed and dispatched on 03-05; one whose
  OrganId is no unit (unknown_unit); one whose signer's signature is dated 2099
  (date_outside_calendar: the working days to its dispatch are never guessed).

Month 2025-03, H, all fields: received online G1 G4, desk G2 G3; early G1, late G2; pending G3
overdue, G4 within deadline -> (2, 2, 0 | 1, 0, 1, 0 | 1, 1).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil

import psycopg
import pytest
from builders import day_of
from test_dbt_report import dossier, land, procedure, unit

from cchc.paths import EXPECTATIONS_DIR
from cchc.publish import candidate_tables
from cchc.quality import published_suites, run_gate
from cchc.quality.exclusions import EXCLUSION_SUITES, excluded_records, exclusion_counts, publication_gate_suites
from cchc.raw.schema import ensure_raw_schema
from cchc.transform.dbt_runner import DbtBuildError, build, dbt_work_dir, raise_for_failures, run_dbt

AS_OF = "2025-03-31"
RUN_ID = "test-build-bad-records"
BUILD_VARS = {"as_of_date": AS_OF, "publication_id": 7, "run_id": RUN_ID}
P, H, NOWHERE = "000.00.00.H26", "000.00.10.H26", "999.99.99.H99"
PROC1, PROC2 = "1.000001", "1.000002"

UNITS = [unit(P, "UBND tỉnh", "TINH"), unit(H, "UBND huyện", "HUYEN", P)]
PROCEDURES = [procedure(PROC1, "Cấp giấy chứng nhận quyền sử dụng đất", 5), procedure(PROC2, "Đăng ký khai sinh", 3)]

GOOD = [
    dossier("G1", H, PROC1, "2", "10", "20250303080000", "20250307170000", ended="20250305100000",
            returned="20250306090000", updated="20250306090000"),
    dossier("G2", H, PROC1, "1", "9", "20250304090000", "20250311170000", ended="20250312100000",
            updated="20250312100000"),
    dossier("G3", H, PROC2, "1", "4", "20250310090000", "20250314170000", updated="20250310090000"),
    dossier("G4", H, PROC2, "2", "2", "20250320090000", "20250410170000", updated="20250320090000"),
]
BAD = {
    "B2099": ("date_outside_calendar",
              dossier("B2099", H, PROC1, "1", "4", "20250305090000", "20990101170000", updated="20250305090000")),
    "BFIELD": ("unknown_field",
               dossier("BFIELD", H, PROC1, "1", "2", "20250306090000", "20250313170000", updated="20250306090000",
                       MaLinhVuc="LV99", TenLinhVuc="Không có")),
    "B2019": ("date_outside_calendar",
              dossier("B2019", H, PROC1, "1", "4", "20190601090000", "20190610170000", updated="20250307090000")),
}


def out_doc(doc_id: str, organ: str, signed: str, *, day: str = "20250305") -> dict:
    return {
        "DocumentId": doc_id, "Direction": "OUT", "OrganId": organ, "FromOrganId": organ,
        "CodeNumber": doc_id[-1], "CodeNotation": "QĐ-UBND", "DocumentType": "QĐ", "Subject": f"QĐ {doc_id}",
        "PromulgationDate": f"{day}000000", "IsElectronic": True, "IsSecret": False, "Channel": "VXP",
        "SignerFullName": "Trần Văn Giám", "SignerPosition": "Chủ tịch", "SignerCompetence": "TM.",
        "SignerIsLeader": True,
        "Signatures": [{"Kind": "SIGNER", "SignedAt": signed, "CertSerial": "S1", "Valid": True},
                       {"Kind": "ORGANIZATION", "SignedAt": f"{day}093000", "CertSerial": "O1", "Valid": True}],
        "RegisteredAt": f"{day}100000", "DispatchedAt": f"{day}110000", "AcknowledgedAt": "",
        "HandlingDueDate": "", "HandlingDoneAt": "", "Recipients": [{"OrganId": P}], "Statuses": [],
        "NgayCapNhat": f"{day}110000",
    }


DOCUMENTS = [out_doc("OK-1", H, "20250305090000"), out_doc("NOUNIT-2", NOWHERE, "20250305090000"),
             out_doc("Y2099-3", H, "20990305090000")]
BAD_DOCUMENTS = {"NOUNIT-2": "unknown_unit", "Y2099-3": "date_outside_calendar"}


@pytest.fixture(scope="module")
def built(warehouse_db):
    batches: dict[str, int] = {}
    with psycopg.connect(warehouse_db) as conn:
        ensure_raw_schema(conn)
        land(conn, "reference", "units", "2025-03-01", UNITS)
        land(conn, "reference", "procedures", "2025-03-01", PROCEDURES)
        by_day: dict[str, list[dict]] = {}
        for rec in [*GOOD, *(rec for _, rec in BAD.values())]:
            by_day.setdefault(day_of(rec["NgayCapNhat"]), []).append(rec)
        for day, records in sorted(by_day.items()):
            batch_id = land(conn, "onestop", "dossiers", day, records)
            batches.update({rec["MaHoSo"]: batch_id for rec in records})
        batch_id = land(conn, "edoc", "documents", "2025-03-05", DOCUMENTS)
        batches.update({doc["DocumentId"]: batch_id for doc in DOCUMENTS})
    result = build(warehouse_db, AS_OF, publication_id=7, run_id=RUN_ID)  # must not raise
    yield warehouse_db, result, batches
    shutil.rmtree(dbt_work_dir(warehouse_db), ignore_errors=True)


def query(url: str, sql: str, params=()) -> list[dict]:
    with psycopg.connect(url) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute(sql, params).fetchall()


COUNTS = ("received_online", "received_direct_postal", "carried_over", "resolved_early", "resolved_on_time",
          "resolved_late", "pending_on_time", "pending_overdue")


def march(url: str, field_code: str, unit_id: str = H) -> dict | None:
    rows = query(url, "select * from kpi_build.tthc_report where period_type = 'month'"
                      " and period_start = '2025-03-01' and unit_id = %s and field_code = %s", (unit_id, field_code))
    return {k: rows[0][k] for k in COUNTS} if rows else None


# -- the build -------------------------------------------------------------------------------------
def test_the_build_succeeds_and_warns(built):
    url, result, _ = built
    assert result.success
    warned = {r["unique_id"].split(".")[2] for r in result.results if r["status"] == "warn"}
    assert {"fct_dossiers_left_out_of_the_report", "fct_documents_left_out_of_the_kpis"} <= warned
    assert not [r for r in result.results if r["status"] in ("error", "fail")]


def test_bad_dossiers_are_kept_with_their_reason(built):
    url, _, batches = built
    facts = {r["dossier_id"]: r for r in query(url, "select * from marts.fct_dossiers")}
    assert set(facts) == {"G1", "G2", "G3", "G4", *BAD}
    for code, (reason, rec) in BAD.items():
        assert facts[code]["report_exclusion_reason"] == reason, code
        assert not facts[code]["is_in_report"]
        assert facts[code]["source_day"] == dt.date.fromisoformat(day_of(rec["NgayCapNhat"]))
        assert facts[code]["batch_id"] == batches[code]
    assert facts["BFIELD"]["field_code"] == "LV99" and not facts["BFIELD"]["is_known_field"]
    # the calendar macros never saw 2019 / 2099: no working days computed, nothing guessed
    assert facts["B2019"]["working_days_to_finish"] is None and not facts["B2019"]["has_dates_in_calendar"]
    for code in ("G1", "G2", "G3", "G4"):
        assert facts[code]["is_in_report"] and facts[code]["report_exclusion_reason"] is None, code
    assert facts["G1"]["working_days_to_finish"] == 2 and facts["G2"]["working_days_late"] == 1


def test_good_dossiers_are_counted_exactly(built):
    url, _, _ = built
    #                    online desk carried early on_time late pending on_time / overdue
    assert march(url, "*") == dict(zip(COUNTS, (2, 2, 0, 1, 0, 1, 1, 1), strict=True))
    assert march(url, "LV01") == dict(zip(COUNTS, (1, 1, 0, 1, 0, 1, 0, 0), strict=True))
    assert march(url, "LV02") == dict(zip(COUNTS, (1, 1, 0, 0, 0, 0, 1, 1), strict=True))
    assert march(url, "*", P) == march(url, "*")  # the province rolls up H
    fields = {r["field_code"] for r in query(url, "select distinct field_code from kpi_build.tthc_report")}
    assert fields == {"*", "LV01", "LV02"}  # LV99 never reaches the report
    # the 2019 reception does not stretch the report back to 2019 (no calendar for it)
    first = query(url, "select min(period_start) as d from kpi_build.tthc_report")[0]["d"]
    assert first.year == 2025


def test_bad_documents_are_left_out_of_the_kpis(built):
    url, _, batches = built
    docs = {r["document_id"]: r for r in query(url, "select * from marts.fct_documents")}
    assert docs["OK-1"]["is_in_esignature_kpi"] and docs["OK-1"]["dispatch_working_days"] == 0
    for doc_id, reason in BAD_DOCUMENTS.items():
        assert docs[doc_id]["report_exclusion_reason"] == reason, doc_id
        assert not docs[doc_id]["is_in_esignature_kpi"] and docs[doc_id]["batch_id"] == batches[doc_id]
    assert docs["Y2099-3"]["dispatch_working_days"] is None
    usage = query(url, "select outgoing_documents, fully_signed from kpi_build.esignature_usage"
                       " where period_type = 'month' and period_start = '2025-03-01' and unit_id = %s", (H,))
    assert usage == [{"outgoing_documents": 1, "fully_signed": 1}]
    assert query(url, "select count(*) as n from kpi_build.leader_paper_documents")[0]["n"] == 0


def test_stored_failures_name_record_day_and_batch(built):
    url, _, batches = built
    rows = query(url, "select dossier_id, report_exclusion_reason, source_day, batch_id"
                      " from audit.fct_dossiers_left_out_of_the_report order by dossier_id")
    assert [(r["dossier_id"], r["report_exclusion_reason"], r["source_day"], r["batch_id"]) for r in rows] == [
        (code, reason, dt.date.fromisoformat(day_of(rec["NgayCapNhat"])), batches[code])
        for code, (reason, rec) in sorted(BAD.items())]
    rows = query(url, "select document_id, report_exclusion_reason, source_day, batch_id"
                      " from audit.fct_documents_left_out_of_the_kpis order by document_id")
    assert [(r["document_id"], r["report_exclusion_reason"], r["source_day"], r["batch_id"]) for r in rows] == [
        (doc_id, reason, dt.date(2025, 3, 5), batches[doc_id]) for doc_id, reason in sorted(BAD_DOCUMENTS.items())]


def test_excluded_records_for_the_run_summary(built):
    url, _, batches = built
    with psycopg.connect(url) as conn:
        records = excluded_records(conn)
        counts = exclusion_counts(conn)
    assert {(r.kind, r.key, r.reason, r.batch_id) for r in records} == {
        *(("dossier", code, reason, batches[code]) for code, (reason, _) in BAD.items()),
        *(("document", doc_id, reason, batches[doc_id]) for doc_id, reason in BAD_DOCUMENTS.items())}
    assert counts == {"dossier": {"date_outside_calendar": 2, "unknown_field": 1},
                      "document": {"date_outside_calendar": 1, "unknown_unit": 1}}
    assert f"dossier B2019 (date_outside_calendar; source day 2025-03-07, batch {batches['B2019']})" in [
        str(r) for r in records]


# -- the publication gate ---------------------------------------------------------------------------
def gate_suites(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        tables = candidate_tables(conn)
    suites = publication_gate_suites(tables)
    assert suites == [*published_suites(tables), *EXCLUSION_SUITES]
    return suites


def test_the_gate_passes_below_the_threshold(built, tmp_path):
    url, _, _ = built
    result = run_gate(url, gate_suites(url), schema_map={"kpi": "kpi_build"}, run_id=f"{RUN_ID}-below",
                      report_dir=tmp_path)
    assert result.success, result.failures
    assert {"dossier_exclusions", "document_exclusions"} <= set(result.results_by_suite)


def test_the_gate_fails_above_the_threshold_naming_the_records(built, tmp_path):
    """The same build judged with a threshold of 0 (suite vars are data: a copy of the suites)."""
    url, _, batches = built
    suites_dir = tmp_path / "expectations"
    shutil.copytree(EXPECTATIONS_DIR, suites_dir)
    for name in EXCLUSION_SUITES:
        path = suites_dir / f"{name}.yml"
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"max_excluded_share: [0-9.]+", "max_excluded_share: 0", text)
        text = re.sub(r"min_excluded: [0-9]+", "min_excluded: 1", text)
        path.write_text(text, encoding="utf-8")
    result = run_gate(url, gate_suites(url), schema_map={"kpi": "kpi_build"}, run_id=f"{RUN_ID}-above",
                      report_dir=tmp_path / "gx", suites_dir=suites_dir)
    assert not result.success
    failed = {f.split(":", 1)[0]: f for f in result.failures}
    assert set(failed) == {"dossier_exclusions.excluded_share_under_threshold",
                           "document_exclusions.excluded_share_under_threshold"}
    dossiers = failed["dossier_exclusions.excluded_share_under_threshold"]
    assert "3 unexpected row(s)" in dossiers
    assert re.search(r"dossier_id=(B2099|BFIELD|B2019), report_exclusion_reason=\w+, source_day=2025-03-0\d, "
                     r"batch_id=\d+", dossiers), dossiers
    assert "document_id=NOUNIT-2" in failed["document_exclusions.excluded_share_under_threshold"] or \
        "document_id=Y2099-3" in failed["document_exclusions.excluded_share_under_threshold"]
    with psycopg.connect(url) as conn:
        stored = conn.execute("select success from ops.validation_results where run_id = %s"
                              " and suite = 'dossier_exclusions'", (f"{RUN_ID}-above",)).fetchall()
    assert stored == [(False,)]


# -- an error still names its rows -----------------------------------------------------------------
def test_a_failing_test_names_its_rows(built):
    url, _, _ = built
    result = run_dbt(["test", "--select", "assert_dossier_dates_in_calendar_years"], url=url,
                     vars={"as_of_date": "2031-01-05", "run_id": f"{RUN_ID}-2031"})
    with pytest.raises(DbtBuildError) as err:
        raise_for_failures(result, "dbt test", url=url)
    text = str(err.value)
    assert "assert_dossier_dates_in_calendar_years [fail]" in text
    assert "1 failing row(s) in" in text and "audit" in text
    assert "(needed_by=(var as_of_date), date_column=as_of_date, date_value=2031-01-05)" in text


def test_a_broken_candidate_names_the_report_row(built):
    """A report row that ends after as_of_date (test tthc_report_within_as_of_date, which only dbt can
    check: the gate does not see the run's vars) fails the build naming the row."""
    url, _, _ = built
    where = "period_type = 'month' and period_start = '2025-03-01' and unit_id = %s and field_code = '*'"
    with psycopg.connect(url) as conn:
        conn.execute(f"update kpi_build.tthc_report set period_end = period_end + 1 where {where}", (H,))
    try:
        result = run_dbt(["test", "--select", "tthc_report"], url=url, vars=BUILD_VARS)
        with pytest.raises(DbtBuildError) as err:
            raise_for_failures(result, "dbt build", url=url)
        text = str(err.value)
        assert "tthc_report_within_as_of_date" in text
        assert f"(period_type=month, period_start=2025-03-01, unit_id={H}, field_code=*)" in text, text
    finally:
        with psycopg.connect(url) as conn:
            conn.execute(f"update kpi_build.tthc_report set period_end = period_end - 1 where {where}", (H,))
