"""The indicators of issue 7 on hand-built landed data: a real PostgreSQL, a real `dbt build`, the
real GX gate. kpi.dx_indicators, kpi.service_index (Decision 766) and kpi.late_accountability.

Every expected number below was worked out by hand, dossier by dossier; the working is in the
comments. as_of_date = 2024-06-30.

Units: province P (TINH); department S (SO) under P; district H (HUYEN) under P; communes X and Y
(XA) under H. Procedures (CapThucHien, MucDoDVC, fee):
  PX XA   TOAN_TRINH fee      PY XA MOT_PHAN no fee    PZ XA none no fee    PW XA TOAN_TRINH no fee
  PH HUYEN TOAN_TRINH fee     PT TINH MOT_PHAN fee

Commune X, March 2024 (times local; "due" = NgayHenTra as delivered):
  X1  PX online  10  recv 03-04  due 03-08 17:00  end 03-06 10:00  paid online, digitised, e-result
  X2  PX online  10  recv 03-05  due 03-11 17:00  end 03-12 09:00  -> late (both rules); digitised, e-result
  X3  PY desk     9  recv 03-06  supplement requested 03-08 09:00, received 03-12 09:00 (4 days);
                     due before 03-14 17:00, NgayHenTra 03-19 17:00 (the unit added 5 days)
                     end 03-18 20:00 -> periodic: early (before the due day 03-19);
                     766: 03-14 17:00 + 4 days = 03-18 17:00 < end -> late
  X4  PY online   9  recv 03-07  two supplement requests (03-08 10:00, 03-11 10:00), NgayHenTra
                     03-22 17:00, end 03-15 10:00 -> periodic: early; 766: the second request makes
                     it late; digitised, e-result
  X5  PZ desk     4  recv 03-11  due 03-25 17:00, open -> overdue at 03-31 (both rules);
                     apology slip 03-26, after the due time it missed: not "issued" (the
                     directives want it before the dossier is late)
  X6  PZ postal   5  recv 03-12  due 03-20 17:00, supplement requested 03-15, not received
                     -> waiting: within deadline at 03-31 (both rules)
  X7  PX online   7  recv 03-13  end 03-14 -> withdrawn: on time, no result
  X8  PX desk    10  recv 03-14  due 03-21 17:00  end 03-20 10:00 -> early; fee, not paid online
  X9  PY online   2  recv 03-28  due 04-05 17:00 -> pending within deadline at 03-31
  X10 PX online   1  never received (not counted)
Feedback on X: F1 (dossier X2, due 03-20, handled 03-19, HAI_LONG), F2 (dossier X5, due 03-27,
handled 03-29: late, KHONG_HAI_LONG), F3 (no dossier, due 04-02, handled 03-28, HAI_LONG),
F4 (no dossier, due 03-29, not handled). Ratings: X1 "1", X2 "3", X8 "2".
Documents of X: one outgoing electronic fully signed via VXP, one outgoing on paper, one incoming
electronic via LGSP.

Commune Y (accountability): dossiers of PZ at the desk, received and finished in the month,
1 late of 12 in January, February and March, none late of 20 in April, 1 late of 10 in May,
nothing in June. The January late dossier has an apology slip before its finish, the February
one none, the March one only after it finished.

Targets (list of 2024-01-02): level XA 2024 online_dossiers_share 0.5; unit X 2024
online_dossiers_share 0.6 (wins over the level's); level XA 2024 online_payment_share 0.2.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction
from functools import partial

import builders
import psycopg
import pytest
from builders import built_scenario, land_batch, land_by_update_day, query, source_ts

AS_OF = "2024-06-30"
RUN_ID = "test-indicators"
PUBLICATION_ID = 77

P, S, H, X, Y = "000.00.00.H26", "000.01.00.H26", "000.00.10.H26", "000.10.01.H26", "000.10.02.H26"
EPS = Decimal("1e-12")


# -- landing helpers (tests/builders.py) -------------------------------------------------------------
land = partial(land_batch, run_id=RUN_ID)
ts = source_ts  # '2024-03-04 09:00' -> '20240304090000'; '' stays ''
unit = partial(builders.unit, updated="20231231000000")


PROCEDURES_SPEC = {  # code: (level, online level, fee, field)
    "PX": ("XA", "TOAN_TRINH", True, "LV01"),
    "PY": ("XA", "MOT_PHAN", False, "LV01"),
    "PZ": ("XA", "", False, "LV02"),
    "PW": ("XA", "TOAN_TRINH", False, "LV02"),
    "PH": ("HUYEN", "TOAN_TRINH", True, "LV01"),
    "PT": ("TINH", "MOT_PHAN", True, "LV02"),
}


def procedure(code):
    level, online, fee, field = PROCEDURES_SPEC[code]
    return {"MaTTHC": code, "TenTTHC": f"Thủ tục {code}", "MaLinhVuc": field, "TenLinhVuc": f"Lĩnh vực {field}",
            "CapThucHien": level, "ThoiHanGiaiQuyet": 5, "DonViTinh": "NGAY_LAM_VIEC", "MucDoDVC": online,
            "CoPhiLePhi": "1" if fee else "0", "TraKetQuaGiay": "1", "DoiTuongCongDan": "1",
            "ValidFrom": "20200101000000", "ValidTo": "", "NgayCapNhat": "20231231000000"}


def dossier(code, unit_id, proc, channel, status, received, due, *, ended="", returned="", paid="0",
            digitised="0", e_result=False, supplements=(), apologies=(), updated=None, submitted=None):
    field = PROCEDURES_SPEC[proc][3]
    updated = updated or max(x for x in (received, ended, returned, submitted or "") if x)
    return {
        "MaHoSo": code, "MaTTHC": proc, "TenTTHC": f"Thủ tục {proc}", "MaLinhVuc": field,
        "TenLinhVuc": f"Lĩnh vực {field}", "DonViTiepNhan": unit_id, "DonViXuLy": unit_id,
        "KenhThucHien": channel, "LoaiDoiTuong": "1", "ChuHoSo": f"pseudo-name-{code}",
        "SoGiayToChuHoSo": f"pseudo-id-{code}", "SoDienThoai": f"pseudo-phone-{code}",
        "Email": f"pseudo-mail-{code}", "TrichYeuHoSo": f"Hồ sơ {code}",
        "NgayNopHoSo": ts(submitted or received), "NgayTiepNhan": ts(received), "NgayHenTra": ts(due),
        "NgayKetThucXuLy": ts(ended), "NgayTra": ts(returned), "NgayTuChoi": "", "TrangThaiHoSo": status,
        "HinhThucTra": "1", "DuocThanhToanTrucTuyen": paid, "HoSoCoThanhPhanSoHoa": digitised,
        "TaiKhoanDuocXacThucVoiVNeID": "0", "DanhSachLePhi": [],
        "TaiLieuNop": [{"MaThanhPhanHoSo": "TP1", "DuocSoHoa": digitised, "DuocTaiSuDung": "0",
                        "DuocLayTuKhoDMQG": "0"}],
        "DanhSachHoSoBoSung": [
            {"HoSoBoSungId": f"BS-{code}-{i}", "NgayYeuCauBoSung": ts(req), "NgayTiepNhanBoSung": ts(rec),
             "NgayHenTraTruoc": ts(before), "NgayHenTraMoi": ts(after)}
            for i, (req, rec, before, after) in enumerate(supplements, 1)],
        "DanhSachXinLoi": [{"NgayXinLoi": ts(at), "NgayHenTraMoi": ts(new_due), "LyDo": "Chậm xử lý"}
                           for at, new_due in apologies],
        "DanhSachGiayToKetQua": ([{"MaGiayToKetQua": f"KQ-{code}", "DuongDanTepTinKetQua": f"https://example.invalid/{code}.pdf"}]
                                 if e_result else []),
        "NgayCapNhat": ts(updated),
    }


def feedback(code, unit_id, dossier_id, received, due, handled, verdict):
    return {"MaPAKN": code, "Kenh": "1022", "MaHoSo": dossier_id, "DonViXuLy": unit_id, "PhanLoai": "TTHC",
            "NgayTiepNhan": ts(received), "HanXuLy": ts(due), "NgayXuLy": ts(handled), "KetQua": verdict,
            "NgayCapNhat": ts(handled or received)}


def rating(dossier_id, level, at):
    return {"MaHoSo": dossier_id, "MucDo": level, "NgayDanhGia": ts(at), "NgayCapNhat": ts(at)}


def target(unit_id, level, indicator, value, year=2024):
    return {"UnitId": unit_id, "Level": level, "Year": year, "IndicatorCode": indicator, "TargetValue": value,
            "NgayCapNhat": "20240102000000"}


def document(doc_id, direction, organ, day, *, electronic, channel, fully_signed=False):
    signatures = ([{"Kind": "SIGNER", "SignedAt": ts(day + " 09:00"), "CertSerial": "S1", "Valid": True},
                   {"Kind": "ORGANIZATION", "SignedAt": ts(day + " 09:20"), "CertSerial": "O1", "Valid": True}]
                  if fully_signed else [])
    return {
        "DocumentId": doc_id, "Direction": direction, "OrganId": organ,
        "FromOrganId": organ if direction == "OUT" else "000.00.00.G02",
        "CodeNumber": doc_id[-1], "CodeNotation": "UBND", "DocumentType": "CV", "Subject": f"CV {doc_id}",
        "PromulgationDate": ts(day + " 00:00"), "IsElectronic": electronic, "IsSecret": False,
        "Channel": channel, "SignerFullName": "Hoàng Văn Chủ", "SignerPosition": "Chủ tịch",
        "SignerCompetence": "TM.", "SignerIsLeader": True, "Signatures": signatures,
        "RegisteredAt": ts(day + " 09:10"), "DispatchedAt": ts(day + " 10:00") if direction == "OUT" else "",
        "AcknowledgedAt": ts(day + " 11:00") if direction == "IN" else "", "HandlingDueDate": "",
        "HandlingDoneAt": "", "Recipients": [], "Statuses": [], "NgayCapNhat": ts(day + " 12:00"),
    }


UNITS = [
    unit(P, "UBND tỉnh Thử Nghiệm", "TINH"),
    unit(S, "Sở Tư pháp", "SO", P),
    unit(H, "UBND huyện Đông", "HUYEN", P),
    unit(X, "UBND xã Đông Hợp", "XA", H),
    unit(Y, "UBND xã Đông Xá", "XA", H),
]
PROCEDURES = [procedure(code) for code in PROCEDURES_SPEC]

X_DOSSIERS = [
    dossier("X1", X, "PX", "2", "10", "2024-03-04 09:00", "2024-03-08 17:00", ended="2024-03-06 10:00",
            returned="2024-03-07 09:00", paid="1", digitised="1", e_result=True),
    dossier("X2", X, "PX", "2", "10", "2024-03-05 09:00", "2024-03-11 17:00", ended="2024-03-12 09:00",
            returned="2024-03-12 10:00", digitised="1", e_result=True),
    dossier("X3", X, "PY", "1", "9", "2024-03-06 08:00", "2024-03-19 17:00", ended="2024-03-18 20:00",
            supplements=[("2024-03-08 09:00", "2024-03-12 09:00", "2024-03-14 17:00", "2024-03-19 17:00")]),
    dossier("X4", X, "PY", "2", "9", "2024-03-07 09:00", "2024-03-22 17:00", ended="2024-03-15 10:00",
            digitised="1", e_result=True,
            supplements=[("2024-03-08 10:00", "2024-03-09 10:00", "2024-03-20 17:00", "2024-03-21 17:00"),
                         ("2024-03-11 10:00", "2024-03-12 10:00", "2024-03-21 17:00", "2024-03-22 17:00")]),
    dossier("X5", X, "PZ", "1", "4", "2024-03-11 09:00", "2024-03-25 17:00", updated="2024-03-26 08:00",
            apologies=[("2024-03-26 08:00", "2024-04-05 17:00")]),
    dossier("X6", X, "PZ", "3", "5", "2024-03-12 09:00", "2024-03-20 17:00", updated="2024-03-15 09:00",
            supplements=[("2024-03-15 09:00", "", "2024-03-20 17:00", "")]),
    dossier("X7", X, "PX", "2", "7", "2024-03-13 09:00", "2024-03-20 17:00", ended="2024-03-14 10:00"),
    dossier("X8", X, "PX", "1", "10", "2024-03-14 09:00", "2024-03-21 17:00", ended="2024-03-20 10:00",
            returned="2024-03-20 11:00"),
    dossier("X9", X, "PY", "2", "2", "2024-03-28 09:00", "2024-04-05 17:00"),
    dossier("X10", X, "PX", "2", "1", "", "", submitted="2024-03-29 20:00", updated="2024-03-29 20:00"),
]


def y_dossiers() -> list[dict]:
    """Y: per month, n dossiers of PZ at the desk, received on day 2, 3, ... at 08:00, due three
    days later at 17:00, finished the next day (early) or, for the late ones, four days later."""
    out = []
    plan = {1: (12, 1), 2: (12, 1), 3: (12, 1), 4: (20, 0), 5: (10, 1)}
    for month, (n, late) in plan.items():
        for i in range(n):
            day = dt.date(2024, month, 2 + i)
            is_late = i < late
            finished = day + dt.timedelta(days=4 if is_late else 1)
            apologies = ()
            if is_late and month == 1:
                apologies = [(f"{day + dt.timedelta(days=3)} 10:00", f"{finished} 17:00")]  # before the due time
            if is_late and month == 3:
                apologies = [(f"{finished + dt.timedelta(days=1)} 10:00", f"{finished} 17:00")]  # after the finish
            out.append(dossier(f"Y{month:02d}{i:02d}", Y, "PZ", "1", "9", f"{day} 08:00",
                               f"{day + dt.timedelta(days=3)} 17:00", ended=f"{finished} 10:00",
                               apologies=apologies,
                               updated=(f"{finished + dt.timedelta(days=1)} 10:00" if apologies and month == 3
                                        else None)))
    return out


FEEDBACK = [
    feedback("F1", X, "X2", "2024-03-13 09:00", "2024-03-20 17:00", "2024-03-19 10:00", "HAI_LONG"),
    feedback("F2", X, "X5", "2024-03-20 09:00", "2024-03-27 17:00", "2024-03-29 09:00", "KHONG_HAI_LONG"),
    feedback("F3", X, "", "2024-03-25 09:00", "2024-04-02 17:00", "2024-03-28 09:00", "HAI_LONG"),
    feedback("F4", X, "", "2024-03-26 09:00", "2024-03-29 17:00", "", ""),
]
RATINGS = [rating("X1", "1", "2024-03-07 10:00"), rating("X2", "3", "2024-03-13 10:00"),
           rating("X8", "2", "2024-03-21 12:00")]
DOCUMENTS = [
    document("X-OUT-1", "OUT", X, "2024-03-05", electronic=True, channel="VXP", fully_signed=True),
    document("X-OUT-2", "OUT", X, "2024-03-06", electronic=False, channel="PAPER"),
    document("X-IN-1", "IN", X, "2024-03-07", electronic=True, channel="LGSP"),
]
TARGETS = [
    target("", "XA", "online_dossiers_share", 0.5),
    target(X, "XA", "online_dossiers_share", 0.6),
    target("", "XA", "online_payment_share", 0.2),
]


def land_scenario(conn) -> None:
    land(conn, "reference", "units", "2024-01-02", UNITS)
    land(conn, "reference", "procedures", "2024-01-02", PROCEDURES)
    land(conn, "reference", "targets", "2024-01-02", TARGETS)
    feeds = [("onestop", "dossiers", X_DOSSIERS + y_dossiers()), ("onestop", "feedback", FEEDBACK),
             ("onestop", "ratings", RATINGS), ("edoc", "documents", DOCUMENTS)]
    for system, feed, records in feeds:
        land_by_update_day(conn, system, feed, records, run_id=RUN_ID)


# -- fixtures --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def built(warehouse_db):
    for _result in built_scenario(warehouse_db, land_scenario, AS_OF, publication_id=PUBLICATION_ID, run_id=RUN_ID):
        yield warehouse_db


def dx(url, unit_id, indicator, *, period_type="month", start="2024-03-01", scope="own") -> dict:
    found = query(url, "select * from kpi_build.dx_indicators where period_type = %s and period_start = %s"
                       " and unit_id = %s and indicator_code = %s and scope = %s",
                  (period_type, start, unit_id, indicator, scope))
    assert len(found) == 1, (unit_id, indicator, period_type, start, scope, found)
    return found[0]


def close(value, expected) -> bool:
    return value is not None and abs(Decimal(value) - Decimal(expected.numerator) / Decimal(expected.denominator)) < EPS


# -- kpi.dx_indicators -------------------------------------------------------------------------------
# X, March: (numerator, denominator) worked out in the module docstring
X_MARCH = {
    "online_dossiers_share": (5, 9),  # received X1..X9; online X1 X2 X4 X7 X9
    "fully_online_dossiers_share": (3, 9),  # online and TOAN_TRINH (PX): X1 X2 X7
    "online_payment_share": (1, 4),  # fee-bearing PX: X1 X2 X7 X8; paid online X1
    "digitised_components_share": (3, 9),  # HoSoCoThanhPhanSoHoa: X1 X2 X4
    "electronic_results_share": (3, 5),  # finished with a result X1 X2 X3 X4 X8 (X7 withdrawn); e-result X1 X2 X4
    "online_procedures_share": (2, 4),  # XA procedures PX PY PZ PW; fully online PX PW
    "procedures_with_online_dossier_share": (2, 4),  # online dossiers in March for PX and PY
    "satisfaction_share": (2, 3),  # votes X1 "1", X2 "3", X8 "2"
    "edoc_electronic_share": (1, 2),  # outgoing X-OUT-1 (electronic), X-OUT-2 (paper)
    "edoc_fully_signed_share": (1, 2),  # X-OUT-1
    "edoc_exchange_share": (2, 3),  # out via VXP X-OUT-1, in via LGSP X-IN-1, of 3 documents
}


@pytest.mark.parametrize("indicator", list(X_MARCH))
def test_x_march_indicator_values(built, indicator):
    got = dx(built, X, indicator)
    numerator, denominator = X_MARCH[indicator]
    assert (got["numerator"], got["denominator"]) == (numerator, denominator)
    assert close(got["value"], Fraction(numerator, denominator))
    assert got["period_end"] == dt.date(2024, 3, 31) and got["publication_id"] == PUBLICATION_ID
    assert got["edition"] == 1 and got["unit_level"] == "XA"


def test_targets_unit_row_wins_level_row_applies_and_no_target_is_never_attained(built):
    # X's own row (0.6) wins over the level's (0.5): 5/9 = 0.556 < 0.6
    got = dx(built, X, "online_dossiers_share")
    assert (got["target"], got["target_source"], got["attained"], got["target_status"]) == \
        (Decimal("0.6"), "unit", False, "not_attained")
    # Y has no row of its own: the level's 0.5; Y received 12 dossiers at the desk in March: 0/12
    got = dx(built, Y, "online_dossiers_share")
    assert (got["numerator"], got["denominator"], got["value"]) == (0, 12, 0)
    assert (got["target"], got["target_source"], got["attained"]) == (Decimal("0.5"), "level", False)
    # online payment, level target 0.2: X 1/4 = 0.25 -> attained
    got = dx(built, X, "online_payment_share")
    assert (got["target"], got["target_source"], got["attained"], got["target_status"]) == \
        (Decimal("0.2"), "level", True, "attained")
    # no target for digitisation: reported as such, never attained
    got = dx(built, X, "digitised_components_share")
    assert (got["target"], got["target_source"], got["attained"], got["target_status"]) == \
        (None, None, None, "no_target")
    # a target but nothing to measure (X had no dossier in January): no_value, not attained
    got = dx(built, X, "online_dossiers_share", start="2024-01-01")
    assert (got["denominator"], got["value"], got["attained"], got["target_status"]) == (0, None, None, "no_value")
    # the target applies to every period of its year
    got = dx(built, X, "online_dossiers_share", period_type="year", start="2024-01-01")
    assert got["target"] == Decimal("0.6")


def test_scopes_subtree_and_province(built):
    # H handles no dossier itself; its subtree (H, X, Y) received X's 9 and Y's 12 in March
    assert dx(built, H, "online_dossiers_share")["denominator"] == 0
    sub = dx(built, H, "online_dossiers_share", scope="subtree")
    assert (sub["numerator"], sub["denominator"]) == (5, 21)
    # the province's own row rolls up the province (as kpi.tthc_report); its subtree row is the same
    prov = dx(built, P, "online_dossiers_share")
    assert (prov["numerator"], prov["denominator"]) == (5, 21)
    prov_sub = dx(built, P, "online_dossiers_share", scope="subtree")
    assert (prov_sub["numerator"], prov_sub["denominator"]) == (5, 21)
    # procedures: H offers HUYEN procedures (PH: fully online); its subtree HUYEN and XA ones
    # (PH PX PY PZ PW: fully online PH PX PW; online dossiers for PX, PY); the province every level
    # (PT too: a department handles TINH procedures)
    assert (dx(built, H, "online_procedures_share")["numerator"], dx(built, H, "online_procedures_share")["denominator"]) == (1, 1)
    got = dx(built, H, "online_procedures_share", scope="subtree")
    assert (got["numerator"], got["denominator"]) == (3, 5)
    got = dx(built, H, "procedures_with_online_dossier_share", scope="subtree")
    assert (got["numerator"], got["denominator"]) == (2, 5)
    got = dx(built, P, "procedures_with_online_dossier_share")
    assert (got["numerator"], got["denominator"]) == (2, 6)
    # communes have no subtree rows; a department has no procedure-based rows (its fields are unknown)
    assert not query(built, "select 1 from kpi_build.dx_indicators where unit_id = %s and scope = 'subtree'", (X,))
    assert not query(built, "select 1 from kpi_build.dx_indicators where unit_id = %s"
                            " and indicator_code like 'online_procedures%%'", (S,))
    # every unit has own rows for every period and applicable indicator, zeros included
    n = query(built, "select count(*) as n from kpi_build.dx_indicators where unit_id = %s and scope = 'own'"
                     " and period_type = 'month'", (S,))[0]["n"]
    assert n == 6 * 9  # January..June x the 9 indicators that apply to a department


def test_quarter_sums_its_months(built):
    # Q1 for X = March only; for Y: 36 dossiers at the desk
    got = dx(built, X, "online_dossiers_share", period_type="quarter", start="2024-01-01")
    assert (got["numerator"], got["denominator"]) == (5, 9)
    got = dx(built, Y, "online_dossiers_share", period_type="half_year", start="2024-01-01")
    assert (got["numerator"], got["denominator"]) == (0, 12 + 12 + 12 + 20 + 10)


# -- the national portal's timeliness, named apart from the periodic report's -----------------------
def test_timeliness_766_differs_from_the_periodic_report(built):
    periodic = {r["dossier_id"]: r["timeliness"] for r in
                query(built, "select dossier_id, timeliness from marts.fct_dossiers where unit_id = %s", (X,))}
    portal = {r["dossier_id"]: r for r in
              query(built, "select * from int.int_dossier_timeliness_766 where unit_id = %s", (X,))}
    assert periodic["X3"] == "early" and portal["X3"]["timeliness_766"] == "late"  # 4 days' wait, 5 added
    assert portal["X3"]["overdue_from_766"] == dt.datetime(2024, 3, 18, 17, 0)
    assert periodic["X4"] == "early" and portal["X4"]["timeliness_766"] == "late"  # a second request
    assert portal["X4"]["overdue_from_766"] == dt.datetime(2024, 3, 11, 10, 0)
    assert portal["X6"]["overdue_from_766"] is None  # waiting for a supplement not received
    assert portal["X5"]["overdue_from_766"] == dt.datetime(2024, 3, 25, 17, 0)
    assert {k: v["timeliness_766"] for k, v in portal.items() if v["timeliness_766"]} == {
        "X1": "on_time", "X2": "late", "X3": "late", "X4": "late", "X7": "on_time", "X8": "on_time"}
    assert "X10" not in portal  # never received


# -- kpi.service_index ----------------------------------------------------------------------------------
def si(url, unit_id, start="2024-03-01", period_type="month") -> dict:
    found = query(url, "select * from kpi_build.service_index where period_type = %s and period_start = %s"
                       " and unit_id = %s", (period_type, start, unit_id))
    assert len(found) == 1
    return found[0]


def test_service_index_groups_for_x_in_march(built):
    got = si(built, X)
    expected = {
        # handled 9 (6 finished + 3 pending); on time by 766: X1 X7 X8 + pending within X6 X9 = 5
        "timeliness_766_ratio": Fraction(5, 9), "timeliness_766_points": Fraction(100, 9),
        # dossiers of online procedures (PX, PY): X1 X2 X3 X4 X7 X8 X9 = 7, online 5: 12 x (5/7)/0.5 > 12
        "online_dossiers_ratio": Fraction(5, 7), "online_dossiers_points": Fraction(12),
        # paid online 1 of 4 fee-bearing dossiers: 6 x 1/4; fee-bearing procedures with dossiers: PX,
        # with an online payment: PX -> 2
        "online_payment_dossiers_ratio": Fraction(1, 4), "online_payment_dossiers_points": Fraction(3, 2),
        "online_payment_procedures_ratio": Fraction(1), "online_payment_procedures_points": Fraction(2),
        # feedback due in March F1 F2 F4, on time F1: 6 x 1/3; handled with a verdict F1 F2 F3,
        # satisfied F1 F3: 6 x 2/3; dossier satisfaction: (5 on time - 2 complained (X2, X5)) / 9
        # = 1/3, full at 0.9: 6 x (1/3) / 0.9 = 20/9
        "feedback_on_time_ratio": Fraction(1, 3), "feedback_on_time_points": Fraction(2),
        "feedback_satisfied_ratio": Fraction(2, 3), "feedback_satisfied_points": Fraction(4),
        "dossier_satisfaction_ratio": Fraction(1, 3), "dossier_satisfaction_points": Fraction(20, 9),
        # e-results 3 of 5 finished with a result: 6 x 3/5; digitised and e-result 3/5, full at 0.8: 4 x 0.75
        "electronic_results_ratio": Fraction(3, 5), "electronic_results_points": Fraction(18, 5),
        "digitised_dossiers_and_results_ratio": Fraction(3, 5), "digitised_dossiers_and_results_points": Fraction(3),
    }
    for column, value in expected.items():
        assert close(got[column], value), (column, got[column], value)
    groups = {
        "transparency": (None, 0), "timeliness": (Fraction(100, 9), 20), "online_service": (Fraction(12), 12),
        "online_payment": (Fraction(7, 2), 8), "satisfaction": (Fraction(74, 9), 18),
        "digitisation": (Fraction(33, 5), 10),
    }
    for group, (points, computed_on) in groups.items():
        if points is None:
            assert got[f"{group}_points"] is None
        else:
            assert close(got[f"{group}_points"], points), group
        assert got[f"{group}_points_computed_on"] == computed_on, group
    # what no source carries is null, with the reason
    for column in ("procedures_published_and_synced_points", "fee_data_synced_points", "digitised_data_reused_points",
                   "personal_data_store_points", "citizen_data_connection_points", "e_certified_copies_points"):
        assert got[column] is None, column
    assert "no source carries procedures' publication dates" in got["transparency_missing_reason"]
    assert got["online_payment_missing_reason"].startswith("fee_data_synced: no source carries")
    total = Fraction(100, 9) + 12 + Fraction(7, 2) + Fraction(74, 9) + Fraction(33, 5)
    assert close(got["total_score"], total) and got["points_computed_on"] == 68
    assert close(got["total_score_share"], total / 68)
    # the periodic report's timeliness beside it: (4 early + 1 on time + 2 pending within) / 9
    assert close(got["timeliness_periodic_ratio"], Fraction(7, 9))


def test_service_index_ranks(built):
    rows = query(built, "select unit_id, total_score, rank_in_province from kpi_build.service_index"
                        " where period_type = 'month' and period_start = '2024-03-01'")
    by_unit = {r["unit_id"]: r for r in rows}
    assert set(by_unit) == {P, S, H, X, Y}
    assert by_unit[P]["rank_in_province"] is None  # the province's roll-up row
    ranked = sorted((r for r in rows if r["unit_id"] != P), key=lambda r: -r["total_score"])
    expected_rank, previous = 0, None
    for r in ranked:
        if r["total_score"] != previous:
            expected_rank, previous = expected_rank + 1, r["total_score"]
        assert r["rank_in_province"] == expected_rank, r
    # a unit without feedback gets full points for the feedback indicators (S has nothing at all)
    s = si(built, S)
    assert (s["feedback_on_time_points"], s["feedback_satisfied_points"]) == (6, 6)
    assert s["timeliness_points"] is None and "no dossiers_handled" in s["timeliness_missing_reason"]


# -- kpi.late_accountability -------------------------------------------------------------------------
def test_accountability_escalates_on_the_third_criticism(built):
    rows = {r["month"]: r for r in query(built, "select * from kpi_build.late_accountability where unit_id = %s", (Y,))}
    got = {m.month: (r["dossiers_handled"], r["late_total"], r["late_share_band"], r["criticisms_last_12_months"],
                     r["verdict"], r["verdict_reason"], r["late_without_apology"]) for m, r in rows.items()}
    assert got == {
        1: (12, 1, "criticism", 1, "criticism", "late_share_at_criticism_threshold", 0),  # apology before
        2: (12, 1, "criticism", 2, "criticism", "late_share_at_criticism_threshold", 1),
        3: (12, 1, "criticism", 3, "discipline", "repeated_criticism", 1),  # apology only after the finish
        4: (20, 0, "ok", 3, "ok", "late_share_below_criticism_threshold", 0),
        5: (10, 1, "discipline", 3, "discipline", "late_share_at_discipline_threshold", 1),  # 10 %: discipline
        6: (0, 0, "ok", 3, "ok", "nothing_handled", 0),
    }
    assert close(rows[dt.date(2024, 1, 1)]["late_share"], Fraction(1, 12))
    assert rows[dt.date(2024, 6, 1)]["late_share"] is None
    assert rows[dt.date(2024, 1, 1)]["thresholds_edition"] == 1


def test_accountability_of_x_counts_the_overdue_backlog(built):
    # March: X2 finished late (no slip), X5 overdue at the end of March (slip on 03-26, a day after
    # its due time 03-25 17:00: too late to count): 2 of 9, both without an apology issued in time
    row = query(built, "select * from kpi_build.late_accountability where unit_id = %s and month = '2024-03-01'",
                (X,))[0]
    assert (row["resolved_late"], row["pending_overdue"], row["late_total"], row["dossiers_handled"]) == (1, 1, 2, 9)
    assert close(row["late_share"], Fraction(2, 9))
    assert (row["verdict"], row["late_dossiers"], row["late_without_apology"]) == ("discipline", 2, 2)
    # April: X5 still overdue, X9 overdue since 04-05, X6 waiting; carried over 3
    row = query(built, "select * from kpi_build.late_accountability where unit_id = %s and month = '2024-04-01'",
                (X,))[0]
    assert (row["late_total"], row["dossiers_handled"]) == (2, 3)


# -- the quality gate ---------------------------------------------------------------------------------
SUITES = ["dx_indicators", "service_index", "late_accountability"]


def test_quality_gate_passes_on_the_candidates(built, tmp_path):
    from cchc.quality import published_suites, run_gate

    assert published_suites(SUITES) == SUITES  # every new table has its suite
    result = run_gate(built, SUITES, schema_map={"kpi": "kpi_build"}, run_id="test_indicators_gate",
                      report_dir=tmp_path)
    assert result.success, result.failures
    assert result.checks_evaluated >= 50


def test_quality_gate_catches_broken_candidates(built, tmp_path):
    """Breaks a row of each candidate inside a transaction the gate cannot see... so commit and restore."""
    from cchc.quality import run_gate

    breakages = [
        ("update kpi_build.dx_indicators set attained = true, target_status = 'attained' "
         "where unit_id = %s and indicator_code = 'digitised_components_share' and period_start = '2024-03-01' "
         "and period_type = 'month'", (X,)),
        ("update kpi_build.service_index set online_service_points = 13, rank_in_province = rank_in_province + 5 "
         "where unit_id = %s and period_start = '2024-03-01' and period_type = 'month'", (X,)),
        ("update kpi_build.late_accountability set verdict = 'criticism' "
         "where unit_id = %s and month = '2024-03-01'", (Y,)),
    ]
    with psycopg.connect(built) as conn:
        for table in ("dx_indicators", "service_index", "late_accountability"):
            conn.execute(f"create table public.saved_{table} as select * from kpi_build.{table}")
        for statement, params in breakages:
            assert conn.execute(statement, params).rowcount == 1
        conn.commit()
    try:
        result = run_gate(built, SUITES, schema_map={"kpi": "kpi_build"}, run_id="test_indicators_gate_broken",
                          report_dir=tmp_path)
    finally:
        with psycopg.connect(built) as conn:
            for table in ("dx_indicators", "service_index", "late_accountability"):
                conn.execute(f"delete from kpi_build.{table}")
                conn.execute(f"insert into kpi_build.{table} select * from public.saved_{table}")
                conn.execute(f"drop table public.saved_{table}")
            conn.commit()
    failed = {f.split(":")[0] for f in result.failures}
    assert not result.success
    assert {"dx_indicators.attained_consistent_with_value_and_target",
            "service_index.groups_within_their_maximum", "service_index.total_is_the_sum_of_groups",
            "service_index.ranks_dense_per_province_and_period",
            "late_accountability.verdict_consistent_with_band_and_history"} <= failed, result.failures
