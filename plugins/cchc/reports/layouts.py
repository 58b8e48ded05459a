"""The layouts of the official report files: which ``kpi`` column goes where, under which
Vietnamese header. One definition, read by the XLSX writer, the CSV writer and the CSV reader.

A layout names the ``kpi`` relation it is read from and its columns in the order of the form.
A column has the ``kpi`` column it shows (``key``), its Vietnamese header (``label``), the group
header above it in the XLSX (``group``: the form's column groups; None for a column that spans
both header rows) and its ``kind``:

- ``int``: a count (bigint), written as an integer;
- ``rate``: a share 0..1 (numeric), written as a percentage (XLSX: the fraction with a percentage
  number format; CSV: the exact percentage, fraction × 100);
- ``text`` / ``date``: as is (dates ISO in CSV, real dates in XLSX).

``csv_only`` columns are the context every CSV row carries (period, as-of date, publication), so
that a CSV read on its own says what it is; the XLSX says it in its title and footer.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = "int"
    group: str | None = None
    csv_only: bool = False
    width: float | None = None


@dataclass(frozen=True)
class Layout:
    name: str            # the export's name (CLI: cchc export <name>)
    relation: str        # the kpi view it is read from
    title: str           # the XLSX title line (Vietnamese)
    sheet: str           # the worksheet's name (at most 31 characters)
    columns: tuple[Column, ...]

    def xlsx_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if not c.csv_only)

    def column(self, key: str) -> Column:
        for c in self.columns:
            if c.key == key:
                return c
        raise KeyError(key)


RECEIVED = "Số hồ sơ nhận giải quyết"
RESOLVED = "Số hồ sơ đã giải quyết"
PENDING = "Số hồ sơ đang giải quyết"

# the context of every CSV row (the XLSX has it in its title and footer)
_CONTEXT = (
    Column("period_type", "Loại kỳ", "text", csv_only=True),
    Column("period_start", "Từ ngày", "date", csv_only=True),
    Column("period_end", "Đến ngày", "date", csv_only=True),
    Column("as_of_date", "Số liệu đến ngày", "date", csv_only=True),
    Column("publication_id", "Mã lần công bố", "int", csv_only=True),
)

# Mẫu 06 (Circular 01/2020/TT-VPCP; domain.md "The periodic report on dossier handling")
REPORT = Layout(
    name="report",
    relation="kpi.tthc_report",
    title="BÁO CÁO TÌNH HÌNH, KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH (Mẫu 06)",
    sheet="Mẫu 06",
    columns=(
        Column("unit_id", "Mã đơn vị", "text", width=16),
        Column("unit_name", "Tên đơn vị", "text", width=34),
        Column("field_code", "Lĩnh vực (* = tất cả lĩnh vực)", "text", width=14),
        Column("received_total", "Tổng số", group=RECEIVED),
        Column("received_online", "Trong kỳ: trực tuyến", group=RECEIVED),
        Column("received_direct_postal", "Trong kỳ: trực tiếp, dịch vụ bưu chính công ích", group=RECEIVED),
        Column("carried_over", "Từ kỳ trước chuyển qua", group=RECEIVED),
        Column("resolved_total", "Tổng số", group=RESOLVED),
        Column("resolved_early", "Trước hạn", group=RESOLVED),
        Column("resolved_on_time", "Đúng hạn", group=RESOLVED),
        Column("resolved_late", "Quá hạn", group=RESOLVED),
        Column("resolved_withdrawn_or_stopped", "Trong đó rút hồ sơ, dừng xử lý (tính là đúng hạn)",
               group=RESOLVED),
        Column("pending_total", "Tổng số", group=PENDING),
        Column("pending_on_time", "Trong hạn", group=PENDING),
        Column("pending_overdue", "Quá hạn", group=PENDING),
        Column("on_time_rate", "Tỷ lệ giải quyết đúng hạn (%)", "rate", width=14),
        *_CONTEXT,
    ),
)

# kpi.late_accountability: the units at criticism or discipline in a month
LATE_UNITS = Layout(
    name="late-units",
    relation="kpi.late_accountability",
    title="DANH SÁCH ĐƠN VỊ CÓ TỶ LỆ HỒ SƠ TRỄ HẠN PHẢI PHÊ BÌNH, XEM XÉT KỶ LUẬT",
    sheet="Đơn vị trễ hạn",
    columns=(
        Column("unit_id", "Mã đơn vị", "text", width=16),
        Column("unit_name", "Tên đơn vị", "text", width=34),
        Column("dossiers_handled", "Tổng số hồ sơ phải giải quyết", group="Hồ sơ trong tháng"),
        Column("resolved_late", "Giải quyết quá hạn", group="Hồ sơ trong tháng"),
        Column("pending_overdue", "Đang giải quyết quá hạn", group="Hồ sơ trong tháng"),
        Column("late_total", "Tổng số trễ hạn", group="Hồ sơ trong tháng"),
        Column("late_share", "Tỷ lệ trễ hạn (%)", "rate", width=12),
        Column("verdict_vi", "Hình thức", "text", width=20),
        Column("verdict_reason_vi", "Lý do", "text", width=34),
        Column("verdict", "Mã hình thức", "text", csv_only=True),
        Column("verdict_reason", "Mã lý do", "text", csv_only=True),
        Column("criticisms_last_12_months", "Số tháng bị phê bình trong 12 tháng", width=14),
        Column("late_dossiers", "Hồ sơ trễ hạn", group="Xin lỗi người dân"),
        Column("late_without_apology", "Trễ hạn chưa có phiếu xin lỗi", group="Xin lỗi người dân"),
        Column("criticism_late_share_from", "Ngưỡng phê bình (%)", "rate", group="Ngưỡng áp dụng"),
        Column("discipline_late_share_from", "Ngưỡng xem xét kỷ luật (%)", "rate", group="Ngưỡng áp dụng"),
        *_CONTEXT,
    ),
)

ESIGN = "Văn bản đi"
INCOMING = "Văn bản đến"
ESIGNATURE = Layout(
    name="esignature",
    relation="kpi.esignature_usage",
    title="TÌNH HÌNH PHÁT HÀNH VĂN BẢN ĐIỆN TỬ VÀ SỬ DỤNG CHỮ KÝ SỐ",
    sheet="Chữ ký số",
    columns=(
        Column("unit_id", "Mã đơn vị", "text", width=16),
        Column("unit_name", "Tên đơn vị", "text", width=34),
        Column("outgoing_documents", "Tổng số", group=ESIGN),
        Column("issued_electronically", "Phát hành điện tử", group=ESIGN),
        Column("electronic_rate", "Tỷ lệ phát hành điện tử (%)", "rate", group=ESIGN),
        Column("fully_signed", "Ký số đầy đủ (cá nhân và cơ quan)", group=ESIGN),
        Column("fully_signed_rate", "Tỷ lệ ký số đầy đủ (%)", "rate", group=ESIGN),
        Column("signer_only", "Chỉ có chữ ký cá nhân", group=ESIGN),
        Column("signer_only_rate", "Tỷ lệ chỉ ký cá nhân (%)", "rate", group=ESIGN),
        Column("invalid_signature", "Chữ ký không hợp lệ", group=ESIGN),
        Column("paper", "Văn bản giấy", group=ESIGN),
        Column("paper_rate", "Tỷ lệ văn bản giấy (%)", "rate", group=ESIGN),
        Column("paper_signed_by_leader", "Lãnh đạo ký giấy", group=ESIGN),
        Column("via_axis", "Gửi qua trục VXP/LGSP", group=ESIGN),
        Column("via_axis_rate", "Tỷ lệ gửi qua trục (%)", "rate", group=ESIGN),
        Column("dispatched_within_one_working_day", "Phát hành trong 1 ngày làm việc", group=ESIGN),
        Column("dispatched_within_one_working_day_rate", "Tỷ lệ phát hành trong 1 ngày làm việc (%)", "rate",
               group=ESIGN),
        Column("incoming_documents", "Tổng số", group=INCOMING),
        Column("incoming_electronic", "Văn bản điện tử", group=INCOMING),
        Column("incoming_via_axis", "Nhận qua trục VXP/LGSP", group=INCOMING),
        Column("incoming_via_axis_rate", "Tỷ lệ nhận qua trục (%)", "rate", group=INCOMING),
        Column("acknowledged_same_day", "Báo nhận trong ngày", group=INCOMING),
        Column("acknowledged_same_day_rate", "Tỷ lệ báo nhận trong ngày (%)", "rate", group=INCOMING),
        *_CONTEXT,
    ),
)

FORMATS = ("xlsx", "csv")
LAYOUTS = {layout.name: layout for layout in (REPORT, LATE_UNITS, ESIGNATURE)}

# kpi.late_accountability.verdict as a chair reads it
VERDICT_VI = {"ok": "Không", "criticism": "Phê bình", "discipline": "Xem xét kỷ luật"}
VERDICT_REASON_VI = {
    "late_share_at_discipline_threshold": "Tỷ lệ trễ hạn từ ngưỡng xem xét kỷ luật",
    "late_share_at_criticism_threshold": "Tỷ lệ trễ hạn từ ngưỡng phê bình",
    "repeated_criticism": "Bị phê bình nhiều lần trong 12 tháng",
    "late_share_below_criticism_threshold": "Dưới ngưỡng phê bình",
    "nothing_handled": "Không có hồ sơ",
}

PERIOD_TYPE_VI = {"day": "ngày", "week": "tuần", "month": "tháng", "quarter": "quý",
                  "half_year": "6 tháng", "year": "năm"}
