"""The SQL of the KPI API: the current publication, and one page of a ``kpi`` table.

Every statement reads schema ``kpi`` only, through :meth:`cchc.api.db.Database.snapshot` (one
read-only transaction per request). Filters are bound parameters; identifiers come from the
registry and the catalog, never from the request.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from cchc.api.errors import ApiError
from cchc.api.pagination import decode_cursor
from cchc.api.params import Query
from cchc.constants import PUBLISHED_SCHEMA

SCHEMA = PUBLISHED_SCHEMA


@dataclass(frozen=True)
class Page:
    columns: list[str]
    rows: list[tuple]
    last_key: tuple | None  # the grain of the last row when there is a next page


def current_publication(conn: psycopg.Connection) -> dict | None:
    """The row of ``kpi.publications`` that the ``kpi`` views show (None before the first)."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(f"select * from {SCHEMA}.publications where is_current").fetchone()


def view_columns(conn: psycopg.Connection, view: str) -> dict[str, str]:
    """Column name -> SQL type of ``kpi.<view>``, in order; {} when it does not exist."""
    rows = conn.execute(
        "select a.attname, format_type(a.atttypid, a.atttypmod) from pg_attribute a "
        "join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = %s and c.relname = %s and a.attnum > 0 and not a.attisdropped order by a.attnum",
        (SCHEMA, view)).fetchall()
    return dict(rows)


def published_views(conn: psycopg.Connection) -> set[str]:
    return {r[0] for r in conn.execute(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = %s and c.relkind in ('v', 'r', 'm')", (SCHEMA,))}


def fetch_page(conn: psycopg.Connection, q: Query, *, units: frozenset[str] | None, publication_id: int
               ) -> Page:
    """One page of ``q.table`` for ``q``'s filters, restricted to ``units`` (None: every unit)."""
    t = q.table
    cols = view_columns(conn, t.name)
    missing = [c for c in (*t.grain, *t.filters, t.period, t.date, t.unit) if c and c not in cols]
    if "period_type" not in cols and t.period_type:
        missing.append("period_type")
    if missing:  # a registry entry that the published view does not match: say so, no 500
        raise ApiError(503, f"kpi.{t.name} lacks the columns {missing} the API expects; "
                            "the API and the published interface disagree (tell the operator)")
    where: list[sql.Composable] = []
    args: list = []

    def cond(col: str, op: str, value, cast: str | None = None) -> None:
        where.append(sql.SQL("{} " + op + " %s" + (f"::{cast}" if cast else "")).format(sql.Identifier(col)))
        args.append(value)

    if q.period_type:
        cond("period_type", "=", q.period_type)
    if t.period:
        for value, op in ((q.period, "="), (q.period_from, ">="), (q.period_to, "<=")):
            if value is not None:
                cond(t.period, op, value)
    if t.date:
        for value, op in ((q.date, "="), (q.date_from, ">="), (q.date_to, "<=")):
            if value is not None:
                cond(t.date, op, value)
    for col, value in q.equals:
        cond(col, "=", value)
    if t.unit and units is not None:
        where.append(sql.SQL("{} = any(%s)").format(sql.Identifier(t.unit)))
        args.append(sorted(units))
    if q.after:
        key = decode_cursor(q.after, table=t.name, publication_id=publication_id, width=len(t.grain))
        where.append(sql.SQL("({}) {} ({})").format(
            sql.SQL(", ").join(sql.Identifier(c) for c in t.grain),
            sql.SQL("<" if t.descending else ">"),
            sql.SQL(", ").join(sql.SQL("%s::" + cols[c]) for c in t.grain)))
        args += key
    order = sql.SQL(", ").join(sql.SQL("{} desc" if t.descending else "{}").format(sql.Identifier(c))
                               for c in t.grain)
    stmt = sql.SQL("select {} from {}.{}{} order by {} limit %s").format(
        sql.SQL(", ").join(sql.Identifier(c) for c in cols), sql.Identifier(SCHEMA), sql.Identifier(t.name),
        sql.SQL(" where ") + sql.SQL(" and ").join(where) if where else sql.SQL(""), order)
    args.append(q.limit + 1)
    try:
        with conn.transaction():  # a savepoint: a bad cursor value leaves the snapshot usable
            rows = conn.execute(stmt, args).fetchall()
    except (psycopg.errors.InvalidDatetimeFormat, psycopg.errors.DatetimeFieldOverflow,
            psycopg.errors.InvalidTextRepresentation, psycopg.errors.NumericValueOutOfRange):
        raise ApiError(400, "malformed cursor in 'after': pass the next_cursor of the previous page "
                            "unchanged") from None
    names = list(cols)
    more = len(rows) > q.limit
    rows = rows[:q.limit]
    last = None
    if more:
        idx = [names.index(c) for c in t.grain]
        last = tuple(rows[-1][i] for i in idx)
    return Page(names, rows, last)
