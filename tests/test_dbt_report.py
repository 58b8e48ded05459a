"""The dbt project end to end on hand-built landed data: a real PostgreSQL, a real `dbt build`.

Every expected number below was worked out by hand from the counting rules (domain.md, "Mẫu 06"
and "Counting rules"), dossier by dossier; the working is in the comments next to each number.

Units: province P, department S and district H under P, commune X under H, and commune X2 (under
H, abolished on 2024-02-29, successor X). Procedures: 1.000001 in field LV01, 1.000002 in LV02.
as_of_date = 2024-04-02.

Dossiers (unit, field, channel, status; times are local):
  D01 H LV01 online  10  recv 03-04 08:00 due 03-08 17:00 end 03-06 10:00 -> early
  D02 H LV01 desk     9  recv 03-05       due 03-12 17:00 end 03-12 16:00 -> on time
                         (a refused batch of 03-27 says status 4: ignored)
  D03 H LV01 postal   9  recv 03-06       due 03-13 17:00 end 03-13 17:05 -> late by 5 minutes
  D04 H LV02 null    10  recv 03-07       due 03-14 17:00 no NgayKetThucXuLy, NgayTra 03-15 -> late
  D05 H LV01 online   7  recv 03-08       due 03-20 17:00 end 03-25 -> withdrawn: on time (+ w/s)
  D06 H LV02 desk     8  recv 03-11       due 03-15 17:00 end 03-14 -> stopped: on time (+ w/s)
  D07 H LV01 online   1  submitted 03-20, not accepted -> never received
  D08 H LV01 desk     3  NgayTiepNhan 03-21 set but refused -> never received
  D09 H LV01 online   2  recv 03-28       due 04-05 17:00 (its 04-05 version is after as_of: ignored)
  D10 H LV01 desk     4  recv 03-18       due 03-27 17:00 -> overdue from 03-27
  D11 H LV01 desk     5  recv 03-12       due 03-22 17:00, supplement requested 03-20 10:00 and
                         not received -> waiting: within deadline from 03-20 on
  D12 H LV01 desk     6  recv 02-15       supplement requested 02-23 10:00, received 03-01 09:00,
                         due before 02-22 17:00, after 03-06 17:00 (= NgayHenTra)
                         -> overdue at the end of 02-22 (due then 02-22 17:00), waiting 02-23..02-29,
                            within deadline 03-01..03-05, overdue from 03-06
  D13 H LV02 online  10  recv 02-26       due 03-04 17:00 end 03-01 -> early (carried into March)
  D14 H LV01 desk     9  two versions: 03-18 (status 4) and 03-26 (end 03-26 09:00, due 03-25 17:00,
                         apology slip with a new date 03-26 17:00) -> late
  D15 H LV01 online   9  day 03-22 delivered twice: the re-delivery wins (recv 03-20, due 03-22 17:00,
                         end 03-22 15:00 -> on time); the first batch said status 4 and carried D16
  D16 H LV01 online   2  only in the superseded batch -> does not exist
  D17 X LV01 online  10  recv 03-05       due 03-07 17:00 end 03-07 09:00 -> on time (same day)
  D18 S LV02 desk     4  recv 01-15       due 02-20 17:00 -> overdue from 02-20
  D19 P LV02 postal   9  recv 03-20       due 03-29 17:00 end 03-29 10:00 -> on time
  D20 X LV01 desk     2  recv 04-01       due 04-10 17:00 -> pending within deadline
  D21 unknown unit    2  -> left out of the report (report_exclusion_reason unknown_unit, warn)
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import partial

import psycopg
import pytest
from builders import built_scenario, land_batch, land_by_update_day, query, unit

from cchc_demo import working_days as calendar
from cchc.transform.dbt_runner import DbtBuildError, raise_for_failures, run_dbt

AS_OF = "2024-04-02"
RUN_ID = "test-dbt-report"
PUBLICATION_ID = 42
BUILD_VARS = {"as_of_date": AS_OF, "publication_id": PUBLICATION_ID, "run_id": RUN_ID}

P, S, H, X, X2 = "000.00.00.H26", "000.00.01.H26", "000.00.10.H26", "000.10.01.H26", "000.10.02.H26"
PROC1, PROC2 = "1.000001", "1.000002"
FIELD = {PROC1: ("LV01", "Đất đai"), PROC2: ("LV02", "Hộ tịch")}


# -- landing helpers (tests/builders.py; `land` and `unit` are imported from here by other scenarios)
land = partial(land_batch, run_id=RUN_ID)


def procedure(code, name, limit):
    field_code, field_name = FIELD[code]
    return {"MaTTHC": code, "TenTTHC": name, "MaLinhVuc": field_code, "TenLinhVuc": field_name,
            "CapThucHien": "HUYEN", "ThoiHanGiaiQuyet": limit, "DonViTinh": "NGAY_LAM_VIEC",
            "MucDoDVC": "TOAN_TRINH", "CoPhiLePhi": "1", "TraKetQuaGiay": "1", "DoiTuongCongDan": "1",
            "ValidFrom": "20200101000000", "ValidTo": ""}


def dossier(code, unit_id, proc, channel, status, received, due, *, updated, submitted="", ended="",
            returned="", refused="", supplements=(), apologies=(), **extra):
    field_code, field_name = FIELD[proc]
    rec = {
        "MaHoSo": code, "MaTTHC": proc, "TenTTHC": f"Thủ tục {proc}", "MaLinhVuc": field_code,
        "TenLinhVuc": field_name, "DonViTiepNhan": unit_id, "DonViXuLy": unit_id,
        "KenhThucHien": channel, "LoaiDoiTuong": "1", "ChuHoSo": f"pseudo-name-{code}",
        "SoGiayToChuHoSo": f"pseudo-id-{code}", "SoDienThoai": f"pseudo-phone-{code}",
        "Email": f"pseudo-mail-{code}", "TrichYeuHoSo": f"Hồ sơ {code}",
        "NgayNopHoSo": submitted or received, "NgayTiepNhan": received, "NgayHenTra": due,
        "NgayKetThucXuLy": ended, "NgayTra": returned, "NgayTuChoi": refused, "TrangThaiHoSo": status,
        "HinhThucTra": "1", "DuocThanhToanTrucTuyen": "0", "HoSoCoThanhPhanSoHoa": "0",
        "TaiKhoanDuocXacThucVoiVNeID": "0", "DanhSachLePhi": [], "TaiLieuNop": [],
        "DanhSachHoSoBoSung": list(supplements), "DanhSachXinLoi": list(apologies),
        "DanhSachGiayToKetQua": [], "NgayCapNhat": updated,
    }
    rec.update(extra)
    return rec


UNITS_OLD = [  # delivered 2024-01-02, superseded by the 2024-03-01 list
    unit(P, "UBND tỉnh (cũ)", "TINH"),
    unit(H, "UBND huyện Đông Hưng (cũ)", "HUYEN", P),
]
UNITS = [
    unit(P, "UBND tỉnh Thái Bình", "TINH"),
    unit(S, "Sở Tư pháp", "SO", P),
    unit(H, "UBND huyện Đông Hưng", "HUYEN", P),
    unit(X, "UBND xã Đông Hợp", "XA", H),
    unit(X2, "UBND xã Đông Xá", "XA", H, valid_to="20240229000000", successor=X),
]
UNITS_AFTER_AS_OF = [unit(u["UnitId"], "WRONG: delivered after as_of_date", u["Level"], u["ParentId"])
                     for u in UNITS]
PROCEDURES = [procedure(PROC1, "Cấp giấy chứng nhận quyền sử dụng đất", 5),
              procedure(PROC2, "Đăng ký khai sinh", 3)]

D01 = dossier("D01", H, PROC1, "2", "10", "20240304080000", "20240308170000", submitted="20240303200000",
              ended="20240306100000", returned="20240307090000", updated="20240307090000",
              DuocThanhToanTrucTuyen="1", HoSoCoThanhPhanSoHoa="1",
              TaiLieuNop=[{"MaThanhPhanHoSo": "TP1", "DuocSoHoa": "1", "DuocTaiSuDung": "0", "DuocLayTuKhoDMQG": "0"},
                          {"MaThanhPhanHoSo": "TP2", "DuocSoHoa": "0", "DuocTaiSuDung": "0", "DuocLayTuKhoDMQG": "1"}],
              DanhSachLePhi=[{"MaPhiLePhi": "LP1", "TenPhiLePhi": "Lệ phí", "Gia": 50000, "HinhThucThu": "2"}],
              DanhSachGiayToKetQua=[{"MaGiayToKetQua": "KQ1", "DuongDanTepTinKetQua": "https://example.invalid/kq1.pdf"}])
D02 = dossier("D02", H, PROC1, "1", "9", "20240305090000", "20240312170000", ended="20240312160000",
              updated="20240312160000")
D02_REFUSED = dossier("D02", H, PROC1, "1", "4", "20240305090000", "20240312170000", updated="20240327080000")
D03 = dossier("D03", H, PROC1, "3", "9", "20240306083000", "20240313170000", ended="20240313170500",
              updated="20240313170500")
D04 = dossier("D04", H, PROC2, None, "10", "20240307100000", "20240314170000", returned="20240315083000",
              updated="20240315083000")
D05 = dossier("D05", H, PROC1, "2", "7", "20240308090000", "20240320170000", ended="20240325100000",
              updated="20240325100000")
D06 = dossier("D06", H, PROC2, "1", "8", "20240311090000", "20240315170000", ended="20240314100000",
              updated="20240314100000")
D07 = dossier("D07", H, PROC1, "2", "1", "", "", submitted="20240320210000", updated="20240320210000")
D08 = dossier("D08", H, PROC1, "1", "3", "20240321090000", "", refused="20240321091500",
              updated="20240321091500")
D09 = dossier("D09", H, PROC1, "2", "2", "20240328100000", "20240405170000", updated="20240328100000")
D09_AFTER_AS_OF = dossier("D09", H, PROC1, "2", "10", "20240328100000", "20240405170000",
                          ended="20240404100000", returned="20240405090000", updated="20240405090000")
D10_V1 = dossier("D10", H, PROC1, "1", "2", "20240318090000", "20240327170000", updated="20240318090000")
D10 = dossier("D10", H, PROC1, "1", "4", "20240318090000", "20240327170000", updated="20240319090000")
D11 = dossier("D11", H, PROC1, "1", "5", "20240312090000", "20240322170000", updated="20240320100000",
              supplements=[{"HoSoBoSungId": "BS11", "NgayYeuCauBoSung": "20240320100000", "NgayTiepNhanBoSung": "",
                            "NgayHenTraTruoc": "20240322170000", "NgayHenTraMoi": ""}])
D12_V1 = dossier("D12", H, PROC1, "1", "2", "20240215090000", "20240222170000", updated="20240215090000")
D12 = dossier("D12", H, PROC1, "1", "6", "20240215090000", "20240306170000", updated="20240304090000",
              supplements=[{"HoSoBoSungId": "BS12", "NgayYeuCauBoSung": "20240223100000",
                            "NgayTiepNhanBoSung": "20240301090000", "NgayHenTraTruoc": "20240222170000",
                            "NgayHenTraMoi": "20240306170000"}])
D13 = dossier("D13", H, PROC2, "2", "10", "20240226140000", "20240304170000", ended="20240301110000",
              returned="20240302090000", updated="20240302090000")
D14_V1 = dossier("D14", H, PROC1, "1", "4", "20240318083000", "20240325170000", updated="20240318083000")
D14 = dossier("D14", H, PROC1, "1", "9", "20240318083000", "20240325170000", ended="20240326090000",
              updated="20240326090000",
              apologies=[{"NgayXinLoi": "20240325160000", "NgayHenTraMoi": "20240326170000", "LyDo": "Chậm thẩm định"}])
D15_FIRST = dossier("D15", H, PROC1, "2", "4", "20240320080000", "20240321170000", updated="20240322080000")
D16_FIRST = dossier("D16", H, PROC1, "2", "2", "20240322090000", "20240329170000", updated="20240322090000")
D15 = dossier("D15", H, PROC1, "2", "9", "20240320080000", "20240322170000", ended="20240322150000",
              updated="20240322150000")
D17 = dossier("D17", X, PROC1, "2", "10", "20240305090000", "20240307170000", ended="20240307090000",
              returned="20240307100000", updated="20240307100000")
D18 = dossier("D18", S, PROC2, "1", "4", "20240115090000", "20240220170000", updated="20240115090000")
D19 = dossier("D19", P, PROC2, "3", "9", "20240320090000", "20240329170000", ended="20240329100000",
              updated="20240329100000")
D20 = dossier("D20", X, PROC1, "1", "2", "20240401090000", "20240410170000", updated="20240401090000")
D21 = dossier("D21", "999.99.99.H99", PROC1, "1", "2", "20240305090000", "20240312170000",
              updated="20240305090000")

STEPS = [
    {"MaHoSo": "D01", "BuocXuLy": "1", "PhongBanXuLy": "Bộ phận một cửa", "NguoiXuLy": "pseudo-official-1",
     "ChucDanh": "Chuyên viên", "TrangThai": "2", "ThoiDiemXuLy": "20240304080000", "NgayBatDau": "20240304080000",
     "NgayKetThucTheoQuyDinh": "20240304170000", "NoiDungXuLy": "Tiếp nhận", "NgayCapNhat": "20240304080000"},
    {"MaHoSo": "D01", "BuocXuLy": "2", "PhongBanXuLy": "Phòng TN-MT", "NguoiXuLy": "pseudo-official-2",
     "ChucDanh": "Trưởng phòng", "TrangThai": "9", "ThoiDiemXuLy": "20240306100000", "NgayBatDau": "20240304090000",
     "NgayKetThucTheoQuyDinh": "20240308170000", "NoiDungXuLy": "Xử lý xong", "NgayCapNhat": "20240306100000"},
]


def land_scenario(conn) -> None:
    land(conn, "reference", "units", "2024-01-02", UNITS_OLD)
    land(conn, "reference", "units", "2024-03-01", UNITS)
    land(conn, "reference", "units", "2024-03-31", [unit(P, "refused delivery", "TINH")], status="refused")
    land(conn, "reference", "units", "2024-04-05", UNITS_AFTER_AS_OF)
    land(conn, "reference", "procedures", "2024-01-02", PROCEDURES)
    land(conn, "onestop", "steps", "2024-03-06", STEPS)

    land_by_update_day(conn, "onestop", "dossiers", (D01, D02, D03, D04, D05, D06, D07, D08, D09, D10_V1, D10, D11,
                                                     D12_V1, D12, D13, D14_V1, D14, D17, D18, D19, D20, D21),
                       run_id=RUN_ID)
    # 2024-03-22: delivered, then corrected by a re-delivery of the whole day
    land(conn, "onestop", "dossiers", "2024-03-22", [D16_FIRST, D15_FIRST])
    land(conn, "onestop", "dossiers", "2024-03-22", [D15])
    # a refused batch never counts; a day after as_of_date is not read
    land(conn, "onestop", "dossiers", "2024-03-27", [D02_REFUSED], status="refused")
    land(conn, "onestop", "dossiers", "2024-04-05", [D09_AFTER_AS_OF])


# -- fixtures --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def built(warehouse_db):
    for result in built_scenario(warehouse_db, land_scenario, AS_OF, publication_id=PUBLICATION_ID, run_id=RUN_ID):
        yield warehouse_db, result


COUNTS = ("received_total", "received_online", "received_direct_postal", "carried_over",
          "resolved_total", "resolved_early", "resolved_on_time", "resolved_late",
          "resolved_withdrawn_or_stopped", "pending_total", "pending_on_time", "pending_overdue")


def row(url: str, period_type: str, period_start: str, unit_id: str, field_code: str) -> dict | None:
    rows = query(url, "select * from kpi_build.tthc_report where period_type = %s and period_start = %s"
                      " and unit_id = %s and field_code = %s", (period_type, period_start, unit_id, field_code))
    assert len(rows) <= 1
    return rows[0] if rows else None


def expect(received_online, received_direct_postal, carried_over, early, on_time, late, withdrawn_or_stopped,
           pending_on_time, pending_overdue) -> dict:
    resolved = early + on_time + late
    return {
        "received_total": received_online + received_direct_postal + carried_over,
        "received_online": received_online, "received_direct_postal": received_direct_postal,
        "carried_over": carried_over, "resolved_total": resolved, "resolved_early": early,
        "resolved_on_time": on_time, "resolved_late": late,
        "resolved_withdrawn_or_stopped": withdrawn_or_stopped,
        "pending_total": pending_on_time + pending_overdue, "pending_on_time": pending_on_time,
        "pending_overdue": pending_overdue,
    }


# Month 2024-03 (worked by hand, see the module docstring)
MARCH = {
    # H, all fields: online D01 D05 D09 D15; desk/postal D02 D03 D04(null) D06 D10 D11 D14;
    # carried D12 D13; early D01 D13; on time D02 D05(w) D06(s) D15; late D03 D04 D14;
    # pending at 03-31: D09 (due 04-05), D11 (waiting) within deadline; D10, D12 overdue
    (H, "*"): expect(4, 7, 2, 2, 4, 3, 2, 2, 2),
    # H LV01: online D01 D05 D09 D15; desk D02 D03 D10 D11 D14; carried D12;
    # early D01; on time D02 D05(w) D15; late D03 D14; pending D09 D11 / D10 D12
    (H, "LV01"): expect(4, 5, 1, 1, 3, 2, 1, 2, 2),
    # H LV02: desk D04 D06; carried D13; early D13, on time D06(s), late D04
    (H, "LV02"): expect(0, 2, 1, 1, 1, 1, 1, 0, 0),
    # X: D17 online, on time
    (X, "*"): expect(1, 0, 0, 0, 1, 0, 0, 0, 0),
    (X, "LV01"): expect(1, 0, 0, 0, 1, 0, 0, 0, 0),
    # S: D18 carried over from January, overdue since 02-20
    (S, "*"): expect(0, 0, 1, 0, 0, 0, 0, 0, 1),
    (S, "LV02"): expect(0, 0, 1, 0, 0, 0, 0, 0, 1),
    # province: H + X + S + P's own D19 (postal, on time)
    (P, "*"): expect(5, 8, 3, 2, 6, 3, 2, 2, 3),
    (P, "LV01"): expect(5, 5, 1, 1, 4, 2, 1, 2, 2),
    (P, "LV02"): expect(0, 3, 2, 1, 2, 1, 1, 0, 1),
}


# -- the report ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("unit_id", "field_code"), list(MARCH))
def test_march_rows(built, unit_id, field_code):
    url, _ = built
    got = row(url, "month", "2024-03-01", unit_id, field_code)
    assert got is not None, f"no March row for {unit_id} {field_code}"
    assert {k: got[k] for k in COUNTS} == MARCH[(unit_id, field_code)]
    assert got["period_end"] == dt.date(2024, 3, 31)
    assert got["publication_id"] == PUBLICATION_ID


def test_march_row_sets(built):
    url, _ = built
    rows = query(url, "select unit_id, field_code from kpi_build.tthc_report"
                      " where period_type = 'month' and period_start = '2024-03-01'")
    # X2 was abolished on 2024-02-29 and had no dossier: no March row at all
    assert {(r["unit_id"], r["field_code"]) for r in rows} == set(MARCH)


def test_on_time_rate(built):
    url, _ = built
    h = row(url, "month", "2024-03-01", H, "*")
    assert abs(h["on_time_rate"] - Decimal(6) / Decimal(9)) < Decimal("1e-15")  # (2 + 4) / 9
    p = row(url, "month", "2024-03-01", P, "*")
    assert abs(p["on_time_rate"] - Decimal(8) / Decimal(11)) < Decimal("1e-15")  # (2 + 6) / 11
    assert row(url, "month", "2024-03-01", S, "*")["on_time_rate"] is None  # nothing resolved


def test_february_and_abolished_unit(built):
    url, _ = built
    # H in February: D12 (desk, 02-15) and D13 (online, 02-26); both pending at 02-29 within
    # deadline (D12 waits for its supplement, D13 is due 03-04)
    assert {k: row(url, "month", "2024-02-01", H, "*")[k] for k in COUNTS} == expect(1, 1, 0, 0, 0, 0, 0, 2, 0)
    # X2 was valid until 2024-02-29: a zero row in February, none in March
    x2 = row(url, "month", "2024-02-01", X2, "*")
    assert x2 is not None and all(x2[k] == 0 for k in COUNTS) and x2["on_time_rate"] is None
    assert row(url, "month", "2024-03-01", X2, "*") is None
    # every field row of X2: none (no activity)
    assert row(url, "month", "2024-02-01", X2, "LV01") is None


def test_day_rows(built):
    url, _ = built
    # 2024-02-22, H: D12 pending at the end of 02-21 within deadline (due then 02-22 17:00), and at
    # the end of 02-22 overdue: the supplement requested on 02-23 later moved its due date, so
    # the due date in force on 02-22 is that supplement's NgayHenTraTruoc.
    got = row(url, "day", "2024-02-22", H, "*")
    assert {k: got[k] for k in COUNTS} == expect(0, 0, 1, 0, 0, 0, 0, 0, 1)
    assert got["period_end"] == dt.date(2024, 2, 22)
    # 2024-02-23: D12 now waits for the applicant's supplement -> within deadline
    assert {k: row(url, "day", "2024-02-23", H, "*")[k] for k in COUNTS} == expect(0, 0, 1, 0, 0, 0, 0, 1, 0)
    # 2024-03-13, H: pending at the end of 03-12: D12 (overdue since 03-06), D03 D04 D05 D06 D11
    # (within deadline); D03 finishes 17:05 > 17:00 -> late; at the end: D04 D05 D06 D11 / D12
    got = row(url, "day", "2024-03-13", H, "*")
    assert {k: got[k] for k in COUNTS} == expect(0, 0, 6, 0, 0, 1, 0, 4, 1)


def test_partial_periods_are_capped_at_as_of_date(built):
    url, _ = built
    # April up to 04-02, province: carried = March pending (5); D20 received 04-01 (desk);
    # nothing finished (D09's finish is delivered after as_of_date); pending: D09, D11 (waiting),
    # D20 within deadline; D10, D12, D18 overdue
    april = row(url, "month", "2024-04-01", P, "*")
    assert april["period_end"] == dt.date(2024, 4, 2)
    assert {k: april[k] for k in COUNTS} == expect(0, 1, 5, 0, 0, 0, 0, 3, 3)
    # Q1, province: Jan D18; Feb D12, D13(online); March as above
    q1 = row(url, "quarter", "2024-01-01", P, "*")
    assert q1["period_end"] == dt.date(2024, 3, 31)
    assert {k: q1[k] for k in COUNTS} == expect(6, 10, 0, 2, 6, 3, 2, 2, 3)
    assert row(url, "year", "2024-01-01", P, "*")["period_end"] == dt.date(2024, 4, 2)
    assert row(url, "half_year", "2024-01-01", P, "*")["period_end"] == dt.date(2024, 4, 2)
    assert query(url, "select max(period_end) as m from kpi_build.tthc_report")[0]["m"] == dt.date(2024, 4, 2)


def test_identities_on_every_row(built):
    url, _ = built
    rows = query(url, "select * from kpi_build.tthc_report")
    assert len(rows) > 100
    index = {(r["period_type"], r["period_start"], r["unit_id"], r["field_code"]): r for r in rows}
    last = {}
    for r in rows:
        last[r["period_type"]] = max(last.get(r["period_type"], r["period_start"]), r["period_start"])
    starts = {(r["period_type"], r["period_start"]) for r in rows}
    for key, r in index.items():
        assert r["received_total"] == r["received_online"] + r["received_direct_postal"] + r["carried_over"], key
        assert r["resolved_total"] == r["resolved_early"] + r["resolved_on_time"] + r["resolved_late"], key
        assert r["pending_total"] == r["pending_on_time"] + r["pending_overdue"], key
        assert r["received_total"] == r["resolved_total"] + r["pending_total"], key
        if r["resolved_total"]:
            rate = Decimal(r["resolved_early"] + r["resolved_on_time"]) / r["resolved_total"]
            assert abs(r["on_time_rate"] - rate) < Decimal("1e-15"), key
        else:
            assert r["on_time_rate"] is None, key
        # identity 5: the next period of the same type, unit and field carries this one's pending
        period_type, start, unit_id, field_code = key
        if start == last[period_type]:
            continue
        next_start = r["period_end"] + dt.timedelta(days=1)
        assert (period_type, next_start) in starts
        nxt = index.get((period_type, next_start, unit_id, field_code))
        assert (nxt["carried_over"] if nxt else 0) == r["pending_total"], key
    # and the other way round: a row's carried_over is the previous period's pending
    by_next_start = {(p["period_type"], p["period_end"] + dt.timedelta(days=1), p["unit_id"], p["field_code"]): p
                     for p in rows}
    for key, r in index.items():
        previous = by_next_start.get(key)
        assert r["carried_over"] == (previous["pending_total"] if previous else 0), key


def test_report_columns_follow_the_contract(built):
    url, _ = built
    cols = query(url, "select column_name, data_type from information_schema.columns where table_schema ="
                      " 'kpi_build' and table_name = 'tthc_report' order by ordinal_position")
    assert [(c["column_name"], c["data_type"]) for c in cols] == [
        ("period_type", "text"), ("period_start", "date"), ("period_end", "date"), ("unit_id", "text"),
        ("unit_name", "text"), ("field_code", "text"),
        *[(c, "bigint") for c in COUNTS[:9]], *[(c, "bigint") for c in COUNTS[9:]],
        ("on_time_rate", "numeric"), ("publication_id", "bigint"),
    ]
    names = query(url, "select distinct unit_name from kpi_build.tthc_report where unit_id = %s", (H,))
    assert names == [{"unit_name": "UBND huyện Đông Hưng"}]  # the list of 03-01, not of 04-05


# -- the dossier facts -----------------------------------------------------------------------------
def test_dossier_facts(built):
    url, _ = built
    facts = {r["dossier_id"]: r for r in query(url, "select * from marts.fct_dossiers")}
    assert "D16" not in facts  # only in the superseded delivery of 03-22
    assert facts["D15"]["status_code"] == "9" and facts["D15"]["timeliness"] == "on_time"
    assert facts["D02"]["status_code"] == "9"  # the refused batch is ignored
    assert facts["D09"]["status_code"] == "2"  # the 04-05 version is after as_of_date
    assert facts["D14"]["timeliness"] == "late" and facts["D14"]["has_apology"]
    assert facts["D14"]["working_days_late"] == 1  # due Mon 03-25, finished Tue 03-26
    assert facts["D03"]["timeliness"] == "late" and facts["D03"]["working_days_late"] == 0
    assert facts["D04"]["finished_at"] == dt.datetime(2024, 3, 15, 8, 30)  # NgayTra
    assert facts["D04"]["channel_code"] == "1" and facts["D04"]["channel_group"] == "direct_postal"
    assert facts["D05"]["timeliness"] == "on_time" and facts["D05"]["is_withdrawn_or_stopped"]
    assert facts["D01"]["timeliness"] == "early" and facts["D01"]["working_days_to_finish"] == 2
    assert facts["D01"]["is_paid_online"] and facts["D01"]["has_e_result"]
    assert facts["D01"]["digitised_component_count"] == 1 and facts["D01"]["national_store_component_count"] == 1
    assert facts["D01"]["fee_amount_vnd"] == 50000
    assert facts["D12"]["supplement_count"] == 1 and facts["D12"]["due_at"] == dt.datetime(2024, 3, 6, 17)
    for code in ("D07", "D08"):
        assert facts[code]["received_at"] is None and facts[code]["report_exclusion_reason"] == "not_received"
    assert facts["D21"]["report_exclusion_reason"] == "unknown_unit" and not facts["D21"]["is_in_report"]
    assert facts["D11"]["applicant_name_pseudonym"] == "pseudo-name-D11"
    steps = query(url, "select dossier_id, step_no, status_code from stg.stg_onestop__steps order by step_no")
    assert steps == [{"dossier_id": "D01", "step_no": 1, "status_code": "2"},
                     {"dossier_id": "D01", "step_no": 2, "status_code": "9"}]


def test_daily_facts_and_publication(built):
    url, _ = built
    rows = query(url, "select * from kpi_build.dossier_facts_daily where date = '2024-03-13' and unit_id = %s"
                      " order by field_code", (H,))
    # end of 03-13: LV01 D05 D11 within deadline, D12 overdue, D03 finished late; LV02 D04 D06
    assert [(r["field_code"], r["resolved_late"], r["pending_on_time"], r["pending_overdue"]) for r in rows] == [
        ("LV01", 1, 2, 1), ("LV02", 0, 2, 0)]
    assert {r["publication_id"] for r in rows} == {PUBLICATION_ID}
    assert rows[0]["unit_name"] == "UBND huyện Đông Hưng" and rows[0]["province_unit_id"] == P


def test_units(built):
    url, _ = built
    units = {r["unit_id"]: r for r in query(url, "select * from marts.dim_unit")}
    assert set(units) == {P, S, H, X, X2}
    assert {u["province_unit_id"] for u in units.values()} == {P}
    assert units[X2]["current_unit_id"] == X and units[X]["current_unit_id"] == X
    assert units[X2]["valid_to"] == dt.date(2024, 2, 29) and units[H]["valid_to"] is None


def test_dim_date_matches_the_python_calendar(built):
    url, _ = built
    days = query(url, "select date_day, is_working_day, working_day_seq from marts.dim_date order by date_day")
    assert {d["date_day"].year for d in days} == set(calendar.covered_years())
    for d in days:
        assert d["is_working_day"] == calendar.is_working_day(d["date_day"]), d["date_day"]
    seq = {d["date_day"]: d["working_day_seq"] for d in days}
    for a, b in [(dt.date(2024, 4, 26), dt.date(2024, 5, 6)), (dt.date(2022, 1, 1), dt.date(2026, 12, 31)),
                 (dt.date(2025, 1, 24), dt.date(2025, 2, 3)), (dt.date(2026, 8, 20), dt.date(2026, 9, 4))]:
        assert seq[b] - seq[a] == calendar.working_days_between(a, b)


# -- the runner and the failure paths ----------------------------------------------------------------
def test_run_results_are_kept(built):
    url, result = built
    assert result.success and result.run_results_path is not None
    by_status = query(url, "select resource_type, status, count(*) as n from ops.dbt_run_results"
                           " where run_id = %s group by 1, 2", (RUN_ID,))
    statuses = {(r["resource_type"], r["status"]) for r in by_status}
    assert ("model", "success") in statuses and ("test", "pass") in statuses and ("seed", "success") in statuses
    assert ("test", "warn") in statuses  # D21: a dossier left out of the report for a defect
    assert not {s for s in statuses if s[1] in ("error", "fail")}
    rows = query(url, "select rows_affected from ops.dbt_run_results where run_id = %s"
                      " and unique_id = 'model.cchc.fct_dossiers'", (RUN_ID,))
    assert rows == [{"rows_affected": 20}]  # D01-D21 less D16


def test_missing_as_of_date_fails_clearly(built):
    url, _ = built
    result = run_dbt(["build", "--select", "stg_reference__units"], url=url, vars={"run_id": f"{RUN_ID}-no-var"})
    assert not result.success
    with pytest.raises(DbtBuildError, match="var 'as_of_date' is required"):
        raise_for_failures(result)


def test_a_year_without_calendar_notice_fails(built):
    url, _ = built
    result = run_dbt(["test", "--select", "assert_dossier_dates_in_calendar_years"], url=url,
                     vars={"as_of_date": "2031-01-05", "run_id": f"{RUN_ID}-2031"})
    with pytest.raises(DbtBuildError, match="assert_dossier_dates_in_calendar_years"):
        raise_for_failures(result)


def test_a_broken_candidate_fails_the_build(built):
    """Break a check dbt owns on the report (a unit that is not in dim_unit: the relationships test
    of tthc_report.unit_id) in one row: the tests of the report must fail and name it. The report's
    identities are the gate's (expectations/_mau06_report.yml; tests/test_quality_gate.py)."""
    url, _ = built
    where = "period_type = 'month' and period_start = '2024-03-01' and unit_id = %s and field_code = '*'"
    with psycopg.connect(url) as conn:
        conn.execute(f"update kpi_build.tthc_report set unit_id = 'NOWHERE' where {where}", (H,))
    try:
        # the build's own vars (unchanged vars let dbt reuse its parse)
        result = run_dbt(["test", "--select", "tthc_report"], url=url, vars=BUILD_VARS)
        with pytest.raises(DbtBuildError, match="relationships_tthc_report_unit_id") as err:
            raise_for_failures(result, "dbt build")
        assert [n for n in err.value.failed_nodes if "relationships_tthc_report_unit_id" in n]
        failing = query(url, "select failures from ops.dbt_run_results where run_id = %s and command = 'test'"
                             " and status = 'fail' and unique_id like 'test.cchc.relationships_tthc_report_unit_id%%'",
                        (RUN_ID,))
        assert failing == [{"failures": 1}]
    finally:
        with psycopg.connect(url) as conn:
            conn.execute("update kpi_build.tthc_report set unit_id = %s where period_type = 'month'"
                         " and period_start = '2024-03-01' and unit_id = 'NOWHERE' and field_code = '*'", (H,))
