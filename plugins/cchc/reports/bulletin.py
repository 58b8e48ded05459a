"""The bulletin of a publication: one static HTML page a People's Committee chair reads, with the
charts drawn as inline SVG (:mod:`cchc.reports.charts`), no script and nothing from the network
(fonts are the system's), and a PDF of it when Chromium is installed (:mod:`cchc.reports.browser`).

From published data only: the ``kpi`` views (the current publication) and, for "what changed", the
previous kept publication's ``kpi_pub_<id>`` tables (:mod:`cchc.reports.changes`). The thresholds
drawn are the ones each ``kpi.late_accountability`` row carries (seeds/accountability_thresholds.csv,
the edition in force in the month): the on-time lines are 100 % minus the criticism and discipline
late shares (95 % and 90 % with edition 1).

    write_bulletin(conn, out_dir, *, pdf=None) -> BulletinFiles   # bulletin-<publication id>.html (+ .pdf)
    bulletin_html(conn) -> str                                    # the page
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from html import escape
from pathlib import Path

import psycopg
from psycopg.rows import dict_row

from cchc.reports import charts
from cchc.reports.changes import MonthChange, compare, previous_publication
from cchc.reports.charts import AMBER, BLUE, GREEN, GREY, RED, TEAL, Bar, RefLine, pct
from cchc.reports.layouts import VERDICT_REASON_VI, VERDICT_VI
from cchc.reports.published import (
    Period, PublicationInfo, ReportError, current_publication, natural_end, period_label, province_units,
)

log = logging.getLogger(__name__)

LATE_AXIS_AT_LEAST = 0.05  # the late-share axis reaches at least this far (an axis, not a threshold)
MAX_UNITS_CHARTED = 40   # a chart with more bars than this shows the worst ones (and says so)
CHART_IDS = ("on-time-by-unit", "online-shares-by-month", "esignature-by-unit", "late-share-by-unit")
STATUS_VI = {"new": "tháng mới", "extended": "thêm ngày số liệu", "restated": "số liệu điều chỉnh",
             "unchanged": "không đổi", "withdrawn": "không còn trong lần công bố này"}
FIGURE_VI = {"received_total": "nhận giải quyết", "resolved_total": "đã giải quyết",
             "resolved_late": "giải quyết quá hạn", "pending_overdue": "đang quá hạn",
             "on_time_rate": "tỷ lệ đúng hạn", "row": "dòng số liệu"}


@dataclass(frozen=True)
class BulletinFiles:
    publication_id: int
    html: Path
    pdf: Path | None
    pdf_skipped: str | None = None   # why there is no PDF


def bulletin_path(out_dir: Path, publication_id: int) -> Path:
    return Path(out_dir) / f"bulletin-{int(publication_id)}.html"


def short_name(name: str | None, unit_id: str) -> str:
    """A unit's name for a chart label ("Ủy ban nhân dân" → "UBND")."""
    text = (name or unit_id).replace("Ủy ban nhân dân", "UBND").replace("Uỷ ban nhân dân", "UBND")
    return text if len(text) <= 40 else text[:39] + "…"


def _month_label(period: Period) -> str:
    label = period_label(period).lower()
    if period.period_end < natural_end(period):
        label += f" (đến hết ngày {period.period_end:%d/%m})"
    return label


def _rows(conn, query: str, params=()) -> list[dict]:
    return conn.cursor(row_factory=dict_row).execute(query, params).fetchall()


def _exists(conn, relation: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (relation,)).fetchone()[0]


def _latest_month(conn) -> Period | None:
    row = conn.execute("select period_start, max(period_end) from kpi.tthc_report where period_type = 'month' "
                       "group by 1 order by 1 desc limit 1").fetchone()
    return Period("month", row[0], row[1]) if row else None


def _thresholds(conn, month: dt.date) -> dict | None:
    if not _exists(conn, "kpi.late_accountability"):
        return None
    rows = _rows(conn, "select distinct thresholds_edition, criticism_late_share_from, discipline_late_share_from, "
                       "criticisms_for_discipline, criticism_window_months from kpi.late_accountability "
                       "where month = %s and criticism_late_share_from is not null", (month,))
    return rows[0] if len(rows) == 1 else None


def _worst(rows: list[dict], *, worst_first: bool) -> tuple[list[dict], str]:
    """At most MAX_UNITS_CHARTED rows, the worst kept (rows sorted best first unless worst_first),
    and the sentence that says so when some are left out."""
    if len(rows) <= MAX_UNITS_CHARTED:
        return rows, ""
    kept = rows[:MAX_UNITS_CHARTED] if worst_first else rows[-MAX_UNITS_CHARTED:]
    return kept, f" Biểu đồ chỉ vẽ {MAX_UNITS_CHARTED} đơn vị thấp nhất trong {len(rows)} đơn vị."


def _section(title: str, intro: str, body: str, section_id: str) -> str:
    return (f'<section id="{section_id}"><h2>{escape(title)}</h2>'
            + (f'<p class="intro">{intro}</p>' if intro else "") + body + "</section>")


def _on_time_section(conn, month: Period, provinces: set[str], thr: dict | None) -> str:
    rows = _rows(conn, "select unit_id, unit_name, on_time_rate, resolved_total, resolved_late from kpi.tthc_report "
                       "where period_type = 'month' and period_start = %s and field_code = '*' "
                       "order by on_time_rate desc nulls last, unit_id", (month.period_start,))
    units = [r for r in rows if r["unit_id"] not in provinces]
    province = next((r for r in rows if r["unit_id"] in provinces), None)
    lines: tuple[RefLine, ...] = ()
    if thr:
        good = 1 - float(thr["criticism_late_share_from"])
        bad = 1 - float(thr["discipline_late_share_from"])
        lines = (RefLine(bad, f"{pct(bad, 0)}", RED), RefLine(good, f"{pct(good, 0)}", GREEN))
    else:
        good = bad = None
    rates = [float(r["on_time_rate"]) for r in units if r["on_time_rate"] is not None]
    lo = min([*rates, *(v.value for v in lines), 1.0])
    lo = max(0.0, int((lo - 0.05) * 10) / 10)

    def color(v):
        if v is None or good is None:
            return BLUE
        return GREEN if v >= good else (AMBER if v >= bad else RED)

    units, left_out = _worst(units, worst_first=False)
    bars = []
    for r in units:
        v = None if r["on_time_rate"] is None else float(r["on_time_rate"])
        note = "không có hồ sơ giải quyết" if v is None else f"{pct(v)} · {r['resolved_late']} trễ"
        bars.append(Bar(short_name(r["unit_name"], r["unit_id"]), v, color(v), note))
    ticks = tuple(t / 100 for t in range(int(lo * 100), 101, 5 if lo >= 0.7 else 10))
    svg = charts.hbar_chart("on-time-by-unit", f"Tỷ lệ giải quyết đúng hạn theo đơn vị, {_month_label(month)}",
                            bars, lo=lo, hi=1.0, ref_lines=lines, ticks=ticks)
    intro = (f"Hồ sơ giải quyết trước hạn và đúng hạn trên tổng số hồ sơ đã giải quyết trong "
             f"{escape(_month_label(month))}. Trục ngang bắt đầu từ {pct(lo, 0)}.{left_out}")
    if province is not None and province["on_time_rate"] is not None:
        intro += f" Toàn tỉnh: <b>{pct(float(province['on_time_rate']), 2)}</b>."
    if thr:
        intro += (f" Vạch <span class='red'>{pct(bad, 0)}</span> và <span class='green'>{pct(good, 0)}</span>: "
                  f"100 % trừ ngưỡng xem xét kỷ luật ({pct(float(thr['discipline_late_share_from']), 0)}) và ngưỡng "
                  f"phê bình ({pct(float(thr['criticism_late_share_from']), 0)}) về tỷ lệ trễ hạn. "
                  "<span class='green'>Xanh</span>: từ vạch trên; <span class='amber'>vàng</span>: giữa hai vạch; "
                  "<span class='red'>đỏ</span>: dưới vạch dưới.")
    else:
        intro += " (Không có ngưỡng trách nhiệm công bố cho tháng này: không vẽ vạch ngưỡng.)"
    return _section("1. Tỷ lệ giải quyết hồ sơ đúng hạn theo đơn vị", intro, svg, "on-time")


def _online_section(conn, provinces: set[str]) -> str:
    if not _exists(conn, "kpi.dx_indicators") or not provinces:
        return _section("2. Hồ sơ trực tuyến và thanh toán trực tuyến",
                        "Chưa có chỉ số chuyển đổi số được công bố.", "", "online")
    province = sorted(provinces)[0]
    rows = _rows(conn, "select period_start, period_end, indicator_code, value from kpi.dx_indicators "
                       "where period_type = 'month' and unit_id = %s and scope = 'own' and indicator_code in "
                       "('online_dossiers_share', 'online_payment_share') order by period_start", (province,))
    months = sorted({(r["period_start"], r["period_end"]) for r in rows})
    labels = [f"{m:%m/%Y}" + ("*" if e < natural_end(Period("month", m, e)) else "") for m, e in months]
    values = {(r["period_start"], r["indicator_code"]): None if r["value"] is None else float(r["value"]) for r in rows}
    series = [("Hồ sơ tiếp nhận trực tuyến", BLUE, [values.get((m, "online_dossiers_share")) for m, _ in months]),
              ("Hồ sơ thanh toán trực tuyến", TEAL, [values.get((m, "online_payment_share")) for m, _ in months])]
    svg = charts.line_chart("online-shares-by-month", "Tỷ lệ hồ sơ trực tuyến và thanh toán trực tuyến theo tháng",
                            labels, series)
    intro = ("Toàn tỉnh, theo tháng: hồ sơ tiếp nhận trực tuyến trên hồ sơ mới tiếp nhận; hồ sơ thanh toán trực "
             "tuyến trên hồ sơ của thủ tục có thu phí.")
    if any(label.endswith("*") for label in labels):
        intro += " (*) tháng chưa kết thúc."
    return _section("2. Hồ sơ trực tuyến và thanh toán trực tuyến", intro, svg, "online")


def _esign_section(conn, month: Period, provinces: set[str]) -> str:
    if not _exists(conn, "kpi.esignature_usage"):
        return _section("3. Ký số văn bản đi", "Chưa có số liệu văn bản điện tử được công bố.", "", "esignature")
    last = conn.execute("select max(period_start) from kpi.esignature_usage where period_type = 'month'").fetchone()[0]
    rows = _rows(conn, "select unit_id, unit_name, period_end, outgoing_documents, fully_signed, signer_only, "
                       "invalid_signature, paper from kpi.esignature_usage where period_type = 'month' "
                       "and period_start = %s order by fully_signed_rate desc nulls last, unit_id", (last,))
    province = next((r for r in rows if r["unit_id"] in provinces), None)
    legend = [("Ký số đầy đủ", GREEN), ("Chỉ chữ ký cá nhân", AMBER), ("Chữ ký không hợp lệ", RED),
              ("Văn bản giấy", GREY)]
    items = []
    charted, left_out = _worst([r for r in rows if r["unit_id"] not in provinces], worst_first=False)
    for r in charted:
        n = r["outgoing_documents"]
        shares = [r[k] / n if n else 0.0 for k in ("fully_signed", "signer_only", "invalid_signature", "paper")]
        note = f"{pct(shares[0])} · {n} văn bản" if n else "không có văn bản đi"
        items.append((short_name(r["unit_name"], r["unit_id"]), shares, note))
    period = Period("month", last, rows[0]["period_end"]) if rows else month
    svg = charts.stacked_hbar_chart("esignature-by-unit", f"Ký số văn bản đi theo đơn vị, {_month_label(period)}",
                                    legend, items)
    intro = (f"Văn bản đi (không kể văn bản mật) trong {escape(_month_label(period))}, theo đơn vị: "
             "phần xanh là văn bản có đủ chữ ký số của người ký và của cơ quan, cả hai hợp lệ; "
             "phần để trống là văn bản điện tử chưa ký số." + left_out)
    if province and province["outgoing_documents"]:
        intro += f" Toàn tỉnh: <b>{pct(province['fully_signed'] / province['outgoing_documents'], 2)}</b> ký số đầy đủ."
    return _section("3. Ký số văn bản đi", intro, svg, "esignature")


def _late_section(conn, month: Period, provinces: set[str], thr: dict | None) -> str:
    title = "4. Đơn vị phải phê bình, xem xét kỷ luật vì hồ sơ trễ hạn"
    if not _exists(conn, "kpi.late_accountability"):
        return _section(title, "Chưa có danh sách trách nhiệm được công bố.", "", "late")
    rows = _rows(conn, "select unit_id, unit_name, dossiers_handled, late_total, late_share, verdict, verdict_reason, "
                       "criticisms_last_12_months, late_without_apology, late_dossiers from kpi.late_accountability "
                       "where month = %s order by late_share desc nulls last, unit_id", (month.period_start,))
    units, left_out = _worst([r for r in rows if r["unit_id"] not in provinces], worst_first=True)
    colors = {"discipline": RED, "criticism": AMBER, "ok": GREEN}
    bars = [Bar(short_name(r["unit_name"], r["unit_id"]), None if r["late_share"] is None else float(r["late_share"]),
                colors.get(r["verdict"], BLUE),
                ("không có hồ sơ" if r["late_share"] is None else
                 f"{pct(float(r['late_share']))} ({r['late_total']}/{r['dossiers_handled']})"))
            for r in units]
    lines: tuple[RefLine, ...] = ()
    if thr:
        lines = (RefLine(float(thr["criticism_late_share_from"]),
                         f"phê bình {pct(float(thr['criticism_late_share_from']), 0)}", AMBER),
                 RefLine(float(thr["discipline_late_share_from"]),
                         f"kỷ luật {pct(float(thr['discipline_late_share_from']), 0)}", RED))
    top = max([float(r["late_share"]) for r in units if r["late_share"] is not None] + [v.value for v in lines]
              + [LATE_AXIS_AT_LEAST])
    hi = min(1.0, (int(top * 20) + 1) / 20 + 0.05)
    ticks = tuple(t / 100 for t in range(0, int(hi * 100) + 1, 5))
    svg = charts.hbar_chart("late-share-by-unit", f"Tỷ lệ hồ sơ trễ hạn theo đơn vị, {_month_label(month)}", bars,
                            lo=0.0, hi=hi, ref_lines=lines, ticks=ticks)
    listed = [r for r in rows if r["verdict"] in ("criticism", "discipline")]
    intro = (f"Tỷ lệ trễ hạn = (hồ sơ giải quyết quá hạn + hồ sơ đang quá hạn cuối tháng) ÷ hồ sơ phải giải quyết "
             f"trong {escape(_month_label(month))}.{left_out}".replace("thấp nhất", "trễ hạn nhiều nhất"))
    if thr:
        intro += (f" Phê bình từ {pct(float(thr['criticism_late_share_from']), 0)}; xem xét kỷ luật từ "
                  f"{pct(float(thr['discipline_late_share_from']), 0)}, hoặc khi bị phê bình từ "
                  f"{thr['criticisms_for_discipline']} lần trong {thr['criticism_window_months']} tháng.")
    if listed:
        body_rows = "".join(
            f"<tr class='{escape(r['verdict'])}'><td>{escape(r['unit_name'] or r['unit_id'])}</td>"
            f"<td class='num'>{pct(float(r['late_share']), 2)}</td>"
            f"<td class='num'>{r['late_total']}/{r['dossiers_handled']}</td>"
            f"<td><b>{escape(VERDICT_VI[r['verdict']])}</b></td>"
            f"<td>{escape(VERDICT_REASON_VI.get(r['verdict_reason'], r['verdict_reason'] or ''))}</td>"
            f"<td class='num'>{r['criticisms_last_12_months']}</td>"
            f"<td class='num'>{r['late_without_apology']}/{r['late_dossiers']}</td></tr>" for r in listed)
        table = ("<table class='late-list'><thead><tr><th>Đơn vị</th><th>Tỷ lệ trễ hạn</th><th>Trễ/phải giải quyết</th>"
                 "<th>Hình thức</th><th>Lý do</th><th>Số tháng bị phê bình (12 tháng)</th>"
                 "<th>Trễ hạn chưa xin lỗi</th></tr></thead><tbody>" + body_rows + "</tbody></table>")
        summary = (f"<p class='callout'><b>{len(listed)}</b> đơn vị phải phê bình hoặc xem xét kỷ luật "
                   f"({sum(r['verdict'] == 'discipline' for r in listed)} xem xét kỷ luật).</p>")
    else:
        table, summary = "", "<p class='callout ok'>Không có đơn vị nào phải phê bình hoặc xem xét kỷ luật.</p>"
    return _section(title, intro, summary + svg + table, "late")


def _fmt(column: str, value) -> str:
    if value is None:
        return "–"
    if column == "on_time_rate":
        return pct(float(value), 2)
    return f"{value:,}".replace(",", ".") if isinstance(value, int) else str(value)


def _changes_section(conn, pub: PublicationInfo, provinces: set[str]) -> str:
    title = "5. Thay đổi so với lần công bố trước"
    prev = previous_publication(conn, pub.publication_id)
    if prev.schema is None:
        return _section(title, escape(prev.reason or ""), "", "changes")
    return changes_html(prev.publication_id, prev.as_of_date, pub.as_of_date,
                        compare(conn, prev.schema, "kpi", provinces))


def changes_html(previous_id: int, previous_as_of: dt.date, as_of: dt.date, months: list[MonthChange]) -> str:
    """The "what changed" section from :func:`cchc.reports.changes.compare`'s months."""
    title = "5. Thay đổi so với lần công bố trước"
    intro = (f"So với lần công bố số {previous_id} (số liệu đến hết ngày {previous_as_of:%d/%m/%Y}): "
             f"lần này số liệu đến hết ngày {as_of:%d/%m/%Y}. Một tháng <i>điều chỉnh</i> là tháng có cùng số "
             "ngày trong cả hai lần công bố nhưng số liệu khác (hồ sơ cập nhật muộn hoặc dữ liệu được sửa).")
    rows = []
    for m in months:
        pb, pa = m.province_before or {}, m.province_after or {}
        moved = [u for u in m.units_changed if not u["is_province"]]
        detail = ""
        if m.status == "restated" and moved:
            shown = "; ".join(
                f"{escape(short_name(u['unit_name'], u['unit_id']))}: "
                + ", ".join(f"{FIGURE_VI.get(c, c)} {_fmt(c, b)} → {_fmt(c, a)}" for c, (b, a) in u["changes"].items()
                            if c in FIGURE_VI)
                for u in moved[:5])
            detail = (f"{len(moved)} đơn vị thay đổi" + (f" — {shown}" if shown else "")
                      + ("; …" if len(moved) > 5 else ""))
        if m.verdicts_changed:
            detail += ("<br>" if detail else "") + "Hình thức thay đổi: " + "; ".join(
                f"{escape(short_name(v['unit_name'], v['unit_id']))} {VERDICT_VI[v['before']]} → "
                f"<b>{VERDICT_VI[v['after']]}</b>"
                for v in m.verdicts_changed)
        days = ""
        if m.status == "extended":
            days = f" ({m.period_end_before:%d/%m} → {m.period_end_after:%d/%m})"
        rows.append(
            f"<tr class='{m.status}'><td>{m.month:%m/%Y}</td><td>{STATUS_VI[m.status]}{days}</td>"
            + "".join(f"<td class='num'>{_fmt(c, pb.get(c))} → {_fmt(c, pa.get(c))}</td>"
                      for c in ("received_total", "resolved_total", "on_time_rate"))
            + f"<td>{detail}</td></tr>")
    restated = [m for m in months if m.status == "restated"]
    summary = (f"<p class='callout{' warn' if restated else ' ok'}'>"
               + (f"<b>{len(restated)}</b> tháng đã qua có số liệu điều chỉnh: "
                  + ", ".join(f"{m.month:%m/%Y}" for m in restated) if restated
                  else "Không có tháng đã qua nào bị điều chỉnh số liệu.") + "</p>")
    table = ("<table class='changes'><thead><tr><th>Tháng</th><th>Thay đổi</th><th>Nhận giải quyết (toàn tỉnh)</th>"
             "<th>Đã giải quyết (toàn tỉnh)</th><th>Tỷ lệ đúng hạn (toàn tỉnh)</th><th>Chi tiết</th></tr></thead>"
             "<tbody>" + "".join(rows) + "</tbody></table>")
    return _section(title, intro, summary + table, "changes")


STYLE = """
body { font-family: 'DejaVu Sans', 'Liberation Sans', Arial, sans-serif; margin: 0; color: #212121;
       background: #fafafa; }
main { max-width: 920px; margin: 0 auto; padding: 24px 30px 40px; background: #fff; }
header { border-bottom: 4px solid #c62828; padding-bottom: 12px; margin-bottom: 8px; }
header .org { text-transform: uppercase; font-weight: bold; color: #555; letter-spacing: .04em; }
h1 { font-size: 26px; margin: 6px 0; color: #b71c1c; }
h2 { font-size: 18px; margin: 28px 0 6px; color: #0d47a1; border-bottom: 1px solid #e0e0e0; padding-bottom: 4px; }
.meta { color: #424242; font-size: 14px; }
.intro { font-size: 13px; color: #424242; margin: 4px 0 10px; line-height: 1.45; }
.kpis { display: flex; flex-wrap: wrap; gap: 10px; margin: 14px 0; }
.kpi { flex: 1 1 160px; border: 1px solid #e0e0e0; border-radius: 6px; padding: 10px 12px; background: #f5f9ff; }
.kpi .v { font-size: 24px; font-weight: bold; color: #0d47a1; } .kpi .l { font-size: 12px; color: #555; }
.kpi.bad .v { color: #c62828; }
.callout { padding: 8px 12px; border-left: 4px solid #f9a825; background: #fff8e1; font-size: 14px; }
.callout.ok { border-color: #2e7d32; background: #e8f5e9; }
.callout.warn { border-color: #c62828; background: #ffebee; }
table { border-collapse: collapse; width: 100%; font-size: 12px; margin-top: 10px; }
th, td { border: 1px solid #bdbdbd; padding: 4px 6px; vertical-align: top; } th { background: #e3eaf3; }
td.num { text-align: right; white-space: nowrap; }
tr.discipline td { background: #ffebee; } tr.criticism td { background: #fff8e1; }
tr.restated td { background: #ffebee; }
.red { color: #c62828; font-weight: bold; } .green { color: #2e7d32; font-weight: bold; }
.amber { color: #b8860b; font-weight: bold; }
footer { margin-top: 30px; font-size: 11px; color: #616161; border-top: 1px solid #e0e0e0; padding-top: 8px;
         line-height: 1.5; }
svg { display: block; max-width: 100%; height: auto; }
@media print { body { background: #fff; } main { padding: 0; } section { break-inside: avoid; } }
"""


def _kpi_tiles(conn, month: Period, provinces: set[str]) -> str:
    tiles = []
    province = sorted(provinces)[0] if provinces else None
    if province:
        r = conn.execute("select on_time_rate, received_total, resolved_total from kpi.tthc_report where "
                         "period_type = 'month' and period_start = %s and unit_id = %s and field_code = '*'",
                         (month.period_start, province)).fetchone()
        if r:
            tiles.append(("Tỷ lệ đúng hạn toàn tỉnh", pct(None if r[0] is None else float(r[0]), 2), False))
            tiles.append(("Hồ sơ phải giải quyết", _fmt("n", r[1]), False))
    if _exists(conn, "kpi.late_accountability"):
        n = conn.execute("select count(*) filter (where verdict = 'criticism'), count(*) filter (where verdict = "
                         "'discipline') from kpi.late_accountability where month = %s and not (unit_id = any(%s))",
                         (month.period_start, list(provinces))).fetchone()
        tiles.append(("Đơn vị bị phê bình", str(n[0]), n[0] > 0))
        tiles.append(("Đơn vị xem xét kỷ luật", str(n[1]), n[1] > 0))
    return "<div class='kpis'>" + "".join(
        f"<div class='kpi{' bad' if bad else ''}'><div class='v'>{escape(v)}</div>"
        f"<div class='l'>{escape(label)}</div></div>"
        for label, v, bad in tiles) + "</div>"


def bulletin_html(conn: psycopg.Connection) -> str:
    """The bulletin of the current publication as one self-contained HTML page."""
    pub = current_publication(conn)
    month = _latest_month(conn)
    if month is None:
        raise ReportError(f"publication {pub.publication_id} has no month in kpi.tthc_report: nothing to chart")
    provinces = province_units(conn)
    province = sorted(provinces)[0] if provinces else None
    name = conn.execute("select unit_name from kpi.tthc_report where unit_id = %s limit 1",
                        (province,)).fetchone() if province else None
    province_name = (name[0] if name else None) or province or ""
    thr = _thresholds(conn, month.period_start)
    published = f" · công bố lúc {pub.published_local:%H:%M ngày %d/%m/%Y}" if pub.published_at else ""
    warning = ""
    if pub.missing_days:
        missing = "; ".join(f"{s}: {len(d)} ngày ({', '.join(d[:5])}{' …' if len(d) > 5 else ''})"
                            for s, d in sorted(pub.missing_days.items()) if d)
        if missing:
            warning = f"<p class='callout warn'>Lần công bố này thiếu số liệu: {escape(missing)}.</p>"
    parts = [
        "<!DOCTYPE html>", '<html lang="vi"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Bản tin cải cách hành chính — {escape(province_name)} — lần công bố {pub.publication_id}</title>",
        f"<style>{STYLE}</style></head><body><main>",
        f"<header><div class='org'>{escape(province_name)}</div><h1>Bản tin cải cách hành chính</h1>"
        f"<div class='meta'>Tháng báo cáo: <b>{escape(_month_label(month))}</b> · Số liệu đến hết ngày "
        f"<b>{pub.as_of_date:%d/%m/%Y}</b> · Lần công bố số <b>{pub.publication_id}</b>{published}</div></header>",
        warning,
        _kpi_tiles(conn, month, provinces),
        _on_time_section(conn, month, provinces, thr),
        _online_section(conn, provinces),
        _esign_section(conn, month, provinces),
        _late_section(conn, month, provinces, thr),
        _changes_section(conn, pub, provinces),
        f"<footer>Nguồn: dữ liệu đã công bố (schema kpi), lần công bố số {pub.publication_id}, số liệu đến hết ngày "
        f"{pub.as_of_date:%d/%m/%Y}, đã qua {pub.checks_evaluated or 0} kiểm tra chất lượng trước khi công bố. "
        "Ngưỡng phê bình và xem xét kỷ luật: bảng ngưỡng của dự án (accountability_thresholds"
        + (f", phiên bản {thr['thresholds_edition']}" if thr else "") + "), như công bố trong kpi.late_accountability. "
        "Biểu đồ vẽ sẵn trong trang, không cần kết nối mạng.</footer>",
        "</main></body></html>",
    ]
    return "\n".join(p for p in parts if p)


def write_bulletin(conn: psycopg.Connection, out_dir: Path, *, pdf: bool | None = None) -> BulletinFiles:
    """Write ``bulletin-<publication id>.html`` into ``out_dir`` (and its PDF: ``pdf=True`` requires
    Chromium, ``None`` makes one when Chromium is installed, ``False`` never). Rewriting the same
    publication gives the same page."""
    from cchc.reports import browser

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pub = current_publication(conn)
    html = bulletin_html(conn)
    path = bulletin_path(out_dir, pub.publication_id)
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
    log.info("bulletin of publication %s written: %s", pub.publication_id, path)
    pdf_path, skipped = None, None
    if pdf is not False:
        exe = browser.find_chromium()
        if exe is None:
            if pdf:
                raise ReportError("a PDF needs Chromium, which is not installed (apt-get install chromium, "
                                  "or set CCHC_CHROMIUM)")
            skipped = "Chromium is not installed"
        else:
            pdf_path = path.with_suffix(".pdf")
            result = browser.render(path, pdf=pdf_path, chromium=exe)
            if result.requests:
                log.warning("the bulletin asked the network for %s while printing", result.requests)
            log.info("bulletin PDF written: %s", pdf_path)
    return BulletinFiles(pub.publication_id, path, pdf_path, skipped)
