"""What changed since the previous publication, from published data only.

``kpi`` shows the current publication; the previous ones stay reachable while they are kept
(``CCHC_KEEP_PUBLICATIONS``): their tables live in ``kpi_pub_<id>`` (``cchc publications``, column
"kept"), readable by the pipeline's role (not by BI logins). The previous publication is the latest
kept one before the current (by id); when there is none, or its tables are dropped, or the role
cannot read them, the bulletin says so instead of comparing.

Per month of ``tthc_report`` (all fields) the comparison says whether the month is new, extended
(it had fewer days in the previous publication: its period_end moved), restated (the same days in
both, different numbers: late deliveries or corrections of a past month) or unchanged, with the
province's figures before and after and the units whose figures moved; and per month of
``late_accountability`` the units whose verdict changed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from cchc.publish import publication_schema

# the columns compared (the report's counts and rate; the context columns are not figures)
REPORT_FIGURES = ("received_total", "received_online", "received_direct_postal", "carried_over",
                  "resolved_total", "resolved_early", "resolved_on_time", "resolved_late",
                  "resolved_withdrawn_or_stopped", "pending_total", "pending_on_time", "pending_overdue",
                  "on_time_rate")


@dataclass(frozen=True)
class PreviousPublication:
    publication_id: int | None     # None: there is no publication before the current one
    as_of_date: dt.date | None
    published_at: dt.datetime | None
    schema: str | None             # None: not reachable (see ``reason``)
    reason: str | None = None      # why it cannot be compared


@dataclass
class MonthChange:
    month: dt.date
    status: str                    # new | extended | restated | unchanged | withdrawn
    period_end_before: dt.date | None
    period_end_after: dt.date | None
    province_before: dict | None
    province_after: dict | None
    units_changed: list[dict] = field(default_factory=list)   # unit_id, unit_name, column: (before, after)
    verdicts_changed: list[dict] = field(default_factory=list)  # unit_id, unit_name, before, after


def previous_publication(conn: psycopg.Connection, current_id: int) -> PreviousPublication:
    """The latest kept publication before ``current_id``, or why there is none to compare with."""
    rows = conn.execute(
        "select publication_id, as_of_date, published_at, tables_dropped_at from kpi.publications "
        "where publication_id < %s order by publication_id desc", (current_id,)).fetchall()
    if not rows:
        return PreviousPublication(None, None, None, None, "đây là lần công bố đầu tiên: chưa có lần trước để so sánh")
    for pub_id, as_of, published_at, dropped in rows:
        if dropped is not None:
            continue
        schema = publication_schema(pub_id)
        readable = conn.execute(
            "select has_schema_privilege(%s, 'USAGE') and to_regclass(%s) is not null "
            "and has_table_privilege(%s, 'SELECT')",
            (schema, f"{schema}.tthc_report", f"{schema}.tthc_report")).fetchone()[0] \
            if conn.execute("select 1 from pg_namespace where nspname = %s", (schema,)).fetchone() else False
        if not readable:
            return PreviousPublication(pub_id, as_of, published_at, None,
                                       f"bảng của lần công bố {pub_id} ({schema}) không đọc được bằng tài khoản này")
        return PreviousPublication(pub_id, as_of, published_at, schema)
    last = rows[0]
    return PreviousPublication(last[0], last[1], last[2], None,
                               f"bảng của lần công bố {last[0]} đã được xoá (chỉ giữ {len(rows)} lần gần nhất "
                               "theo CCHC_KEEP_PUBLICATIONS): không so sánh được")


def _has(conn, schema: str, table: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null",
                        (f"{schema}.{table}",)).fetchone()[0]


def _month_rows(conn, schema: str) -> dict[tuple, dict]:
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in ("period_start", "period_end", "unit_id", "unit_name",
                                                           *REPORT_FIGURES))
    rows = conn.cursor(row_factory=dict_row).execute(sql.SQL(
        "select {} from {}.tthc_report where period_type = 'month' and field_code = '*'").format(
            cols, sql.Identifier(schema))).fetchall()
    return {(r["period_start"], r["unit_id"]): r for r in rows}


def _verdicts(conn, schema: str) -> dict[tuple, dict]:
    if not _has(conn, schema, "late_accountability"):
        return {}
    rows = conn.cursor(row_factory=dict_row).execute(sql.SQL(
        "select month, unit_id, unit_name, verdict, late_share from {}.late_accountability").format(
            sql.Identifier(schema))).fetchall()
    return {(r["month"], r["unit_id"]): r for r in rows}


def compare(conn: psycopg.Connection, before_schema: str, after_schema: str, provinces: set[str]) -> list[MonthChange]:
    """The months of ``after_schema``'s tthc_report (and ``before_schema``'s), newest first, each with
    its status and what moved. Reads ``<schema>.tthc_report`` and ``<schema>.late_accountability``."""
    before, after = _month_rows(conn, before_schema), _month_rows(conn, after_schema)
    v_before, v_after = _verdicts(conn, before_schema), _verdicts(conn, after_schema)
    by_month: dict[dt.date, tuple[dict, dict]] = {}
    for (m, u), r in before.items():
        by_month.setdefault(m, ({}, {}))[0][u] = r
    for (m, u), r in after.items():
        by_month.setdefault(m, ({}, {}))[1][u] = r
    verdicts_after: dict[dt.date, dict] = {}
    for (m, u), r in v_after.items():
        verdicts_after.setdefault(m, {})[u] = r
    out = []
    for month in sorted(by_month, reverse=True):
        b, a = by_month[month]
        end_b = max((r["period_end"] for r in b.values()), default=None)
        end_a = max((r["period_end"] for r in a.values()), default=None)
        units_changed = []
        for unit in sorted(set(a) | set(b)):
            rb, ra = b.get(unit), a.get(unit)
            if rb is None or ra is None:
                units_changed.append({"unit_id": unit, "unit_name": (ra or rb)["unit_name"],
                                      "is_province": unit in provinces,
                                      "changes": {"row": ("–" if rb is None else "có", "–" if ra is None else "có")}})
                continue
            moved = {c: (rb[c], ra[c]) for c in REPORT_FIGURES if rb[c] != ra[c]}
            if moved:
                units_changed.append({"unit_id": unit, "unit_name": ra["unit_name"], "is_province": unit in provinces,
                                      "changes": moved})
        if not b:
            status = "new"
        elif not a:
            status = "withdrawn"
        elif end_b != end_a:
            status = "extended"
        elif units_changed:
            status = "restated"
        else:
            status = "unchanged"
        province = next(iter(sorted(provinces)), None)
        verdicts = []
        if status not in ("new", "withdrawn"):
            for unit, va in sorted(verdicts_after.get(month, {}).items()):
                vb = v_before.get((month, unit))
                if vb is not None and vb["verdict"] != va["verdict"]:
                    verdicts.append({"unit_id": unit, "unit_name": va["unit_name"], "before": vb["verdict"],
                                     "after": va["verdict"], "late_share_before": vb["late_share"],
                                     "late_share_after": va["late_share"]})
        out.append(MonthChange(month, status, end_b, end_a, b.get(province), a.get(province),
                               units_changed, verdicts))
    return out
