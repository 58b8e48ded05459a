"""Scenario catalogue of the two lateness rules (issue 9 parts 2-4): hand-checked dossiers landed as
raw records, a real PostgreSQL, a real `dbt build`, then int_dossier_lateness (both rules with a
reason each), int_open_dossier_lateness, int_dossier_due_history and kpi.late_dossiers asserted.

Every expected value is worked out by hand below. Times are local; "due" = NgayHenTra as delivered.
Units: province P, district H under P, commune X under H; procedure PX (5 working days, online).
as_of_date = 2024-04-10 (a Wednesday): March is a whole month, April runs to 04-10.
March 2024 has no holiday: its weekdays are 4-8, 11-15, 18-22, 25-29; April: 1-5, 8-10.
Working days late = working days in (due day, finish day], or (due day, month end] when open.
Decision 766 (766): clock = original due + the first supplement wait; a second request makes the
dossier late from that request (int_dossier_timeliness_766.overdue_from_766).

L01 recv 03-04 09:00 due 03-08 17:00 end 03-06 10:00
    periodic: early, finished_early (03-06 < 03-08) | 766: on_time, finished_on_time | not listed
L02 recv 03-04 09:00 due 03-08 17:00 end 03-08 16:00
    periodic: on_time, finished_on_time | 766: on_time, finished_on_time | not listed
L03 recv 03-04 09:00 due 03-08 17:00 end 03-13 10:00; steps: desk 30 min, Phòng Địa chính
    (03-04 09:30 -> 03-12 15:00, the longest), leaders (03-12 15:00 -> 03-13 10:00)
    periodic: late, finished_after_due, (03-08, 03-13] = 11, 12, 13 -> 3 | 766: same, 3
    listed March, both rules, apology false, official "Trần Văn Địa", department "Phòng Địa chính"
L04 one supplement: recv 03-04 09:00, due before 03-08 17:00, requested 03-05 10:00, received
    03-11 09:00 (wait 5 d 23 h; working days (03-05, 03-11] = 6, 7, 8, 11 -> 4), NgayHenTraMoi =
    NgayHenTra 03-13 17:00, end 03-14 10:00
    periodic: late (03-14 10:00 > 03-13 17:00), finished_after_due, (03-13, 03-14] -> 1
    766: 03-08 17:00 + 5 d 23 h = 03-14 16:00 >= end -> on_time, finished_on_time
    -> late by the report, on time by 766: listed March, periodic only
L05 one supplement: recv 03-04 09:00, due before 03-08 17:00, requested 03-07 10:00, received
    03-08 10:00 (wait 1 d), NgayHenTraMoi = NgayHenTra 03-15 17:00, end 03-12 10:00
    periodic: early (03-12 < 03-15), finished_early
    766: 03-08 17:00 + 1 d = 03-09 17:00 (a Saturday) < end -> late, finished_after_due,
    (03-09, 03-12] = 11, 12 -> 2 -> on time by the report, late by 766: listed March, 766 only
L06 two supplements: recv 03-04 09:00, due before 03-08 17:00; #1 requested 03-05 10:00, received
    03-06 10:00, new due 03-13 17:00; #2 requested 03-07 10:00, received 03-08 09:00, new due
    03-15 17:00 = NgayHenTra; end 03-14 10:00
    periodic: early (03-14 < 03-15), finished_early
    766: least(03-08 17:00 + 1 d, 03-07 10:00) = 03-07 10:00 (the second request) -> late,
    second_supplement, (03-07, 03-14] = 8, 11, 12, 13, 14 -> 5, due_at 03-07 10:00
    supplement_request_count 2, applicant wait (03-05, 03-06] + (03-07, 03-08] -> 2
L07 apology before the original due: recv 03-11 09:00 due 03-15 17:00, slip 03-14 10:00 (new date
    03-19 17:00: no lawful extension, NgayHenTra stays), end 03-19 11:00
    both rules: late, finished_after_due, (03-15, 03-19] = 18, 19 -> 2, apology_issued true
L08 apology after the original due: recv 03-11 09:00 due 03-15 17:00, slip 03-18 09:00, end
    03-20 10:00 -> both: late, finished_after_due, 3 (18, 19, 20), apology_issued false (the slip
    came after the due time it missed; by the finish it existed: apology_by_judged_at true)
L09 withdrawn (7): recv 03-11 09:00 due 03-15 17:00, end 03-20 10:00 (after the due!)
    both: on_time, withdrawn_counts_on_time | not listed
L10 stopped (8): recv 03-11 09:00 due 03-15 17:00, end 03-22 10:00
    both: on_time, stopped_counts_on_time | not listed
L11 open across a month end, within due at it: recv 03-27 09:00 due 04-03 17:00, in processing
    March end: within (not listed); April (04-10): both open_past_due, (04-03, 04-10] = 4, 5, 8,
    9, 10 -> 5; int_open_dossier_lateness: both late, open_past_due
L12 open past due at the month end: recv 03-18 09:00 due 03-22 17:00, in processing; steps: desk
    30 min, Phòng Tư pháp 03-18 09:30 -> 03-19 10:00
    March: both open_past_due, (03-22, 03-31] = 25..29 -> 5; April: (03-22, 04-10] -> 5 + 8 = 13
    official "Lê Thị Tư" (the longest recorded step), finished_at null
L13 open past due at March end, finished late in April: recv 03-18 09:00 due 03-22 17:00, end
    04-02 10:00 -> March: both open_past_due, 5, finished_at null; April: both
    finished_after_due, (03-22, 04-02] -> 5 + 2 = 7, finished_at 04-02 10:00
L14 waiting for a supplement at the period end: recv 03-25 09:00, due before 03-29 17:00,
    requested 03-28 10:00, not received (status 5): never listed; at 04-10 both
    waiting_for_supplement (periodic: within deadline; 766: the clock is paused)
L15 waiting at March end, supplement received in April: recv 03-25 09:00, due before 03-27 17:00,
    requested 03-26 10:00, received 04-01 09:00 (wait 5 d 23 h), NgayHenTraMoi = NgayHenTra
    04-05 17:00, in processing
    March end: periodic waiting (within); 766: 03-27 17:00 + 5 d 23 h = 04-02 16:00 > March end
    -> not listed. April: periodic open_past_due, (04-05, 04-10] = 8, 9, 10 -> 3, due 04-05 17:00;
    766 open_past_due, (04-02, 04-10] = 3, 4, 5, 8, 9, 10 -> 6, due 04-02 16:00
L16 second supplement, open: recv 03-18 09:00, due before 03-29 17:00; #1 requested 03-19 10:00,
    received 03-20 10:00, new due 03-29 17:00; #2 requested 03-21 10:00, received 03-22 10:00, new
    due 04-12 17:00 = NgayHenTra; in processing
    periodic: within at both ends (04-12 is after 04-10) -> not listed; open: open_within_due
    766: overdue from 03-21 10:00 (second request): March second_supplement, (03-21, 03-31] = 22,
    25..29 -> 6; April second_supplement, 6 + 8 = 14; open: second_supplement
L17 late by minutes: recv 03-04 09:00 due 03-08 17:00 end 03-08 17:30 -> both finished_after_due,
    0 working days late (the due day itself)
L18 finished late in April with a slip before the due: recv 04-01 09:00 due 04-05 17:00, slip
    04-04 15:00, end 04-09 10:00 -> April both finished_after_due, (04-05, 04-09] = 8, 9 -> 2,
    apology_issued true

Tie-outs (X, field '*'): March periodic rows = resolved_late (L03, L04, L07, L08, L17 = 5) +
pending_overdue (L12, L13 = 2) = 7; March 766 rows = finished late (L03, L05, L06, L07, L08, L17)
+ open late (L12, L13, L16) = 9 = dossiers_late_766. April periodic: L13, L18 + L11, L12, L15 = 5;
April 766: L13, L18 + L11, L12, L15, L16 = 6.
"""

from __future__ import annotations

import datetime as dt
from functools import partial

import builders
import psycopg
import pytest
from builders import built_scenario, land_batch, land_by_update_day, local_time, query, source_ts

AS_OF = "2024-04-10"
RUN_ID = "test-lateness"
PUBLICATION_ID = 91

P, H, X = "000.00.00.H26", "000.00.10.H26", "000.10.01.H26"
PX = "1.009001"
MARCH, APRIL = dt.date(2024, 3, 1), dt.date(2024, 4, 1)


# -- landing helpers (tests/builders.py) -------------------------------------------------------------
land = partial(land_batch, run_id=RUN_ID)
ts = partial(source_ts, year=2024)  # '03-04 09:00' -> '20240304090000'; '' stays ''
at = partial(local_time, year=2024)  # '03-04 09:00' -> datetime(2024, 3, 4, 9, 0)
unit = partial(builders.unit, updated="20231231000000")


UNITS = [unit(P, "UBND tỉnh", "TINH"), unit(H, "UBND huyện", "HUYEN", P), unit(X, "UBND xã Đông Hợp", "XA", H)]
PROCEDURES = [{"MaTTHC": PX, "TenTTHC": "Chứng thực bản sao", "MaLinhVuc": "LV01", "TenLinhVuc": "Chứng thực",
               "CapThucHien": "XA", "ThoiHanGiaiQuyet": 5, "DonViTinh": "NGAY_LAM_VIEC", "MucDoDVC": "TOAN_TRINH",
               "CoPhiLePhi": "0", "TraKetQuaGiay": "1", "DoiTuongCongDan": "1",
               "ValidFrom": "20200101000000", "ValidTo": "", "NgayCapNhat": "20231231000000"}]


def dossier(code, status, received, due, *, ended="", supplements=(), apologies=()):
    """supplements: (requested, received, due before, due after); apologies: (at, new due)."""
    moments = [received, ended] + [m for s in supplements for m in s[:2]] + [a[0] for a in apologies]
    updated = max((m for m in moments if m), key=at)
    return {
        "MaHoSo": code, "MaTTHC": PX, "TenTTHC": "Chứng thực bản sao", "MaLinhVuc": "LV01",
        "TenLinhVuc": "Chứng thực", "DonViTiepNhan": X, "DonViXuLy": X, "KenhThucHien": "2",
        "LoaiDoiTuong": "1", "ChuHoSo": f"pseudo-name-{code}", "SoGiayToChuHoSo": f"pseudo-id-{code}",
        "SoDienThoai": f"pseudo-phone-{code}", "Email": f"pseudo-mail-{code}", "TrichYeuHoSo": f"Hồ sơ {code}",
        "NgayNopHoSo": ts(received), "NgayTiepNhan": ts(received), "NgayHenTra": ts(due),
        "NgayKetThucXuLy": ts(ended), "NgayTra": "", "NgayTuChoi": "", "TrangThaiHoSo": status,
        "HinhThucTra": "3", "DuocThanhToanTrucTuyen": "0", "HoSoCoThanhPhanSoHoa": "0",
        "TaiKhoanDuocXacThucVoiVNeID": "0", "DanhSachLePhi": [], "TaiLieuNop": [],
        "DanhSachHoSoBoSung": [
            {"HoSoBoSungId": f"BS-{code}-{i}", "NgayYeuCauBoSung": ts(req), "NgayTiepNhanBoSung": ts(rec),
             "NgayHenTraTruoc": ts(before), "NgayHenTraMoi": ts(after)}
            for i, (req, rec, before, after) in enumerate(supplements, 1)],
        "DanhSachXinLoi": [{"NgayXinLoi": ts(when), "NgayHenTraMoi": ts(new_due), "LyDo": "Chậm thẩm định"}
                           for when, new_due in apologies],
        "DanhSachGiayToKetQua": [], "NgayCapNhat": ts(updated),
    }


DOSSIERS = [
    dossier("L01", "9", "03-04 09:00", "03-08 17:00", ended="03-06 10:00"),
    dossier("L02", "9", "03-04 09:00", "03-08 17:00", ended="03-08 16:00"),
    dossier("L03", "9", "03-04 09:00", "03-08 17:00", ended="03-13 10:00"),
    dossier("L04", "9", "03-04 09:00", "03-13 17:00", ended="03-14 10:00",
            supplements=[("03-05 10:00", "03-11 09:00", "03-08 17:00", "03-13 17:00")]),
    dossier("L05", "9", "03-04 09:00", "03-15 17:00", ended="03-12 10:00",
            supplements=[("03-07 10:00", "03-08 10:00", "03-08 17:00", "03-15 17:00")]),
    dossier("L06", "9", "03-04 09:00", "03-15 17:00", ended="03-14 10:00",
            supplements=[("03-05 10:00", "03-06 10:00", "03-08 17:00", "03-13 17:00"),
                         ("03-07 10:00", "03-08 09:00", "03-13 17:00", "03-15 17:00")]),
    dossier("L07", "9", "03-11 09:00", "03-15 17:00", ended="03-19 11:00",
            apologies=[("03-14 10:00", "03-19 17:00")]),
    dossier("L08", "9", "03-11 09:00", "03-15 17:00", ended="03-20 10:00",
            apologies=[("03-18 09:00", "03-20 17:00")]),
    dossier("L09", "7", "03-11 09:00", "03-15 17:00", ended="03-20 10:00"),
    dossier("L10", "8", "03-11 09:00", "03-15 17:00", ended="03-22 10:00"),
    dossier("L11", "4", "03-27 09:00", "04-03 17:00"),
    dossier("L12", "4", "03-18 09:00", "03-22 17:00"),
    dossier("L13", "9", "03-18 09:00", "03-22 17:00", ended="04-02 10:00"),
    dossier("L14", "5", "03-25 09:00", "03-29 17:00",
            supplements=[("03-28 10:00", "", "03-29 17:00", "")]),
    dossier("L15", "4", "03-25 09:00", "04-05 17:00",
            supplements=[("03-26 10:00", "04-01 09:00", "03-27 17:00", "04-05 17:00")]),
    dossier("L16", "4", "03-18 09:00", "04-12 17:00",
            supplements=[("03-19 10:00", "03-20 10:00", "03-29 17:00", "03-29 17:00"),
                         ("03-21 10:00", "03-22 10:00", "03-29 17:00", "04-12 17:00")]),
    dossier("L17", "9", "03-04 09:00", "03-08 17:00", ended="03-08 17:30"),
    dossier("L18", "9", "04-01 09:00", "04-05 17:00", ended="04-09 10:00",
            apologies=[("04-04 15:00", "04-09 17:00")]),
]


def step(code, no, department, official, started, processed, status="4"):
    return {"MaHoSo": code, "BuocXuLy": str(no), "PhongBanXuLy": department, "NguoiXuLy": official,
            "ChucDanh": "Chuyên viên", "TrangThai": status, "ThoiDiemXuLy": ts(processed),
            "NgayBatDau": ts(started), "NgayKetThucTheoQuyDinh": ts(processed), "NoiDungXuLy": "Xử lý",
            "NgayCapNhat": ts(processed)}


STEPS = [
    step("L03", 1, "Bộ phận một cửa", "Phạm Thị Một", "03-04 09:00", "03-04 09:30", "2"),
    step("L03", 2, "Phòng Địa chính", "Trần Văn Địa", "03-04 09:30", "03-12 15:00"),
    step("L03", 3, "Lãnh đạo UBND", "Hoàng Văn Lãnh", "03-12 15:00", "03-13 10:00", "9"),
    step("L12", 1, "Bộ phận một cửa", "Phạm Thị Một", "03-18 09:00", "03-18 09:30", "2"),
    step("L12", 2, "Phòng Tư pháp", "Lê Thị Tư", "03-18 09:30", "03-19 10:00"),
]


def land_scenario(conn) -> None:
    land(conn, "reference", "units", "2024-01-02", UNITS)
    land(conn, "reference", "procedures", "2024-01-02", PROCEDURES)
    for feed, records in (("dossiers", DOSSIERS), ("steps", STEPS)):
        land_by_update_day(conn, "onestop", feed, records, run_id=RUN_ID)


# -- fixtures --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def built(warehouse_db):
    for _result in built_scenario(warehouse_db, land_scenario, AS_OF, publication_id=PUBLICATION_ID, run_id=RUN_ID):
        yield warehouse_db


# -- both rules per dossier --------------------------------------------------------------------------
# dossier: (periodic classification, periodic reason, 766 classification, 766 reason)
PER_DOSSIER = {
    "L01": ("early", "finished_early", "on_time", "finished_on_time"),
    "L02": ("on_time", "finished_on_time", "on_time", "finished_on_time"),
    "L03": ("late", "finished_after_due", "late", "finished_after_due"),
    "L04": ("late", "finished_after_due", "on_time", "finished_on_time"),
    "L05": ("early", "finished_early", "late", "finished_after_due"),
    "L06": ("early", "finished_early", "late", "second_supplement"),
    "L07": ("late", "finished_after_due", "late", "finished_after_due"),
    "L08": ("late", "finished_after_due", "late", "finished_after_due"),
    "L09": ("on_time", "withdrawn_counts_on_time", "on_time", "withdrawn_counts_on_time"),
    "L10": ("on_time", "stopped_counts_on_time", "on_time", "stopped_counts_on_time"),
    "L11": ("open", "open_judged_at_period_end", "open", "open_judged_at_period_end"),
    "L12": ("open", "open_judged_at_period_end", "open", "open_judged_at_period_end"),
    "L13": ("late", "finished_after_due", "late", "finished_after_due"),
    "L14": ("open", "open_judged_at_period_end", "open", "open_judged_at_period_end"),
    "L15": ("open", "open_judged_at_period_end", "open", "open_judged_at_period_end"),
    "L16": ("open", "open_judged_at_period_end", "open", "open_judged_at_period_end"),
    "L17": ("late", "finished_after_due", "late", "finished_after_due"),
    "L18": ("late", "finished_after_due", "late", "finished_after_due"),
}


def test_every_dossier_carries_both_rules_with_a_reason(built):
    found = {r["dossier_id"]: (r["periodic_classification"], r["periodic_reason_code"],
                               r["classification_766"], r["reason_code_766"])
             for r in query(built, "select * from int.int_dossier_lateness")}
    assert found == PER_DOSSIER


def test_supplements_waits_and_apologies_per_dossier(built):
    found = {r["dossier_id"]: r for r in query(built, "select * from int.int_dossier_lateness")}
    # (requests, received, wait in working days, unanswered, apologies)
    expected = {"L04": (1, 1, 4, False, 0), "L05": (1, 1, 1, False, 0), "L06": (2, 2, 2, False, 0),
                "L14": (1, 0, 0, True, 0), "L15": (1, 1, 4, False, 0), "L16": (2, 2, 2, False, 0),
                "L07": (0, 0, 0, False, 1), "L01": (0, 0, 0, False, 0)}
    for code, want in expected.items():
        r = found[code]
        assert (r["supplement_request_count"], r["supplements_received"], r["applicant_wait_working_days"],
                r["has_unanswered_supplement_request"], r["apology_count"]) == want, code
    # L15: (03-26, 04-01] = 27, 28, 29, 04-01 -> 4 working days
    # apology before the due it missed: L07 yes, L08 no (both rules); not late -> null
    assert (found["L07"]["periodic_apology_issued"], found["L07"]["apology_issued_766"]) == (True, True)
    assert (found["L08"]["periodic_apology_issued"], found["L08"]["apology_issued_766"]) == (False, False)
    assert found["L01"]["periodic_apology_issued"] is None and found["L04"]["apology_issued_766"] is None
    assert found["L06"]["overdue_from_766"] == at("03-07 10:00")
    assert found["L04"]["overdue_from_766"] == at("03-14 16:00")


def test_due_date_history(built):
    rows = query(built, "select dossier_id, change_seq, change_kind, changed_at, due_at, is_in_force, valid_to"
                        " from int.int_dossier_due_history where dossier_id in ('L06', 'L07', 'L14')"
                        " order by dossier_id, change_seq")
    got = [(r["dossier_id"], r["change_kind"], r["changed_at"], r["due_at"], r["is_in_force"], r["valid_to"])
           for r in rows]
    assert got == [
        # L06: original due, then each received supplement restarts it
        ("L06", "reception", at("03-04 09:00"), at("03-08 17:00"), True, at("03-06 10:00")),
        ("L06", "supplement_received", at("03-06 10:00"), at("03-13 17:00"), True, at("03-08 09:00")),
        ("L06", "supplement_received", at("03-08 09:00"), at("03-15 17:00"), True, None),
        # L07: the apology slip's date is recorded, not in force (no lawful extension)
        ("L07", "reception", at("03-11 09:00"), at("03-15 17:00"), True, None),
        ("L07", "apology_slip", at("03-14 10:00"), at("03-19 17:00"), False, None),
        # L14: waiting, the due date has not moved
        ("L14", "reception", at("03-25 09:00"), at("03-29 17:00"), True, None),
    ]


def test_open_dossiers_judged_at_as_of_date(built):
    found = {r["dossier_id"]: (r["periodic_reason_code"], r["reason_code_766"])
             for r in query(built, "select * from int.int_open_dossier_lateness")}
    assert found == {
        "L11": ("open_past_due", "open_past_due"),
        "L12": ("open_past_due", "open_past_due"),
        "L14": ("waiting_for_supplement", "waiting_for_supplement"),
        "L15": ("open_past_due", "open_past_due"),
        "L16": ("open_within_due", "second_supplement"),
    }


# -- kpi.late_dossiers ---------------------------------------------------------------------------------
PR, R766 = "periodic_report", "decision_766"
# (month, dossier, rule): (reason, working days late, apology_issued, finished?)
LATE_ROWS = {
    (MARCH, "L03", PR): ("finished_after_due", 3, False, True),
    (MARCH, "L03", R766): ("finished_after_due", 3, False, True),
    (MARCH, "L04", PR): ("finished_after_due", 1, False, True),
    (MARCH, "L05", R766): ("finished_after_due", 2, False, True),
    (MARCH, "L06", R766): ("second_supplement", 5, False, True),
    (MARCH, "L07", PR): ("finished_after_due", 2, True, True),
    (MARCH, "L07", R766): ("finished_after_due", 2, True, True),
    (MARCH, "L08", PR): ("finished_after_due", 3, False, True),
    (MARCH, "L08", R766): ("finished_after_due", 3, False, True),
    (MARCH, "L12", PR): ("open_past_due", 5, False, False),
    (MARCH, "L12", R766): ("open_past_due", 5, False, False),
    (MARCH, "L13", PR): ("open_past_due", 5, False, False),
    (MARCH, "L13", R766): ("open_past_due", 5, False, False),
    (MARCH, "L16", R766): ("second_supplement", 6, False, False),
    (MARCH, "L17", PR): ("finished_after_due", 0, False, True),
    (MARCH, "L17", R766): ("finished_after_due", 0, False, True),
    (APRIL, "L11", PR): ("open_past_due", 5, False, False),
    (APRIL, "L11", R766): ("open_past_due", 5, False, False),
    (APRIL, "L12", PR): ("open_past_due", 13, False, False),
    (APRIL, "L12", R766): ("open_past_due", 13, False, False),
    (APRIL, "L13", PR): ("finished_after_due", 7, False, True),
    (APRIL, "L13", R766): ("finished_after_due", 7, False, True),
    (APRIL, "L15", PR): ("open_past_due", 3, False, False),
    (APRIL, "L15", R766): ("open_past_due", 6, False, False),
    (APRIL, "L16", R766): ("second_supplement", 14, False, False),
    (APRIL, "L18", PR): ("finished_after_due", 2, True, True),
    (APRIL, "L18", R766): ("finished_after_due", 2, True, True),
}


def late_rows(url) -> dict:
    return {(r["month"], r["dossier_code"], r["rule"]): r
            for r in query(url, "select * from kpi_build.late_dossiers")}


def test_late_dossiers_rows_rules_and_reasons(built):
    rows = late_rows(built)
    assert set(rows) == set(LATE_ROWS)
    for key, (reason, days, apology, finished) in LATE_ROWS.items():
        r = rows[key]
        assert (r["reason_code"], r["working_days_late"], r["apology_issued"], r["finished_at"] is not None) \
            == (reason, days, apology, finished), key


def test_late_dossiers_columns(built):
    rows = late_rows(built)
    r = rows[(MARCH, "L03", PR)]
    assert (r["unit_id"], r["unit_name"], r["field_code"], r["procedure_code"], r["procedure_name"]) == (
        X, "UBND xã Đông Hợp", "LV01", PX, "Chứng thực bản sao")
    assert (r["received_at"], r["due_at"], r["finished_at"]) == (at("03-04 09:00"), at("03-08 17:00"),
                                                                 at("03-13 10:00"))
    assert (r["official_name"], r["department"]) == ("Trần Văn Địa", "Phòng Địa chính")
    assert r["publication_id"] == PUBLICATION_ID
    # the statutory due time: 5 working days after the reception day 03-04 -> 03-11 17:00
    assert r["statutory_due_at"] == at("03-11 17:00")
    # open at the month's end: no finish time (L13 finished in April), the longest recorded step
    assert rows[(MARCH, "L13", PR)]["finished_at"] is None
    assert rows[(APRIL, "L13", PR)]["finished_at"] == at("04-02 10:00")
    assert (rows[(MARCH, "L12", R766)]["official_name"], rows[(MARCH, "L12", R766)]["department"]) == (
        "Lê Thị Tư", "Phòng Tư pháp")
    assert rows[(MARCH, "L04", PR)]["official_name"] is None  # no step recorded
    # the due time each rule judged against
    assert rows[(MARCH, "L06", R766)]["due_at"] == at("03-07 10:00")  # the second request
    assert rows[(APRIL, "L15", PR)]["due_at"] == at("04-05 17:00")
    assert rows[(APRIL, "L15", R766)]["due_at"] == at("04-02 16:00")
    # no applicant data
    columns = {r["column_name"] for r in query(
        built, "select column_name from information_schema.columns where table_schema = 'kpi_build'"
               " and table_name = 'late_dossiers'")}
    assert columns == {"month", "dossier_code", "unit_id", "unit_name", "field_code", "procedure_code",
                       "procedure_name", "received_at", "due_at", "statutory_due_at", "finished_at",
                       "working_days_late", "apology_issued", "rule", "reason_code", "official_name",
                       "department", "publication_id"}


def test_late_dossiers_tie_out_to_the_report_and_the_766_counts(built):
    counts = {(r["month"], r["rule"]): r["n"] for r in query(
        built, "select month, rule, count(*) as n from kpi_build.late_dossiers where unit_id = %s group by 1, 2",
        (X,))}
    assert counts == {(MARCH, PR): 7, (MARCH, R766): 9, (APRIL, PR): 5, (APRIL, R766): 6}
    report = {r["period_start"]: r["resolved_late"] + r["pending_overdue"] for r in query(
        built, "select * from kpi_build.tthc_report where period_type = 'month' and field_code = '*'"
               " and unit_id = %s", (X,))}
    assert report == {MARCH: 7, APRIL: 5}
    late_766 = {r["period_start"]: r["rule_value"] for r in query(
        built, "select period_start, rule_value from int.int_indicator_period_values where period_type = 'month'"
               " and unit_id = %s and scope = 'own' and rule_name = 'dossiers_late_766'", (X,))}
    assert late_766 == {MARCH: 9, APRIL: 6}
    # kpi.late_accountability counts the same late dossiers, and the same "without apology": the
    # list's apology_issued (a slip before the missed due time). L08's slip came after its due time,
    # before its finish: a late apology, so it counts without (6 in March, where the late reading
    # apology_by_judged_at would say 5)
    acc = {r["month"]: (r["late_dossiers"], r["late_without_apology"]) for r in query(
        built, "select * from kpi_build.late_accountability where unit_id = %s", (X,))}
    assert acc == {MARCH: (7, 6), APRIL: (5, 4)}
    without = {r["month_start"]: (r["n"], r["n_by_then"]) for r in query(
        built, "select month_start, count(*) filter (where not apology_issued) as n,"
               " count(*) filter (where not apology_by_judged_at) as n_by_then"
               " from int.int_late_dossier_months where rule = 'periodic_report' and unit_id = %s group by 1", (X,))}
    assert without == {MARCH: (6, 5), APRIL: (4, 4)}


def test_emitted_reasons_are_catalogued(built):
    catalogue = {(r["code"], r["rule"]) for r in query(built, "select code, rule from ref.lateness_reasons")}
    emitted = {(r["reason_code"], r["rule"]) for r in query(built, "select * from kpi_build.late_dossiers")}
    assert emitted <= catalogue
    # the dbt test that keeps it so ran and passed in the build (its failures table is empty)
    assert query(built, "select count(*) as n from audit.assert_lateness_reasons_are_catalogued")[0]["n"] == 0


# -- the quality gate ---------------------------------------------------------------------------------
def test_quality_gate_passes_and_catches_a_broken_list(built, tmp_path):
    from cchc.quality import published_suites, run_gate

    assert published_suites(["late_dossiers"]) == ["late_dossiers"]
    result = run_gate(built, ["late_dossiers"], schema_map={"kpi": "kpi_build"}, run_id="test_lateness_gate",
                      report_dir=tmp_path)
    assert result.success, result.failures
    assert result.checks_evaluated >= 14  # the grain and keys are dbt's (expectations/README.md)
    # a periodic row dropped (the list no longer ties to the report) and a 766 row with an unknown reason
    with psycopg.connect(built) as conn:
        conn.execute("create table public.saved_late_dossiers as select * from kpi_build.late_dossiers")
        assert conn.execute("delete from kpi_build.late_dossiers where dossier_code = 'L03'"
                            " and rule = 'periodic_report'").rowcount == 1
        assert conn.execute("update kpi_build.late_dossiers set reason_code = 'finished_early'"
                            " where dossier_code = 'L05'").rowcount == 1
        conn.commit()
    try:
        broken = run_gate(built, ["late_dossiers"], schema_map={"kpi": "kpi_build"},
                          run_id="test_lateness_gate_broken", report_dir=tmp_path)
    finally:
        with psycopg.connect(built) as conn:
            conn.execute("delete from kpi_build.late_dossiers")
            conn.execute("insert into kpi_build.late_dossiers select * from public.saved_late_dossiers")
            conn.execute("drop table public.saved_late_dossiers")
            conn.commit()
    failed = {f.split(":")[0] for f in broken.failures}
    assert not broken.success
    assert {"late_dossiers.periodic_rows_match_the_report", "late_dossiers.reasons_allowed"} <= failed, \
        broken.failures
    assert "late_dossiers.decision_766_rows_match_the_service_index" not in failed  # its count is intact
