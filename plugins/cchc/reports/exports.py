"""The official report files, from the current publication (``kpi`` only), as bytes.

Public functions (``conn``: a psycopg connection to the warehouse, any role that reads ``kpi``;
``period_start``: the first day of a published period; ``unit_id``: that unit's rows only):

- ``report_xlsx(conn, period_type, period_start, *, unit_id=None, by_field=False) -> bytes``
- ``report_csv(conn, period_type, period_start, *, unit_id=None, by_field=False) -> bytes``
  the periodic report (Mẫu 06, ``kpi.tthc_report``): one row per unit (per unit and field with
  ``by_field``: the unit's all-fields row, then its fields), the province's roll-up row last.
- ``late_units_xlsx(conn, period_type, period_start, *, unit_id=None) -> bytes`` / ``late_units_csv``:
  the units at criticism or discipline (``kpi.late_accountability``; months only).
- ``esignature_xlsx(conn, period_type, period_start, *, unit_id=None) -> bytes`` / ``esignature_csv``:
  e-documents and digital signatures (``kpi.esignature_usage``).
- ``export(conn, name, file_format, period_type, period_start, *, unit_id=None, by_field=False)``:
  the same by name (``report``, ``late-units``, ``esignature``) and format (``xlsx``, ``csv``).

Bad input raises :class:`cchc.reports.published.ReportError` (a ValueError) with a message that
says what is published. ``read_csv(name, data)`` reads a CSV back to kpi columns and values.
"""

from __future__ import annotations

import datetime as dt
import logging

import psycopg

from cchc.reports import csvfile
from cchc.reports.layouts import ESIGNATURE, FORMATS, LATE_UNITS, LAYOUTS, REPORT, Layout
from cchc.reports.published import (
    ReportError, current_publication, fetch_rows, footer_lines, period_sentence, resolve_period,
)

log = logging.getLogger(__name__)

CONTENT_TYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                 "csv": "text/csv; charset=utf-8"}


def _rows(conn, layout: Layout, period_type: str, period_start: dt.date, unit_id, by_field):
    if not isinstance(period_start, dt.date):
        raise ReportError(f"period_start must be a date, not {period_start!r}")
    pub = current_publication(conn)
    period = resolve_period(conn, layout, period_type, period_start)
    rows = fetch_rows(conn, layout, period, unit_id=unit_id, by_field=by_field)
    for r in rows:
        r["as_of_date"] = pub.as_of_date
        r.setdefault("period_end", period.period_end)
    return pub, period, rows


def _title_lines(layout: Layout, pub, period, rows, unit_id, by_field) -> list[str]:
    lines = [period_sentence(period), f"Số liệu tính đến hết ngày {pub.as_of_date:%d/%m/%Y}"]
    if unit_id is not None:
        name = next((r.get("unit_name") for r in rows if r.get("unit_name")), None)
        lines.append(f"Đơn vị: {name + ' ' if name else ''}({unit_id})")
    if layout is REPORT and by_field:
        lines.append("(theo đơn vị và lĩnh vực; dòng * là tất cả lĩnh vực của đơn vị)")
    if layout is LATE_UNITS:
        edition = next((r for r in rows if r.get("criticism_late_share_from") is not None), None)
        if edition:
            lines.append(
                f"(tỷ lệ trễ hạn = (giải quyết quá hạn + đang quá hạn) ÷ tổng số phải giải quyết; phê bình từ "
                f"{float(edition['criticism_late_share_from']) * 100:g} %, xem xét kỷ luật từ "
                f"{float(edition['discipline_late_share_from']) * 100:g} % hoặc bị phê bình từ "
                f"{edition['criticisms_for_discipline']} lần trong {edition['criticism_window_months']} tháng)")
        else:
            lines.append("(không có đơn vị nào phải phê bình hoặc xem xét kỷ luật trong tháng)")
    return lines


def _xlsx(layout: Layout, conn, period_type, period_start, unit_id=None, by_field=False) -> bytes:
    from cchc.reports import xlsx  # openpyxl, only when an XLSX is asked for

    pub, period, rows = _rows(conn, layout, period_type, period_start, unit_id, by_field)
    data = xlsx.write_xlsx(layout, rows, title_lines=_title_lines(layout, pub, period, rows, unit_id, by_field),
                           footer_lines=footer_lines(pub, layout), created=pub.published_at)
    log.info("%s %s %s as XLSX: %d rows from publication %s", layout.name, period_type, period_start,
             len(rows), pub.publication_id)
    return data


def _csv(layout: Layout, conn, period_type, period_start, unit_id=None, by_field=False) -> bytes:
    pub, _, rows = _rows(conn, layout, period_type, period_start, unit_id, by_field)
    log.info("%s %s %s as CSV: %d rows from publication %s", layout.name, period_type, period_start,
             len(rows), pub.publication_id)
    return csvfile.write_csv(layout, rows)


def report_xlsx(conn: psycopg.Connection, period_type: str, period_start: dt.date, *,
                unit_id: str | None = None, by_field: bool = False) -> bytes:
    """The periodic report (Mẫu 06) of a published period as XLSX."""
    return _xlsx(REPORT, conn, period_type, period_start, unit_id, by_field)


def report_csv(conn: psycopg.Connection, period_type: str, period_start: dt.date, *,
               unit_id: str | None = None, by_field: bool = False) -> bytes:
    """The periodic report (Mẫu 06) of a published period as CSV (UTF-8 with BOM)."""
    return _csv(REPORT, conn, period_type, period_start, unit_id, by_field)


def late_units_xlsx(conn: psycopg.Connection, period_type: str, period_start: dt.date, *,
                    unit_id: str | None = None) -> bytes:
    """The units at criticism or discipline in a published month as XLSX."""
    return _xlsx(LATE_UNITS, conn, period_type, period_start, unit_id)


def late_units_csv(conn: psycopg.Connection, period_type: str, period_start: dt.date, *,
                   unit_id: str | None = None) -> bytes:
    """The units at criticism or discipline in a published month as CSV (UTF-8 with BOM)."""
    return _csv(LATE_UNITS, conn, period_type, period_start, unit_id)


def esignature_xlsx(conn: psycopg.Connection, period_type: str, period_start: dt.date, *,
                    unit_id: str | None = None) -> bytes:
    """E-documents and digital signatures of a published period as XLSX."""
    return _xlsx(ESIGNATURE, conn, period_type, period_start, unit_id)


def esignature_csv(conn: psycopg.Connection, period_type: str, period_start: dt.date, *,
                   unit_id: str | None = None) -> bytes:
    """E-documents and digital signatures of a published period as CSV (UTF-8 with BOM)."""
    return _csv(ESIGNATURE, conn, period_type, period_start, unit_id)


def export(conn: psycopg.Connection, name: str, file_format: str, period_type: str, period_start: dt.date, *,
           unit_id: str | None = None, by_field: bool = False) -> bytes:
    """Any of the exports by name (``report``, ``late-units``, ``esignature``) and format."""
    layout = LAYOUTS.get(name)
    if layout is None:
        raise ReportError(f"unknown export {name!r}: one of {', '.join(LAYOUTS)}")
    if file_format not in FORMATS:
        raise ReportError(f"unknown format {file_format!r}: one of {', '.join(FORMATS)}")
    if by_field and layout is not REPORT:
        raise ReportError(f"--by-field applies to the report only (kpi.tthc_report), not to {name}")
    write = _xlsx if file_format == "xlsx" else _csv
    return write(layout, conn, period_type, period_start, unit_id, by_field)


def read_csv(name: str, data: bytes) -> list[dict]:
    """A CSV export read back: kpi columns and values (rates as fractions)."""
    return csvfile.read_csv(LAYOUTS[name], data)


__all__ = ["ReportError", "report_xlsx", "report_csv", "late_units_xlsx", "late_units_csv",
           "esignature_xlsx", "esignature_csv", "export", "read_csv", "FORMATS", "CONTENT_TYPES",
           "ESIGNATURE", "LATE_UNITS", "REPORT"]
