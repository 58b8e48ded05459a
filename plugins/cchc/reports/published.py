"""Reading the published schema ``kpi`` for the report files and the bulletin (never marts/int).

Everything here reads the ``kpi`` views (the current publication) and ``kpi.publications``; bad
input (a period type the table has not, a period that is not published, an unknown unit) raises
:class:`ReportError` with a message that says what is published instead.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from cchc.reports.layouts import PERIOD_TYPE_VI, VERDICT_REASON_VI, VERDICT_VI, Layout


class ReportError(ValueError):
    """The export cannot be made as asked (nothing published, bad period, unknown unit)."""


@dataclass(frozen=True)
class PublicationInfo:
    publication_id: int
    as_of_date: dt.date
    published_at: dt.datetime | None
    checks_evaluated: int | None
    complete_through: dict | None
    missing_days: dict | None

    @property
    def published_local(self) -> dt.datetime | None:
        """published_at in the province's time (Asia/Ho_Chi_Minh)."""
        from cchc.readiness import LOCAL_TZ

        return self.published_at.astimezone(LOCAL_TZ) if self.published_at else None


@dataclass(frozen=True)
class Period:
    period_type: str
    period_start: dt.date
    period_end: dt.date


def current_publication(conn: psycopg.Connection) -> PublicationInfo:
    """The publication the ``kpi`` views show; ReportError when there is none."""
    if conn.execute("select to_regclass('kpi.publications')").fetchone()[0] is None:
        raise ReportError("nothing is published yet (no kpi.publications): run the pipeline first")
    has_current = conn.execute(
        "select 1 from information_schema.columns where table_schema = 'kpi' and table_name = 'publications' "
        "and column_name = 'is_current'").fetchone()
    where = "where is_current" if has_current else "order by publication_id desc limit 1"
    extra = "complete_through, missing_days" if has_current else "null, null"
    row = conn.execute(f"select publication_id, as_of_date, published_at, checks_evaluated, {extra} "
                       f"from kpi.publications {where}").fetchone()
    if row is None:
        raise ReportError("nothing is published yet: run the pipeline first")
    return PublicationInfo(*row)


def require_relation(conn: psycopg.Connection, relation: str) -> None:
    if conn.execute("select to_regclass(%s)", (relation,)).fetchone()[0] is None:
        raise ReportError(f"{relation} is not published in this warehouse")


def _period_column(layout: Layout) -> tuple[str, str | None]:
    """(period start column, period type column or None) of the layout's relation."""
    return ("month", None) if layout.relation == "kpi.late_accountability" else ("period_start", "period_type")


def resolve_period(conn: psycopg.Connection, layout: Layout, period_type: str, period_start: dt.date) -> Period:
    """The published period (its end included) or a ReportError naming what is published."""
    require_relation(conn, layout.relation)
    start_col, type_col = _period_column(layout)
    rel = sql.SQL(layout.relation)
    if type_col is None:
        if period_type != "month":
            raise ReportError(f"{layout.relation} is published per month only: use --period-type month "
                              f"(not {period_type!r})")
        known_types = ["month"]
        row = conn.execute(sql.SQL("select min(period_end) from {} where month = %s").format(rel),
                           (period_start,)).fetchone()
        published = [r[0] for r in conn.execute(
            sql.SQL("select distinct month from {} order by 1").format(rel)).fetchall()]
    else:
        known_types = [r[0] for r in conn.execute(
            sql.SQL("select distinct period_type from {}").format(rel)).fetchall()]
        if period_type not in known_types:
            order = list(PERIOD_TYPE_VI)
            shown = sorted(known_types, key=lambda t: order.index(t) if t in order else 99)
            raise ReportError(f"unknown period type {period_type!r} for {layout.relation}: "
                              f"published types are {', '.join(shown) or 'none'}")
        row = conn.execute(sql.SQL("select min(period_end) from {} where period_type = %s and period_start = %s")
                           .format(rel), (period_type, period_start)).fetchone()
        published = [r[0] for r in conn.execute(
            sql.SQL("select distinct period_start from {} where period_type = %s order by 1").format(rel),
            (period_type,)).fetchall()]
    if row is None or row[0] is None:
        shown = ", ".join(str(d) for d in published[-12:]) or "none"
        more = f" (the last 12 of {len(published)})" if len(published) > 12 else ""
        raise ReportError(f"no {period_type} starting {period_start} is published in {layout.relation}: "
                          f"published {period_type} starts are {shown}{more}")
    return Period(period_type, period_start, row[0])


def province_units(conn: psycopg.Connection) -> set[str]:
    """The province units (their rows roll up the province), from kpi.dossier_facts_daily."""
    if conn.execute("select to_regclass('kpi.dossier_facts_daily')").fetchone()[0] is None:
        return set()
    # the last day's rows (index on date): every province has a backlog or a flow on it
    found = {r[0] for r in conn.execute(
        "select distinct province_unit_id from kpi.dossier_facts_daily where province_unit_id is not null "
        "and date = (select max(date) from kpi.dossier_facts_daily)")}
    return found or {r[0] for r in conn.execute(
        "select distinct province_unit_id from kpi.dossier_facts_daily where province_unit_id is not null")}


def fetch_rows(conn: psycopg.Connection, layout: Layout, period: Period, *, unit_id: str | None = None,
               by_field: bool = False) -> list[dict]:
    """The layout's rows of ``period``: one per unit (and field with ``by_field``), the province's
    roll-up row last; with ``unit_id`` that unit's rows only (ReportError if it has none).

    Late units: only the units at criticism or discipline (the province's roll-up row included when
    it is), worst late share first.
    """
    rel = sql.SQL(layout.relation)
    if layout.relation == "kpi.late_accountability":
        where, params = sql.SQL("month = %s"), [period.period_start]
    else:
        where, params = sql.SQL("period_type = %s and period_start = %s"), [period.period_type, period.period_start]
    if layout.relation == "kpi.tthc_report" and not by_field:
        where = sql.SQL("{} and field_code = '*'").format(where)
    if unit_id is not None:
        exists = conn.execute(sql.SQL("select 1 from {} where {} and unit_id = %s limit 1").format(
            rel, where), [*params, unit_id]).fetchone()
        if not exists:
            known = conn.execute(sql.SQL("select 1 from {} where unit_id = %s limit 1").format(rel),
                                 (unit_id,)).fetchone()
            if known:
                raise ReportError(f"unit {unit_id!r} has no row in {layout.relation} for the "
                                  f"{period.period_type} starting {period.period_start}")
            raise ReportError(f"unknown unit {unit_id!r}: it has no row in {layout.relation} "
                              f"(select distinct unit_id, unit_name from {layout.relation} lists them)")
        where = sql.SQL("{} and unit_id = %s").format(where)
        params.append(unit_id)
    if layout.relation == "kpi.late_accountability":
        where = sql.SQL("{} and verdict in ('criticism', 'discipline')").format(where)
    rows = conn.cursor(row_factory=dict_row).execute(
        sql.SQL("select * from {} where {}").format(rel, where), params).fetchall()
    provinces = province_units(conn)
    for r in rows:
        r["is_province"] = r["unit_id"] in provinces
        if layout.relation == "kpi.late_accountability":
            r["period_type"], r["period_start"] = "month", r["month"]
            r["verdict_vi"] = VERDICT_VI.get(r["verdict"], r["verdict"])
            r["verdict_reason_vi"] = VERDICT_REASON_VI.get(r["verdict_reason"], r["verdict_reason"])

    def order(r):
        if layout.relation == "kpi.late_accountability":
            return (r["is_province"], -(r["late_share"] or 0), r["unit_id"])
        return (r["is_province"], r["unit_id"], r.get("field_code", "*") != "*", r.get("field_code", ""))
    return sorted(rows, key=order)


def period_label(period: Period) -> str:
    """The period as a Vietnamese title says it: "Tháng 06/2025", "Quý II/2025", ..."""
    start, kind = period.period_start, period.period_type
    if kind == "day":
        return f"Ngày {start:%d/%m/%Y}"
    if kind == "week":
        year, week, _ = start.isocalendar()
        return f"Tuần {week:02d}/{year}"
    if kind == "month":
        return f"Tháng {start:%m/%Y}"
    if kind == "quarter":
        return f"Quý {['I', 'II', 'III', 'IV'][(start.month - 1) // 3]}/{start.year}"
    if kind == "half_year":
        return f"6 tháng {'đầu' if start.month <= 6 else 'cuối'} năm {start.year}"
    if kind == "year":
        return f"Năm {start.year}"
    return f"{kind} {start}"


def natural_end(period: Period) -> dt.date:
    """The period's last day if it were complete (kpi's period_end is capped at as_of_date)."""
    s = period.period_start
    months = {"month": 1, "quarter": 3, "half_year": 6, "year": 12}.get(period.period_type)
    if period.period_type == "day":
        return s
    if period.period_type == "week":
        return s + dt.timedelta(days=6)
    if months is None:
        return period.period_end
    m = s.month - 1 + months
    return dt.date(s.year + m // 12, m % 12 + 1, 1) - dt.timedelta(days=1)


def period_sentence(period: Period) -> str:
    """"Kỳ báo cáo: Tháng 06/2025 (từ ngày 01/06/2025 đến ngày 30/06/2025)", saying so when the
    period is not over at the publication's as-of date."""
    text = (f"Kỳ báo cáo: {period_label(period)} (từ ngày {period.period_start:%d/%m/%Y} "
            f"đến ngày {period.period_end:%d/%m/%Y})")
    if period.period_end < natural_end(period):
        text += f" — kỳ chưa kết thúc, số liệu đến hết ngày {period.period_end:%d/%m/%Y}"
    return text


def footer_lines(pub: PublicationInfo, layout: Layout) -> list[str]:
    """Where the numbers come from: publication id, as-of date, the gate, what is missing."""
    published = f", công bố lúc {pub.published_local:%H:%M ngày %d/%m/%Y}" if pub.published_at else ""
    checks = f" qua {pub.checks_evaluated} kiểm tra chất lượng" if pub.checks_evaluated else ""
    lines = [f"Nguồn: lần công bố số {pub.publication_id} ({layout.relation}){published}; số liệu đến hết ngày "
             f"{pub.as_of_date:%d/%m/%Y}; đã{checks or ' qua kiểm tra chất lượng'} trước khi công bố."]
    if pub.missing_days:
        missing = "; ".join(f"{system}: {', '.join(days[:10])}{' …' if len(days) > 10 else ''}"
                            for system, days in sorted(pub.missing_days.items()) if days)
        if missing:
            lines.append(f"Lưu ý: thiếu số liệu các ngày ({missing}).")
    return lines
