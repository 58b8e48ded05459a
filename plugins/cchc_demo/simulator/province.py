"""The demo province "Sơn Hà" (code suffix H99): its units and its administrative procedures.

The reference lists are fixed (they do not depend on the seed), so tests and docs can name units.

Units (35): the provincial People's Committee ``000.00.00.H99`` (TINH); six departments (SO)
``000.03.00.H99`` … ``000.14.00.H99``; three districts (HUYEN) ``000.00.11.H99``,
``000.00.12.H99``, ``000.00.13.H99`` with six communes (XA) each, ``000.DD.01.H99`` …
``000.DD.06.H99``. On 1 July 2025 the province became two-tier: districts and old communes are
valid 2020-01-01 … 2025-06-30, and seven merged communes ``000.30.01.H99`` … ``000.30.07.H99``
(each from two or three old communes, parent: the province) are valid from 2025-07-01. An old
commune's SuccessorId is the commune it was merged into; a district's SuccessorId is the new
commune that holds its former seat. Departments and the province are current (ValidTo empty).

Procedures (57): 42, and for each of the 15 district-level ones, which end on 2025-06-30, a commune-level
successor procedure (new code 1.0130NN, same name and limit) from 2025-07-01, the way district procedures
moved to communes. CapThucHien TINH procedures are handled by the department that owns the field.

Validity fields are timestamps ``yyyyMMddHHmmss``; ValidFrom is the first valid day at 00:00:00,
ValidTo the last valid day at 23:59:59 (both inclusive), "" = open. The catalogue is static over
the simulated range, so every record carries the same NgayCapNhat (:data:`CATALOGUE_UPDATED`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

PROVINCE_ID = "000.00.00.H99"
PROVINCE_NAME = "Ủy ban nhân dân tỉnh Sơn Hà"
REFORM_DAY = dt.date(2025, 7, 1)  # districts abolished, communes merged
CATALOGUE_UPDATED = "20211231000000"
_OLD_FROM = dt.date(2020, 1, 1)
_OLD_TO = REFORM_DAY - dt.timedelta(days=1)


class _Validity:
    """Validity range of a catalogue record (inclusive dates; valid_to None = current)."""

    valid_from: dt.date
    valid_to: dt.date | None

    def valid_on(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def validity(self) -> dict:
        return {"ValidFrom": self.valid_from.strftime("%Y%m%d") + "000000",
                "ValidTo": self.valid_to.strftime("%Y%m%d") + "235959" if self.valid_to else ""}


@dataclass(frozen=True)
class Unit(_Validity):
    unit_id: str
    name: str
    level: str  # TINH | SO | HUYEN | XA
    parent_id: str
    valid_from: dt.date
    valid_to: dt.date | None = None
    successor_id: str = ""
    abbrev: str = "UBND"  # used in document symbols (QĐ-UBND)
    short: str = ""  # e.g. "xã Đông Hòa", for texts

    def record(self) -> dict:
        return {
            "UnitId": self.unit_id,
            "Name": self.name,
            "Level": self.level,
            "ParentId": self.parent_id,
            **self.validity(),
            "SuccessorId": self.successor_id,
            "NgayCapNhat": CATALOGUE_UPDATED,
        }


# (code, department name, abbreviation, fields it handles)
DEPARTMENTS = (
    ("03", "Sở Kế hoạch và Đầu tư", "SKHĐT", ("DKKD",)),
    ("05", "Sở Tư pháp", "STP", ("HT", "CT", "LLTP")),
    ("07", "Sở Tài nguyên và Môi trường", "STNMT", ("DD",)),
    ("09", "Sở Xây dựng", "SXD", ("XD",)),
    ("12", "Sở Lao động - Thương binh và Xã hội", "SLĐTBXH", ("LD",)),
    ("14", "Sở Nội vụ", "SNV", ("TDKT",)),
)

# district code -> (kind, name, [(commune kind, commune name)]), then the merge plan
DISTRICTS = (
    ("11", "thành phố", "Sơn Hà", [("phường", "Hòa Bình"), ("phường", "Quang Trung"), ("phường", "Lê Lợi"),
                                     ("phường", "Thành Công"), ("xã", "Sơn Tây"), ("xã", "Hòa Phú")]),
    ("12", "huyện", "Đông Điền", [("thị trấn", "Đông Điền"), ("xã", "Đông Hòa"), ("xã", "Đông Phong"),
                                   ("xã", "Đông Thịnh"), ("xã", "Đông Xuân"), ("xã", "Đông Lâm")]),
    ("13", "huyện", "Bắc Khê", [("thị trấn", "Bắc Khê"), ("xã", "Bắc Sơn"), ("xã", "Bắc Thủy"),
                                 ("xã", "Tân Lập"), ("xã", "Tân Tiến"), ("xã", "Yên Bình")]),
)
# new commune (code, kind, name, old communes merged into it); the first of each district holds its seat
MERGES = (
    ("01", "phường", "Sơn Hà", ("000.11.01", "000.11.02", "000.11.03")),
    ("02", "phường", "Hòa Phú", ("000.11.04", "000.11.05", "000.11.06")),
    ("03", "xã", "Đông Điền", ("000.12.01", "000.12.02")),
    ("04", "xã", "Đông Phong", ("000.12.03", "000.12.04")),
    ("05", "xã", "Đông Xuân", ("000.12.05", "000.12.06")),
    ("06", "xã", "Bắc Khê", ("000.13.01", "000.13.02", "000.13.03")),
    ("07", "xã", "Tân Yên", ("000.13.04", "000.13.05", "000.13.06")),
)
DISTRICT_SEAT = {"11": "01", "12": "03", "13": "06"}


def _uid(a: str, b: str) -> str:
    return f"000.{a}.{b}.H99"


@lru_cache(maxsize=1)
def units() -> tuple[Unit, ...]:
    out = [Unit(PROVINCE_ID, PROVINCE_NAME, "TINH", "", _OLD_FROM, short="tỉnh Sơn Hà")]
    for code, name, abbrev, _fields in DEPARTMENTS:
        out.append(Unit(_uid(code, "00"), name, "SO", PROVINCE_ID, _OLD_FROM, abbrev=abbrev, short=name))
    successor_of = {old: _uid("30", new) for new, _k, _n, olds in MERGES for old in olds}
    for dcode, dkind, dname, communes in DISTRICTS:
        did = _uid("00", dcode)
        out.append(Unit(did, f"Ủy ban nhân dân {dkind} {dname}", "HUYEN", PROVINCE_ID, _OLD_FROM, _OLD_TO,
                        _uid("30", DISTRICT_SEAT[dcode]), short=f"{dkind} {dname}"))
        for i, (ckind, cname) in enumerate(communes, start=1):
            cid = _uid(dcode, f"{i:02d}")
            out.append(Unit(cid, f"Ủy ban nhân dân {ckind} {cname}", "XA", did, _OLD_FROM, _OLD_TO,
                            successor_of[cid[:9]], short=f"{ckind} {cname}"))
    for code, kind, name, _olds in MERGES:
        out.append(Unit(_uid("30", code), f"Ủy ban nhân dân {kind} {name}", "XA", PROVINCE_ID, REFORM_DAY,
                        short=f"{kind} {name}"))
    return tuple(out)


@lru_cache(maxsize=1)
def units_by_id() -> dict[str, Unit]:
    return {u.unit_id: u for u in units()}


def valid_units(day: dt.date, level: str | None = None) -> list[Unit]:
    return [u for u in units() if u.valid_on(day) and (level is None or u.level == level)]


def department_for(field_code: str) -> Unit:
    for code, _name, _abbrev, fields in DEPARTMENTS:
        if field_code in fields:
            return units_by_id()[_uid(code, "00")]
    raise KeyError(field_code)


# How late each competent unit tends to be (share of finished dossiers finished late). Default 0–3 %,
# one district around 7 % (criticised) and one department around 12 % (considered for discipline).
LATE_RATE_SPECIAL = {"000.00.12.H99": 0.08, "000.07.00.H99": 0.24}
_LATE_STEPS = (0.0, 0.004, 0.008, 0.012, 0.016, 0.02)


def late_rate(unit_id: str) -> float:
    if unit_id in LATE_RATE_SPECIAL:
        return LATE_RATE_SPECIAL[unit_id]
    return _LATE_STEPS[sum(map(ord, unit_id)) % len(_LATE_STEPS)]


# Units that still issue many documents on paper (the e-signature directive's laggards).
PAPER_SHARE = {"000.00.13.H99": 0.35, "000.13.05.H99": 0.5, "000.30.07.H99": 0.3}

# Digitisation of submitted components, by level (departments are ahead, communes behind).
DIGITISATION = {"TINH": 0.97, "SO": 0.95, "HUYEN": 0.85, "XA": 0.6}

FIELDS = {
    "HT": "Hộ tịch",
    "CT": "Chứng thực",
    "DD": "Đất đai",
    "XD": "Xây dựng",
    "DKKD": "Đăng ký kinh doanh",
    "LLTP": "Lý lịch tư pháp",
    "LD": "Lao động - Bảo trợ xã hội",
    "TDKT": "Thi đua - Khen thưởng",
}


@dataclass(frozen=True)
class Procedure(_Validity):
    code: str
    name: str
    field: str
    level: str  # TINH | HUYEN | XA
    limit: int
    limit_unit: str  # NGAY_LAM_VIEC | NGAY | GIO
    online: str  # TOAN_TRINH | MOT_PHAN | ""
    fee: int  # VND, 0 = no fee
    paper_result: bool
    citizens: bool
    weight: int  # popularity among procedures of its level
    valid_from: dt.date = _OLD_FROM
    valid_to: dt.date | None = None

    def record(self) -> dict:
        return {
            "MaTTHC": self.code,
            "TenTTHC": self.name,
            "MaLinhVuc": self.field,
            "TenLinhVuc": FIELDS[self.field],
            "CapThucHien": self.level,
            "ThoiHanGiaiQuyet": self.limit,
            "DonViTinh": self.limit_unit,
            "MucDoDVC": self.online,
            "CoPhiLePhi": self.fee > 0,
            "TraKetQuaGiay": self.paper_result,
            "DoiTuongCongDan": self.citizens,
            **self.validity(),
            "NgayCapNhat": CATALOGUE_UPDATED,
        }


NLV, NGAY, GIO = "NGAY_LAM_VIEC", "NGAY", "GIO"
TT, MP = "TOAN_TRINH", "MOT_PHAN"

# code, name, field, level, limit, unit, online, fee, paper result, citizens, weight
_PROCEDURES = (
    ("1.001193", "Thủ tục đăng ký khai sinh", "HT", "XA", 1, NLV, TT, 0, True, True, 14),
    ("1.000894", "Thủ tục đăng ký kết hôn", "HT", "XA", 3, NLV, MP, 0, True, True, 5),
    ("1.000656", "Thủ tục đăng ký khai tử", "HT", "XA", 1, NLV, TT, 0, True, True, 4),
    ("1.001022", "Thủ tục đăng ký nhận cha, mẹ, con", "HT", "XA", 3, NLV, MP, 15000, True, True, 1),
    ("1.004873", "Thủ tục cấp Giấy xác nhận tình trạng hôn nhân", "HT", "XA", 3, NLV, TT, 0, True, True, 6),
    ("2.001008", "Thủ tục cấp bản sao trích lục hộ tịch", "HT", "XA", 4, GIO, TT, 8000, True, True, 5),
    ("2.000815", "Chứng thực bản sao từ bản chính giấy tờ, văn bản", "CT", "XA", 8, GIO, MP, 2000, True, True, 16),
    ("2.000884", "Chứng thực chữ ký trong các giấy tờ, văn bản", "CT", "XA", 8, GIO, "", 10000, True, True, 6),
    ("1.000798", "Hòa giải tranh chấp đất đai", "DD", "XA", 45, NGAY, "", 0, True, True, 1),
    ("1.010802", "Hỗ trợ chi phí mai táng cho đối tượng bảo trợ xã hội", "LD", "XA", 5, NLV, MP, 0, True, True, 2),
    ("2.000286", "Xác nhận hộ gia đình làm nông nghiệp có mức sống trung bình", "LD", "XA", 10, NLV, MP, 0,
     True, True, 2),
    ("1.000748", "Tặng giấy khen của Chủ tịch Ủy ban nhân dân cấp xã", "TDKT", "XA", 20, NLV, "", 0, True, False, 1),
    ("2.000528", "Thủ tục đăng ký khai sinh có yếu tố nước ngoài", "HT", "HUYEN", 3, NLV, MP, 75000, True, True, 2),
    ("2.000806", "Thủ tục đăng ký kết hôn có yếu tố nước ngoài", "HT", "HUYEN", 15, NLV, MP, 1500000, True, True, 1),
    ("1.001695", "Thủ tục thay đổi, cải chính, bổ sung thông tin hộ tịch", "HT", "HUYEN", 3, NLV, MP, 28000, True,
     True, 3),
    ("2.001035", "Chứng thực hợp đồng, giao dịch liên quan đến tài sản là động sản", "CT", "HUYEN", 2, NLV, "",
     50000, True, True, 3),
    ("2.000913", "Chứng thực bản sao từ bản chính giấy tờ do cơ quan nước ngoài cấp", "CT", "HUYEN", 8, GIO, MP,
     2000, True, True, 3),
    ("1.004227", "Đăng ký biến động quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất", "DD", "HUYEN", 10,
     NLV, MP, 100000, True, True, 9),
    ("1.004203", "Cấp Giấy chứng nhận quyền sử dụng đất lần đầu", "DD", "HUYEN", 20, NLV, MP, 100000, True, True, 5),
    ("1.004269", "Chuyển mục đích sử dụng đất phải được phép của cơ quan nhà nước có thẩm quyền", "DD", "HUYEN",
     15, NLV, MP, 0, True, True, 3),
    ("2.000889", "Cấp đổi Giấy chứng nhận quyền sử dụng đất", "DD", "HUYEN", 7, NLV, MP, 50000, True, True, 4),
    ("1.009794", "Cấp giấy phép xây dựng mới đối với nhà ở riêng lẻ", "XD", "HUYEN", 15, NLV, MP, 75000, True,
     True, 5),
    ("1.009795", "Cấp giấy phép xây dựng sửa chữa, cải tạo đối với nhà ở riêng lẻ", "XD", "HUYEN", 15, NLV, MP,
     75000, True, True, 2),
    ("1.001612", "Đăng ký thành lập hộ kinh doanh", "DKKD", "HUYEN", 3, NLV, TT, 100000, True, True, 5),
    ("2.000720", "Đăng ký thay đổi nội dung đăng ký hộ kinh doanh", "DKKD", "HUYEN", 3, NLV, TT, 50000, True, True,
     3),
    ("1.001776", "Thực hiện, điều chỉnh, thôi hưởng trợ cấp xã hội hằng tháng", "LD", "HUYEN", 15, NLV, MP, 0,
     True, True, 3),
    ("2.000346", "Tặng danh hiệu Chiến sĩ thi đua cơ sở", "TDKT", "HUYEN", 20, NLV, "", 0, True, False, 1),
    ("1.004177", "Giao đất, cho thuê đất cho tổ chức", "DD", "TINH", 20, NLV, MP, 500000, True, False, 3),
    ("1.003003", "Gia hạn sử dụng đất đối với tổ chức", "DD", "TINH", 30, NGAY, MP, 200000, True, False, 2),
    ("1.004197", "Đăng ký biến động đất đai đối với tổ chức", "DD", "TINH", 10, NLV, MP, 100000, True, False, 3),
    ("1.009972", "Thẩm định báo cáo nghiên cứu khả thi đầu tư xây dựng", "XD", "TINH", 35, NGAY, MP, 2000000, True,
     False, 2),
    ("1.009974", "Cấp giấy phép xây dựng mới đối với công trình cấp I, cấp II", "XD", "TINH", 20, NLV, MP, 150000,
     True, False, 2),
    ("1.002662", "Cấp chứng chỉ hành nghề hoạt động xây dựng", "XD", "TINH", 20, NLV, TT, 300000, True, True, 2),
    ("2.000575", "Đăng ký thành lập công ty trách nhiệm hữu hạn một thành viên", "DKKD", "TINH", 3, NLV, TT, 50000,
     True, True, 6),
    ("2.002005", "Đăng ký thay đổi nội dung đăng ký doanh nghiệp", "DKKD", "TINH", 3, NLV, TT, 50000, True, False,
     6),
    ("2.001583", "Thông báo tạm ngừng kinh doanh", "DKKD", "TINH", 3, NLV, TT, 0, False, False, 3),
    ("2.000488", "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam", "LLTP", "TINH", 10, NLV, TT, 200000, True,
     True, 8),
    ("2.000843", "Đăng ký hoạt động Văn phòng công chứng", "LLTP", "TINH", 10, NLV, MP, 1000000, True, False, 1),
    ("1.008727", "Thủ tục ghi vào Sổ hộ tịch việc kết hôn đã được giải quyết tại nước ngoài", "HT", "TINH", 5,
     NLV, MP, 75000, True, True, 1),
    ("1.000105", "Cấp giấy phép lao động cho người lao động nước ngoài", "LD", "TINH", 5, NLV, TT, 600000, True,
     False, 3),
    ("2.001955", "Đăng ký nội quy lao động của doanh nghiệp", "LD", "TINH", 7, NLV, "", 0, False, False, 1),
    ("1.000775", "Tặng Bằng khen của Chủ tịch Ủy ban nhân dân tỉnh", "TDKT", "TINH", 20, NLV, "", 0, True, False,
     2),
)


@lru_cache(maxsize=1)
def procedures() -> tuple[Procedure, ...]:
    out = []
    for n, (code, name, fld, level, limit, unit, online, fee, paper, citizens, weight) in enumerate(_PROCEDURES):
        if level == "HUYEN":
            out.append(Procedure(code, name, fld, level, limit, unit, online, fee, paper, citizens, weight,
                                 valid_to=_OLD_TO))
            out.append(Procedure(f"1.0130{n:02d}", name, fld, "XA", limit, unit, online, fee, paper, citizens,
                                 weight, valid_from=REFORM_DAY))
        else:
            out.append(Procedure(code, name, fld, level, limit, unit, online, fee, paper, citizens, weight))
    return tuple(out)


def unit_records() -> list[dict]:
    return [u.record() for u in sorted(units(), key=lambda u: u.unit_id)]


def procedure_records() -> list[dict]:
    return [p.record() for p in sorted(procedures(), key=lambda p: p.code)]


# Ministries and central agencies that send documents to the province (not in the units list).
EXTERNAL_ORGANS = (
    ("000.00.00.G01", "VPCP"),
    ("000.00.00.G06", "BNV"),
    ("000.00.00.G09", "BKHĐT"),
    ("000.00.00.G12", "BTP"),
    ("000.00.00.G15", "BTNMT"),
)


# Offices inside a unit: who receives dossiers, who processes them per field, who signs.
_PROCESSING = {
    "SO": {"HT": "Phòng Hành chính tư pháp", "CT": "Phòng Hành chính tư pháp", "LLTP": "Phòng Lý lịch tư pháp",
           "DD": "Văn phòng Đăng ký đất đai", "XD": "Phòng Quản lý hoạt động xây dựng",
           "DKKD": "Phòng Đăng ký kinh doanh", "LD": "Phòng Việc làm - An toàn lao động",
           "TDKT": "Ban Thi đua - Khen thưởng"},
    "HUYEN": {"HT": "Phòng Tư pháp", "CT": "Phòng Tư pháp", "LLTP": "Phòng Tư pháp",
              "DD": "Phòng Tài nguyên và Môi trường", "XD": "Phòng Kinh tế - Hạ tầng",
              "DKKD": "Phòng Tài chính - Kế hoạch", "LD": "Phòng Lao động - Thương binh và Xã hội",
              "TDKT": "Phòng Nội vụ"},
    "XA": {"HT": "Công chức Tư pháp - Hộ tịch", "CT": "Công chức Tư pháp - Hộ tịch",
           "LLTP": "Công chức Tư pháp - Hộ tịch", "DD": "Công chức Địa chính - Xây dựng",
           "XD": "Công chức Địa chính - Xây dựng", "DKKD": "Công chức Tài chính - Kế toán",
           "LD": "Công chức Văn hóa - Xã hội", "TDKT": "Công chức Văn phòng - Thống kê"},
}
_PROCESSING["TINH"] = _PROCESSING["SO"]
_HEADS = {"SO": ("Giám đốc", "Phó Giám đốc", "Phó Giám đốc"),
          "TINH": ("Chủ tịch UBND tỉnh", "Phó Chủ tịch UBND tỉnh", "Phó Chủ tịch UBND tỉnh"),
          "HUYEN": ("Chủ tịch UBND", "Phó Chủ tịch UBND", "Phó Chủ tịch UBND"),
          "XA": ("Chủ tịch UBND", "Phó Chủ tịch UBND")}


def office(unit: Unit, role: str, field: str = "") -> tuple[str, tuple[str, ...]]:
    """(office name, titles of its officials) for ``role``: desk, processing, leaders or clerical.

    ``leaders`` lists the head first, then the deputies; ``clerical`` is the office whose chief signs
    "by order of" (TL.) and whose clerks register documents.
    """
    level = unit.level
    if role == "desk":
        name = ("Bộ phận Một cửa - Trung tâm Phục vụ hành chính công tỉnh" if level in ("SO", "TINH")
                else f"Bộ phận Một cửa {unit.short}")
        return name, ("Công chức tiếp nhận và trả kết quả",) * 3
    if role == "processing":
        if level == "XA":
            return _PROCESSING["XA"][field], ("Công chức", "Công chức")
        return _PROCESSING[level][field], ("Trưởng phòng", "Phó Trưởng phòng", "Chuyên viên", "Chuyên viên")
    if role == "leaders":
        return ("Ban Giám đốc" if level == "SO" else f"Lãnh đạo UBND {unit.short}"), _HEADS[level]
    if role == "clerical":
        if level == "SO":
            return "Văn phòng Sở", ("Chánh Văn phòng", "Văn thư")
        if level == "XA":
            return "Văn phòng - Thống kê", ("Công chức Văn phòng - Thống kê", "Văn thư")
        return "Văn phòng HĐND và UBND", ("Chánh Văn phòng", "Văn thư")
    raise ValueError(role)
