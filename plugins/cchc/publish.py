"""Write-Audit-Publish: versioned publications behind stable names in ``kpi``, and rollback.

dbt builds the publication candidates into the hidden schema ``kpi_build``; the quality gate audits
them there; only then :func:`publish` records publication N:

* the candidate tables move (``ALTER TABLE … SET SCHEMA``, no copy) into their own schema
  ``kpi_pub_<N>``, where they stay untouched while the publication is kept;
* consumers read stable names in ``kpi``: one view per table, ``kpi.<table>`` = the columns of
  ``kpi_pub_<N>.<table>``. The views are swapped with ``CREATE OR REPLACE VIEW`` in ONE transaction
  together with the row in ``kpi.publications``, so a reader sees either the old or the new
  publication, never a mix, and a consumer's own views and grants on ``kpi.<table>`` survive every
  publication and every rollback. Nothing in ``kpi`` is ever dropped.

Rules (the published interface, ../shared/spec/published.md, version 2):

* A view can only gain columns. A candidate that lacks a column of the published view, or changes
  its type, is refused (the message names the table and the columns); nothing changes.
* A name in ``kpi`` never disappears. A candidate set that lacks a table the current publication
  shows is refused, unless the table is explicitly retired (``publish(retire=[...])``, a change of
  the published interface that needs a version note): a retired name stays as an EMPTY view with
  its last columns (later publications without it keep it so). A rollback to a publication that
  did not have a table shows that name empty the same way; columns that an older publication did
  not have yet read NULL. ``kpi`` therefore always shows exactly one publication, the current one.
* ``kpi.publications`` keeps one row per publication, never deleted; exactly one row
  ``is_current`` (a partial unique index enforces it). The last ``CCHC_KEEP_PUBLICATIONS``
  publications (default 10, at least 2) keep their schema; older ones are dropped after a successful
  publish (never the current one) and their row gets ``tables_dropped_at``.
* :func:`rollback` makes an earlier kept publication current again in one transaction (views
  swapped, ``is_current`` moved, ``rolled_back_from`` set on that row). Every publish, rollback,
  migration and schema drop is logged in ``ops.publication_events`` (who, when, why).
* Publish and rollback wait at most ``CCHC_PUBLISH_LOCK_TIMEOUT`` seconds (default 2) for their
  locks, then retry with backoff (``CCHC_PUBLISH_LOCK_RETRIES``, default 3): BI readers never queue
  more than a few seconds behind a swap, and a reader running a long query makes the step fail with
  a clear message after the retries, with nothing changed.

What a BI tool sees (issue 8):

* every view over a table with a ``unit_id`` is a ``security_barrier`` view filtered by
  :func:`cchc.warehouse.roles.unit_scope_predicate`: a unit-scoped login sees only its unit's
  subtree, taken from the ``units`` table of the same publication. The filter is part of the view
  that publish and rollback write, so it holds for every publication and after every rollback
  (a rolled-back-to publication without ``units`` shows a scoped login nothing).
* the comments that dbt wrote on each published table and its columns (``persist_docs``) are
  copied onto the ``kpi`` view and its columns at every publish and rollback; ``kpi.publications``
  carries its own (:data:`PUBLICATIONS_COMMENTS`). Primary keys come with the tables.

A v1 warehouse (tables directly in ``kpi``, dropped and replaced by each publication) is migrated
in place by the first v2 publish or rollback: new columns added, the latest row made current, the
``kpi`` tables moved into ``kpi_pub_<latest id>`` with views in their place (grants copied).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus

from cchc.constants import BUILD_SCHEMA, PUBLICATION_SCHEMA_PREFIX, PUBLISHED_SCHEMA
from cchc.settings import env_number, operator_name

from cchc.warehouse.roles import (  # the group cchc_reader, reading kpi only; unit-scoped logins
    UNIT_COLUMN,
    UNITS_TABLE,
    ensure_reader_group,
    ensure_scopes_table,
    unit_scope_predicate,
)

log = logging.getLogger(__name__)

READER_ROLE = "cchc_reader"
EVENTS_TABLE = "ops.publication_events"
#: Columns that legitimately differ between two builds of the same data (left out of checksums).
BUILD_SPECIFIC_COLUMNS = frozenset({"publication_id"})

KPI_DDL = f"""
create schema if not exists {PUBLISHED_SCHEMA};
create sequence if not exists {PUBLISHED_SCHEMA}.publication_id_seq;
create table if not exists {PUBLISHED_SCHEMA}.publications (
    publication_id     bigint primary key,
    as_of_date         date not null,
    published_at       timestamptz not null default now(),
    run_id             text not null,
    rows_published     bigint not null,
    checks_evaluated   integer not null,
    checks_failed      integer not null check (checks_failed = 0),
    validation_report  text,
    tables_published   text[] not null
);
"""

#: Version 2 of kpi.publications: added in place to a v1 table (ADD COLUMN IF NOT EXISTS).
V2_COLUMNS: tuple[tuple[str, str], ...] = (
    ("is_current", "boolean not null default false"),
    ("complete_through", "jsonb"),
    ("missing_days", "jsonb"),  # then default '{}' (below): version-1 rows stay NULL, "not known"
    ("rolled_back_from", "bigint"),
    ("tables_dropped_at", "timestamptz"),
    ("published_by", "text"),
)

#: Comments of ``kpi.publications`` (the table and each column; published.md, "Publications").
PUBLICATIONS_COMMENTS: dict[str | None, str] = {
    None: "One row per publication that passed the quality gate; exactly one is_current: the one every "
          "kpi view shows. Rows are never deleted.",
    "publication_id": "The publication (every kpi row carries it in publication_id).",
    "as_of_date": "The last source day included; never after the smallest complete_through.",
    "published_at": "When it was published.",
    "run_id": "The pipeline run that built and published it (ops.pipeline_steps).",
    "rows_published": "Rows in all its tables together.",
    "checks_evaluated": "Quality-gate checks evaluated on its tables before publication.",
    "checks_failed": "Quality-gate checks failed: always 0 (a failed gate publishes nothing).",
    "validation_report": "Path of the quality gate's HTML report.",
    "tables_published": "The kpi tables it has.",
    "is_current": "True for exactly one row: the publication the kpi views show.",
    "complete_through": "Per delivered system, the last day up to which every day is in force, e.g. "
                        "{\"onestop\": \"2025-06-30\"} (null on rows from before contract version 2).",
    "missing_days": "Per system, the days after its first day in force that are not in force; {} when none "
                    "(null on rows from before contract version 2).",
    "rolled_back_from": "Set on a row that a rollback made current again: the publication it replaced.",
    "tables_dropped_at": "When its tables were dropped (beyond the last CCHC_KEEP_PUBLICATIONS); null while kept.",
    "published_by": "Who published it (CCHC_OPERATOR or the OS user).",
}

OPS_DDL = f"""
create schema if not exists ops;
create table if not exists {EVENTS_TABLE} (
    event_id                 bigserial primary key,
    at                       timestamptz not null default now(),
    action                   text not null check (action in ('publish', 'rollback', 'migrate', 'drop_tables')),
    publication_id           bigint not null,
    previous_publication_id  bigint,
    by                       text not null,
    reason                   text,
    details                  jsonb
);
"""


class PublishError(RuntimeError):
    """A publication or rollback was refused; nothing was changed."""


class KpiBusyError(PublishError):
    """Readers held locks on ``kpi`` through every retry; nothing was changed."""


@dataclass(frozen=True)
class Publication:
    publication_id: int
    as_of_date: dt.date
    rows_published: int
    tables: tuple[str, ...]
    is_current: bool = False
    published_at: dt.datetime | None = None
    run_id: str | None = None
    checks_evaluated: int | None = None
    checks_failed: int | None = None
    validation_report: str | None = None
    complete_through: dict[str, str] | None = None
    missing_days: dict[str, list[str]] | None = field(default=None)
    rolled_back_from: int | None = None
    tables_dropped_at: dt.datetime | None = None
    published_by: str | None = None

    @property
    def kept(self) -> bool:
        return self.tables_dropped_at is None

    @property
    def schema(self) -> str:
        return publication_schema(self.publication_id)


# -- settings ------------------------------------------------------------------------------------

def keep_publications() -> int:
    """How many publications keep their tables (``CCHC_KEEP_PUBLICATIONS``, default 10, minimum 2:
    the current publication and one to roll back to)."""
    return env_number("CCHC_KEEP_PUBLICATIONS", 10, low=2, cast=int)


def lock_timeout_seconds() -> float:
    """How long publish/rollback wait for a lock before retrying (``CCHC_PUBLISH_LOCK_TIMEOUT``, s)."""
    return env_number("CCHC_PUBLISH_LOCK_TIMEOUT", 2.0, low=0.001, high=60)


def lock_retries() -> int:
    """How many times publish/rollback retry after a lock timeout (``CCHC_PUBLISH_LOCK_RETRIES``)."""
    return env_number("CCHC_PUBLISH_LOCK_RETRIES", 3, low=0, high=100, cast=int)


def operator() -> str:
    """Who runs a publish or rollback: ``CCHC_OPERATOR``, else the OS user."""
    return operator_name()


def publication_schema(publication_id: int) -> str:
    return f"{PUBLICATION_SCHEMA_PREFIX}{int(publication_id)}"


# -- schema, roles, migration ----------------------------------------------------------------------

def _ensure_base(conn: psycopg.Connection) -> None:
    """Schema ``kpi``, its sequence and ``kpi.publications`` (created at v2 when absent)."""
    conn.execute("select pg_advisory_xact_lock(hashtext('cchc.kpi.ddl'))")
    conn.execute(KPI_DDL)
    have = {r[0] for r in conn.execute(
        "select column_name from information_schema.columns where table_schema = %s "
        "and table_name = 'publications'", (PUBLISHED_SCHEMA,))}
    for name, ddl in V2_COLUMNS:  # only ALTER when needed: ALTER TABLE locks out readers
        if name not in have:
            conn.execute(f"alter table {PUBLISHED_SCHEMA}.publications add column if not exists {name} {ddl}")
            if name == "missing_days":
                conn.execute(f"alter table {PUBLISHED_SCHEMA}.publications "
                             "alter column missing_days set default '{}'::jsonb")
    conn.execute(f"create unique index if not exists publications_one_current "
                 f"on {PUBLISHED_SCHEMA}.publications ((true)) where is_current")
    conn.execute(OPS_DDL)


def ensure_kpi_schema(conn: psycopg.Connection) -> None:
    """Bring ``kpi`` to version 2 in the caller's transaction (idempotent; migrates a v1 ``kpi``)."""
    _ensure_base(conn)
    _comment_publications(conn)
    ensure_scopes_table(conn)
    _migrate_v1(conn)
    ensure_reader_group(conn)
    conn.execute(sql.SQL("grant usage on schema {} to {}").format(
        sql.Identifier(PUBLISHED_SCHEMA), sql.Identifier(READER_ROLE)))
    conn.execute(sql.SQL("grant select on {}.publications to {}").format(
        sql.Identifier(PUBLISHED_SCHEMA), sql.Identifier(READER_ROLE)))


def _comment_publications(conn: psycopg.Connection) -> None:
    """The comments of ``kpi.publications``, written only where they differ (no needless catalog writes)."""
    have = {r[0]: r[1] for r in conn.execute(
        "select a.attname, col_description(c.oid, a.attnum) from pg_class c "
        "join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped "
        "where c.oid = 'kpi.publications'::regclass "
        "union all select null, obj_description('kpi.publications'::regclass, 'pg_class')")}
    for column, text in PUBLICATIONS_COMMENTS.items():
        if column is not None and column not in have or have.get(column) == text:
            continue
        target = sql.SQL("table {}.publications").format(sql.Identifier(PUBLISHED_SCHEMA)) if column is None \
            else sql.SQL("column {}.publications.{}").format(sql.Identifier(PUBLISHED_SCHEMA), sql.Identifier(column))
        conn.execute(sql.SQL("comment on {} is {}").format(target, sql.Literal(text)))


def _copy_comments(conn: psycopg.Connection, view: str, schema: str) -> None:
    """The comments of ``<schema>.<view>`` (the published table) and its columns onto ``kpi.<view>``.

    A column the table lacks (a rollback to an older publication) keeps the comment it has.
    """
    table = sql.Identifier(schema, view).as_string(conn)
    rows = conn.execute(
        "select a.attname, col_description(c.oid, a.attnum) from pg_class c "
        "join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped "
        "where c.oid = %s::regclass", (table,)).fetchall()
    described = dict(rows)
    comment, key = conn.execute(
        "select obj_description(%s::regclass, 'pg_class'), "
        "(select string_agg(a.attname, ', ' order by k.ord) from pg_constraint p "
        "   cross join unnest(p.conkey) with ordinality k(attnum, ord) "
        "   join pg_attribute a on a.attrelid = p.conrelid and a.attnum = k.attnum "
        "  where p.conrelid = %s::regclass and p.contype = 'p')", (table, table)).fetchone()
    if key:  # a view has no key of its own: its comment names the grain a BI tool joins on
        comment = f"{comment or ''}{' ' if comment else ''}Primary key (one row per): ({key})."
    statements = [sql.SQL("comment on view {} is {}").format(
        sql.Identifier(PUBLISHED_SCHEMA, view), sql.Literal(comment))]
    for name, _ in _columns(conn, PUBLISHED_SCHEMA, view):
        if name in described:
            statements.append(sql.SQL("comment on column {} is {}").format(
                sql.Identifier(PUBLISHED_SCHEMA, view, name), sql.Literal(described[name])))
    conn.execute(sql.SQL("; ").join(statements))


def _migrate_v1(conn: psycopg.Connection) -> None:
    """v1 → v2: latest row current; ``kpi.<table>`` TABLES moved into ``kpi_pub_<latest>``, views in place."""
    current = conn.execute("select publication_id from kpi.publications where is_current").fetchone()
    latest = conn.execute("select max(publication_id) from kpi.publications").fetchone()[0]
    tables = [r[0] for r in conn.execute(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = %s and c.relkind in ('r', 'p') and c.relname <> 'publications' "
        "order by 1", (PUBLISHED_SCHEMA,))]
    if current is not None:
        return  # version 2 already
    if latest is None:
        if tables:
            raise PublishError(
                f"schema kpi holds tables {tables} but kpi.publications has no row: cannot tell which "
                "publication they are; move or drop them by hand")
        return
    pub_id = latest
    log.warning("migrating kpi.publications to version 2: publication %s becomes current", pub_id)
    conn.execute("lock table kpi.publications in exclusive mode")
    conn.execute("update kpi.publications set is_current = (publication_id = %s)", (pub_id,))
    # version 1 dropped every earlier publication's tables
    conn.execute("update kpi.publications set tables_dropped_at = now() "
                 "where publication_id <> %s and tables_dropped_at is null", (pub_id,))
    if not tables:
        _log_event(conn, "migrate", pub_id, None, "cchc (v1 → v2 migration)", None, {"tables_moved": []})
        return
    dependents = _foreign_dependents(conn, tables)
    if dependents:
        listing = "\n".join(f"  - {t}: {', '.join(objs)}" for t, objs in dependents.items())
        raise PublishError(
            "cannot migrate kpi to version 2 (tables become views on versioned publications): objects "
            "outside kpi depend on the version-1 TABLES below. Drop them, publish (the first v2 "
            "publication migrates), then recreate them once on the same kpi names — from then on they "
            f"survive every publication and rollback. Nothing was changed.\n{listing}")
    target = publication_schema(pub_id)
    log.warning("migrating kpi to version 2: moving tables %s into %s and replacing them by views",
                tables, target)
    conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(target)))
    for t in tables:
        grants = conn.execute(
            "select grantee::regrole::text, privilege_type from pg_class c, aclexplode(c.relacl) a "
            "where c.oid = %s::regclass and a.grantee <> 0 and a.grantee <> c.relowner",
            (f"{PUBLISHED_SCHEMA}.{t}",)).fetchall()
        conn.execute(sql.SQL("lock table {}.{} in access exclusive mode").format(
            sql.Identifier(PUBLISHED_SCHEMA), sql.Identifier(t)))
        conn.execute(sql.SQL("alter table {}.{} set schema {}").format(
            sql.Identifier(PUBLISHED_SCHEMA), sql.Identifier(t), sql.Identifier(target)))
        cols = _columns(conn, target, t)
        conn.execute(_view_sql(t, cols, target, cols))
        for grantee, privilege in grants:
            if privilege in ("SELECT", "REFERENCES", "TRIGGER"):
                conn.execute(sql.SQL("grant {} on {}.{} to {}").format(
                    sql.SQL(privilege), sql.Identifier(PUBLISHED_SCHEMA), sql.Identifier(t),
                    sql.Identifier(grantee)))
    recorded = conn.execute("select tables_published from kpi.publications where publication_id = %s",
                            (pub_id,)).fetchone()[0]
    if sorted(recorded or []) != tables:
        log.warning("publication %s recorded tables %s, kpi held %s; recording what kpi held",
                    pub_id, recorded, tables)
        conn.execute("update kpi.publications set tables_published = %s where publication_id = %s",
                     (tables, pub_id))
    _log_event(conn, "migrate", pub_id, None, "cchc (v1 → v2 migration)", None,
               {"tables_moved": tables, "schema": target})


def _foreign_dependents(conn: psycopg.Connection, tables: list[str]) -> dict[str, list[str]]:
    """Objects outside a table that depend on it (views, materialized views, foreign keys, functions)."""
    out: dict[str, list[str]] = {}
    for t in tables:
        rows = conn.execute(
            """
            select distinct coalesce(
                       case when d.classid = 'pg_rewrite'::regclass then
                           (select case v.relkind when 'm' then 'materialized view ' else 'view ' end
                                   || quote_ident(vn.nspname) || '.' || quote_ident(v.relname)
                              from pg_rewrite r join pg_class v on v.oid = r.ev_class
                              join pg_namespace vn on vn.oid = v.relnamespace
                             where r.oid = d.objid and r.ev_class <> d.refobjid)
                       end,
                       case when d.classid <> 'pg_rewrite'::regclass then
                           pg_describe_object(d.classid, d.objid, d.objsubid) end)
              from pg_depend d
             where d.refclassid = 'pg_class'::regclass and d.refobjid = %s::regclass and d.deptype = 'n'
            """, (f"{PUBLISHED_SCHEMA}.{t}",)).fetchall()
        objs = sorted(r[0] for r in rows if r[0])
        if objs:
            out[t] = objs
    return out


# -- catalog helpers ----------------------------------------------------------------------------------

def _columns(conn: psycopg.Connection, schema: str, relation: str) -> list[tuple[str, str]]:
    """(name, type with modifiers) of a table's or view's columns, in order."""
    return [(r[0], r[1]) for r in conn.execute(
        "select a.attname, format_type(a.atttypid, a.atttypmod) from pg_attribute a "
        "join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = %s and c.relname = %s and a.attnum > 0 and not a.attisdropped "
        "order by a.attnum", (schema, relation))]


def _relkind(conn: psycopg.Connection, schema: str, relation: str) -> str | None:
    row = conn.execute(
        "select c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = %s and c.relname = %s", (schema, relation)).fetchone()
    return row[0] if row else None


def _schema_exists(conn: psycopg.Connection, schema: str) -> bool:
    return conn.execute("select 1 from pg_namespace where nspname = %s", (schema,)).fetchone() is not None


def _view_mapping(table: str, view_cols: list[tuple[str, str]] | None, table_cols: list[tuple[str, str]],
                  *, strict: bool) -> list[tuple[str, str, bool]]:
    """The view's columns as (name, type, taken from the table?) — or PublishError if impossible.

    The view keeps every column it has (same name, same type, same order); the table's other columns
    are appended. ``strict`` (a publication): every view column must be in the table with its type.
    Not strict (a rollback to an older publication): a column the table lacks reads NULL.
    """
    have = dict(table_cols)
    mapping: list[tuple[str, str, bool]] = []
    missing, changed = [], []
    for name, typ in view_cols or []:
        if name not in have:
            if strict:
                missing.append(f"{name} ({typ})")
            mapping.append((name, typ, False))
        elif have[name] != typ:
            changed.append(f"{name}: {typ} → {have[name]}")
        else:
            mapping.append((name, typ, True))
    if missing or changed:
        parts = []
        if missing:
            parts.append("missing columns " + ", ".join(missing))
        if changed:
            parts.append("columns with another type " + ", ".join(changed))
        raise PublishError(
            f"kpi.{table} is not view-compatible: {'; '.join(parts)}. A published name can only gain "
            "columns (consumers' views and reports depend on the others); changing the published "
            "interface needs a new name or a version note and a planned migration. Nothing was changed.")
    known = {name for name, _ in view_cols or []}
    mapping += [(name, typ, True) for name, typ in table_cols if name not in known]
    return mapping


def _view_sql(view: str, view_cols: list[tuple[str, str]] | None, schema: str | None,
              table_cols: list[tuple[str, str]] | None, *, strict: bool = True,
              units_schema: str | None = None) -> sql.Composed:
    """``create or replace view kpi.<view>`` over ``<schema>.<view>``, or EMPTY (schema None).

    A table with a ``unit_id`` gets the unit-scope filter (security barrier), its subtree taken
    from ``<units_schema>.units`` (None: the publication has no hierarchy, scoped logins see nothing).
    """
    barrier = False
    if schema is None:  # the current publication has no such table: same columns, no rows
        select = sql.SQL(", ").join(
            sql.SQL("null::{} as {}").format(sql.SQL(typ), sql.Identifier(name)) for name, typ in view_cols)
        body = sql.SQL("select {} where false").format(select)
    else:
        mapping = _view_mapping(view, view_cols, table_cols, strict=strict)
        select = sql.SQL(", ").join(
            sql.SQL("t.{}").format(sql.Identifier(name)) if taken
            else sql.SQL("null::{} as {}").format(sql.SQL(typ), sql.Identifier(name))
            for name, typ, taken in mapping)
        body = sql.SQL("select {} from {}.{} t").format(select, sql.Identifier(schema), sql.Identifier(view))
        if any(name == UNIT_COLUMN for name, _ in table_cols or ()):
            barrier = True
            body = sql.SQL("{} where {}").format(body, unit_scope_predicate(units_schema, "t"))
    return sql.SQL("create or replace view {}.{} with (security_barrier = {}) as {}").format(
        sql.Identifier(PUBLISHED_SCHEMA), sql.Identifier(view), sql.SQL("true" if barrier else "false"), body)


def _units_schema(conn: psycopg.Connection, schema: str) -> str | None:
    """``schema`` when it holds the publication's unit hierarchy (``units``), else None."""
    return schema if _relkind(conn, schema, UNITS_TABLE) in ("r", "p") else None


def _published_views(conn: psycopg.Connection) -> list[str]:
    return [r[0] for r in conn.execute(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = %s and c.relkind = 'v' order by 1", (PUBLISHED_SCHEMA,))]


def _managed_names(conn: psycopg.Connection) -> list[str]:
    """The views in ``kpi`` that publications put there (each stays for good)."""
    published = {r[0] for r in conn.execute("select distinct unnest(tables_published) from kpi.publications")}
    return [v for v in _published_views(conn) if v in published]


def _lock_views(conn: psycopg.Connection, names: Iterable[str]) -> None:
    existing = [n for n in names if _relkind(conn, PUBLISHED_SCHEMA, n) == "v"]
    if existing:
        conn.execute(sql.SQL("lock table {} in access exclusive mode").format(sql.SQL(", ").join(
            sql.Identifier(PUBLISHED_SCHEMA, n) for n in existing)))


def _grant_readers(conn: psycopg.Connection, names: Iterable[str]) -> None:
    for n in names:
        conn.execute(sql.SQL("grant select on {}.{} to {}").format(
            sql.Identifier(PUBLISHED_SCHEMA), sql.Identifier(n), sql.Identifier(READER_ROLE)))


def _log_event(conn: psycopg.Connection, action: str, publication_id: int, previous: int | None,
               by: str, reason: str | None, details: dict | None) -> None:
    conn.execute(
        f"insert into {EVENTS_TABLE} (action, publication_id, previous_publication_id, by, reason, details) "
        "values (%s, %s, %s, %s, %s, %s)",
        (action, publication_id, previous, by, reason, json.dumps(details, default=str) if details else None))


# -- lock timeout and retries --------------------------------------------------------------------------

T = TypeVar("T")


def _lock_holders(conn: psycopg.Connection) -> str:
    """Who holds locks on relations of ``kpi`` (for the 'kpi is busy' message)."""
    rows = conn.execute(
        """
        select a.pid, a.usename, coalesce(nullif(a.application_name, ''), '-'), a.state,
               now() - coalesce(a.xact_start, a.query_start), left(regexp_replace(a.query, '\\s+', ' ', 'g'), 80),
               string_agg(distinct l.relation::regclass::text || ' (' || l.mode || ')', ', ')
          from pg_locks l join pg_stat_activity a on a.pid = l.pid
          join pg_class c on c.oid = l.relation join pg_namespace n on n.oid = c.relnamespace
         where (n.nspname = %s or n.nspname like %s) and l.granted and l.pid <> pg_backend_pid()
         group by 1, 2, 3, 4, 5, 6 order by 5 desc nulls last limit 5
        """, (PUBLISHED_SCHEMA, PUBLICATION_SCHEMA_PREFIX.replace("_", "\\_") + "%")).fetchall()
    if not rows:
        return "a session held a conflicting lock (it has finished since)"
    return "; ".join(
        f"pid {pid} (user {user}, application {app}, {state}, transaction open for "
        f"{str(age).split('.')[0] if age else '?'}, query: {query!r}) holds {locks}"
        for pid, user, app, state, age, query, locks in rows)


def _with_lock_retries(conn: psycopg.Connection, what: str, body: Callable[[], T]) -> T:
    """Run ``body`` in a transaction with a short lock_timeout, retrying with backoff on lock timeouts."""
    if conn.info.transaction_status != TransactionStatus.IDLE:
        raise PublishError(f"{what} runs its own transactions (it retries when kpi is busy): call it "
                           "with no transaction open on the connection (commit or roll back first)")
    timeout, retries = lock_timeout_seconds(), lock_retries()
    for attempt in range(retries + 1):
        try:
            with conn.transaction():
                conn.execute(sql.SQL("set local lock_timeout = {}").format(
                    sql.Literal(f"{int(timeout * 1000)}ms")))
                return body()
        except psycopg.errors.LockNotAvailable:
            holders = _lock_holders(conn)
            conn.rollback()
            if attempt == retries:
                raise KpiBusyError(
                    f"kpi is busy: {holders}; {what} gave up after {retries + 1} attempts of "
                    f"{timeout:g} s; nothing was changed. Retry later, or end that session "
                    "(select pg_cancel_backend(pid)).") from None
            pause = min(0.5 * 2 ** attempt, 4.0)
            log.warning("%s: could not get its locks within %g s (attempt %d of %d): %s; retrying in %.1f s",
                        what, timeout, attempt + 1, retries + 1, holders, pause)
            time.sleep(pause)
    raise AssertionError("unreachable")


# -- publish -------------------------------------------------------------------------------------------

def next_publication_id(conn: psycopg.Connection) -> int:
    """Reserve the id the candidates are built with (a failed run leaves a gap: that is fine)."""
    conn.execute("select pg_advisory_xact_lock(hashtext('cchc.kpi.ddl'))")
    conn.execute(KPI_DDL)
    return conn.execute(f"select nextval('{PUBLISHED_SCHEMA}.publication_id_seq')").fetchone()[0]


def candidate_tables(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute(
        "select table_name from information_schema.tables where table_schema = %s "
        "and table_type = 'BASE TABLE' order by table_name", (BUILD_SCHEMA,)).fetchall()
    return [r[0] for r in rows]


def _validate_completeness(as_of_date: dt.date, complete_through: dict | None,
                           missing_days: dict | None) -> tuple[dict | None, dict | None]:
    ct = None
    if complete_through is not None:
        if not isinstance(complete_through, dict):
            raise ValueError(f"complete_through must map a system to a date, got {complete_through!r}")
        ct = {}
        for system, day in complete_through.items():
            try:
                ct[str(system)] = (day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day))).isoformat()
            except ValueError:
                raise ValueError(f"complete_through[{system!r}] is not a date (YYYY-MM-DD): {day!r}") from None
        if ct:
            system, least = min(ct.items(), key=lambda kv: kv[1])
            if as_of_date.isoformat() > least:
                raise PublishError(
                    f"refusing to publish as of {as_of_date}: {system} is complete only through {least} "
                    f"(complete_through {ct}); as_of_date never exceeds the smallest. Nothing was changed.")
    md = None
    if missing_days is not None:
        if not isinstance(missing_days, dict):
            raise ValueError(f"missing_days must map a system to a list of dates, got {missing_days!r}")
        md = {}
        for system, days in missing_days.items():
            if isinstance(days, (str, bytes)) or not isinstance(days, Iterable):
                raise ValueError(f"missing_days[{system!r}] must be a list of dates, got {days!r}")
            try:
                norm = sorted({(d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d))).isoformat()
                               for d in days})
            except ValueError:
                raise ValueError(f"missing_days[{system!r}] holds a value that is not a date: {days!r}") from None
            if norm:
                md[str(system)] = norm
    return ct, md


def publish(conn: psycopg.Connection, *, publication_id: int, as_of_date: dt.date, run_id: str,
            checks_evaluated: int, checks_failed: int, validation_report: str | None,
            complete_through: dict[str, str] | None = None,
            missing_days: dict[str, list[str]] | None = None,
            retire: Sequence[str] = (), by: str | None = None) -> Publication:
    """Publish the audited candidates in ``kpi_build`` as publication ``publication_id``.

    One transaction: the candidates move into ``kpi_pub_<id>``, the views in ``kpi`` are swapped to
    them, the row in ``kpi.publications`` becomes the only current one, the event is logged. Then the
    publications beyond the last ``keep_publications()`` lose their schema. Refusals (failed checks,
    ``as_of_date`` past ``complete_through``, stale or view-incompatible candidates, a table missing
    without ``retire``) raise before anything changes. ``complete_through``/``missing_days`` None means
    "not known" and is recorded as NULL (pass them: the contract promises them).
    """
    if checks_failed:
        raise PublishError("refusing to publish: the quality gate reported failed checks")
    keep_publications()  # a bad setting fails here, before anything changes
    ct, md = _validate_completeness(as_of_date, complete_through, missing_days)
    if ct is None or md is None:
        log.warning("publication %s: completeness not given (complete_through/missing_days recorded as NULL)",
                    publication_id)
    who = by or operator()
    retire = sorted(set(retire))
    target = publication_schema(publication_id)

    def body() -> Publication:
        ensure_kpi_schema(conn)
        conn.execute("lock table kpi.publications in exclusive mode")
        if conn.execute("select 1 from kpi.publications where publication_id = %s",
                        (publication_id,)).fetchone():
            raise PublishError(f"publication {publication_id} is already published")
        tables = candidate_tables(conn)
        if not tables:
            raise PublishError(f"nothing to publish: schema {BUILD_SCHEMA} has no tables")
        stale = [t for t in tables if conn.execute(
            sql.SQL("select count(*) from {}.{} where publication_id is distinct from %s").format(
                sql.Identifier(BUILD_SCHEMA), sql.Identifier(t)), (publication_id,)).fetchone()[0]]
        if stale:
            raise PublishError(
                f"candidate tables {stale} were not built for publication {publication_id}; "
                "rebuild before publishing")
        previous = conn.execute("select publication_id, tables_published from kpi.publications "
                                "where is_current").fetchone()
        previous, shown = (previous[0], previous[1] or []) if previous else (None, [])
        managed = _managed_names(conn)
        clash = [t for t in retire if t in tables]
        if clash:
            raise PublishError(f"cannot retire {clash}: the candidates include them")
        lacking = [t for t in shown if t not in tables and t not in retire]
        if lacking:
            raise PublishError(
                f"publication {publication_id} lacks tables {lacking} that the current publication "
                f"{previous} shows; a name in kpi never disappears. Build them, or retire them explicitly "
                "(publish(..., retire=[...]): they stay as empty views; a change of the published interface "
                "that needs a version note). Nothing was changed.")
        unknown = [t for t in retire if t not in managed]
        if unknown:
            raise PublishError(f"cannot retire {unknown}: no publication ever published them")
        plans = []  # (name, view sql) — every check done before the first change
        for t in tables:
            kind = _relkind(conn, PUBLISHED_SCHEMA, t)
            if kind not in (None, "v"):
                raise PublishError(f"kpi.{t} exists and is not a view (relkind {kind!r}); move it away first")
            view_cols = _columns(conn, PUBLISHED_SCHEMA, t) if kind == "v" else None
            plans.append((t, view_cols))
            _view_mapping(t, view_cols, _columns(conn, BUILD_SCHEMA, t), strict=True)  # raises if incompatible
        rows = 0
        counts = {}
        for t in tables:
            counts[t] = conn.execute(sql.SQL("select count(*) from {}.{}").format(
                sql.Identifier(BUILD_SCHEMA), sql.Identifier(t))).fetchone()[0]
            rows += counts[t]
        conn.execute(sql.SQL("create schema {}").format(sql.Identifier(target)))
        for t in tables:
            conn.execute(sql.SQL("alter table {}.{} set schema {}").format(
                sql.Identifier(BUILD_SCHEMA), sql.Identifier(t), sql.Identifier(target)))
        _lock_views(conn, tables + retire)  # the one place readers can make us wait
        units_schema = _units_schema(conn, target)
        for t, view_cols in plans:
            conn.execute(_view_sql(t, view_cols, target, _columns(conn, target, t), units_schema=units_schema))
            _copy_comments(conn, t, target)
        for t in retire:
            conn.execute(_view_sql(t, _columns(conn, PUBLISHED_SCHEMA, t), None, None))
        _grant_readers(conn, tables + retire)
        conn.execute("update kpi.publications set is_current = false where is_current")
        conn.execute(
            "insert into kpi.publications (publication_id, as_of_date, run_id, rows_published, "
            "checks_evaluated, checks_failed, validation_report, tables_published, is_current, "
            "complete_through, missing_days, published_by) "
            "values (%s, %s, %s, %s, %s, %s, %s, %s, true, %s, %s, %s)",
            (publication_id, as_of_date, run_id, rows, checks_evaluated, checks_failed,
             validation_report, tables, json.dumps(ct) if ct is not None else None,
             json.dumps(md) if md is not None else None, who))
        _log_event(conn, "publish", publication_id, previous, who, None,
                   {"run_id": run_id, "as_of_date": as_of_date, "rows": counts, "retired": retire,
                    "complete_through": ct, "missing_days": md})
        return _fetch(conn, publication_id)

    pub = _with_lock_retries(conn, f"publish {publication_id}", body)
    log.info("published %s: %d tables, %d rows, as of %s (schema %s)", publication_id, len(pub.tables),
             pub.rows_published, as_of_date, target)
    drop_old_publications(conn, by=who)
    return pub


def drop_old_publications(conn: psycopg.Connection, *, by: str | None = None) -> list[int]:
    """Drop the schemas of publications beyond the last ``keep_publications()`` (never the current one).

    Each schema is dropped in its own transaction with the short lock timeout; one that a session is
    still reading, or that something outside depends on, is skipped with a warning (next time). Rows
    in ``kpi.publications`` stay; ``tables_dropped_at`` records the drop. Returns the ids dropped.
    """
    keep, who = keep_publications(), by or operator()
    with conn.transaction():
        rows = conn.execute(
            "select publication_id, is_current from kpi.publications where tables_dropped_at is null "
            "order by publication_id desc").fetchall()
    kept_ids = {r[0] for r in rows[:keep]} | {r[0] for r in rows if r[1]}
    dropped = []
    for pub_id, _ in rows:
        if pub_id in kept_ids:
            continue
        schema = publication_schema(pub_id)
        try:
            with conn.transaction():
                conn.execute(sql.SQL("set local lock_timeout = {}").format(
                    sql.Literal(f"{int(lock_timeout_seconds() * 1000)}ms")))
                if conn.execute("select is_current from kpi.publications where publication_id = %s "
                                "for update", (pub_id,)).fetchone()[0]:
                    continue  # a rollback made it current meanwhile
                if _schema_exists(conn, schema):
                    for (t,) in conn.execute(
                            "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                            "where n.nspname = %s and c.relkind in ('r', 'p')", (schema,)).fetchall():
                        conn.execute(sql.SQL("drop table if exists {}.{}").format(  # RESTRICT: never cascade
                            sql.Identifier(schema), sql.Identifier(t)))
                    conn.execute(sql.SQL("drop schema {}").format(sql.Identifier(schema)))
                conn.execute("update kpi.publications set tables_dropped_at = now() where publication_id = %s",
                             (pub_id,))
                _log_event(conn, "drop_tables", pub_id, None, who, f"beyond the last {keep} publications",
                           {"schema": schema})
            dropped.append(pub_id)
            log.info("dropped the tables of publication %s (schema %s): beyond the last %d", pub_id, schema, keep)
        except (psycopg.errors.LockNotAvailable, psycopg.errors.DependentObjectsStillExist,
                psycopg.errors.WrongObjectType) as exc:
            log.warning("kept schema %s for now: %s", schema, str(exc).splitlines()[0])
    return dropped


# -- rollback ------------------------------------------------------------------------------------------

def rollback(conn: psycopg.Connection, *, to: int | None = None, by: str, reason: str | None = None) -> Publication:
    """Make an earlier kept publication current again (default: the latest kept one before the current).

    One transaction: every view in ``kpi`` swapped to ``kpi_pub_<to>`` (a name that publication did
    not have becomes an empty view; a column it did not have reads NULL), ``is_current`` moved,
    ``rolled_back_from`` set on the row made current, the event logged with who and why.
    """
    if not by or not str(by).strip():
        raise ValueError("rollback needs who is rolling back (by=...)")

    def body() -> tuple[Publication, int]:
        ensure_kpi_schema(conn)
        conn.execute("lock table kpi.publications in exclusive mode")
        current = conn.execute("select publication_id from kpi.publications where is_current").fetchone()
        if current is None:
            raise PublishError("nothing to roll back: no publication yet")
        current = current[0]
        if to is None:
            row = conn.execute(
                "select publication_id from kpi.publications where publication_id < %s "
                "and tables_dropped_at is null order by publication_id desc limit 1", (current,)).fetchone()
            if row is None:
                raise PublishError(f"nothing to roll back to: no kept publication before the current "
                                   f"one ({current}). Nothing was changed.")
            target = row[0]
        else:
            target = int(to)
        row = conn.execute("select tables_published, tables_dropped_at from kpi.publications "
                           "where publication_id = %s", (target,)).fetchone()
        if row is None:
            raise PublishError(f"cannot roll back to publication {target}: there is no such publication")
        if target == current:
            raise PublishError(f"publication {target} is already current; nothing was changed")
        tables, dropped_at = row
        schema = publication_schema(target)
        if dropped_at is not None:
            raise PublishError(
                f"cannot roll back to publication {target}: its tables were dropped at {dropped_at:%Y-%m-%d %H:%M} "
                f"(only the last {keep_publications()} publications are kept, CCHC_KEEP_PUBLICATIONS). "
                "Rebuild it instead. Nothing was changed.")
        absent = [t for t in tables if _relkind(conn, schema, t) not in ("r", "p")]
        if absent:
            raise PublishError(f"cannot roll back to publication {target}: schema {schema} lacks {absent}. "
                               "Nothing was changed.")
        names = sorted(set(_managed_names(conn)) | set(tables))
        units_schema = _units_schema(conn, schema)
        statements = []
        for n in names:
            view_cols = _columns(conn, PUBLISHED_SCHEMA, n) if _relkind(conn, PUBLISHED_SCHEMA, n) == "v" else None
            if n in tables:
                statements.append(_view_sql(n, view_cols, schema, _columns(conn, schema, n), strict=False,
                                            units_schema=units_schema))
            elif view_cols:
                statements.append(_view_sql(n, view_cols, None, None))
        _lock_views(conn, names)
        for s in statements:
            conn.execute(s)
        for n in names:
            if n in tables:
                _copy_comments(conn, n, schema)
        _grant_readers(conn, [n for n in names if _relkind(conn, PUBLISHED_SCHEMA, n) == "v"])
        conn.execute("update kpi.publications set is_current = false where is_current")
        conn.execute("update kpi.publications set is_current = true, rolled_back_from = %s "
                     "where publication_id = %s", (current, target))
        _log_event(conn, "rollback", target, current, by, reason,
                   {"empty_views": [n for n in names if n not in tables]})
        return _fetch(conn, target), current

    pub, previous = _with_lock_retries(conn, "rollback", body)
    log.warning("rolled back: publication %s is current again (was %s), by %s%s", pub.publication_id,
                previous, by, f": {reason}" if reason else "")
    return pub


# -- reading --------------------------------------------------------------------------------------------

_SELECT = ("select publication_id, as_of_date, rows_published, tables_published, is_current, published_at, "
           "run_id, checks_evaluated, checks_failed, validation_report, complete_through, missing_days, "
           "rolled_back_from, tables_dropped_at, published_by from kpi.publications")


def _row(r) -> Publication:
    return Publication(r[0], r[1], r[2], tuple(r[3] or ()), bool(r[4]), r[5], r[6], r[7], r[8], r[9],
                       r[10], r[11], r[12], r[13], r[14])


def _fetch(conn: psycopg.Connection, publication_id: int) -> Publication:
    return _row(conn.execute(_SELECT + " where publication_id = %s", (publication_id,)).fetchone())


def _is_v2(conn: psycopg.Connection) -> bool:
    return conn.execute("select 1 from information_schema.columns where table_schema = %s and "
                        "table_name = 'publications' and column_name = 'tables_dropped_at'",
                        (PUBLISHED_SCHEMA,)).fetchone() is not None


def list_publications(conn: psycopg.Connection) -> list[Publication]:
    """Every publication, newest first (read only; [] before the first one)."""
    if conn.execute("select to_regclass('kpi.publications')").fetchone()[0] is None:
        return []
    if not _is_v2(conn):
        raise PublishError("kpi.publications is still version 1: the next publish (or rollback) migrates it")
    return [_row(r) for r in conn.execute(_SELECT + " order by publication_id desc")]


def current_publication(conn: psycopg.Connection) -> Publication | None:
    if conn.execute("select to_regclass('kpi.publications')").fetchone()[0] is None or not _is_v2(conn):
        return None
    row = conn.execute(_SELECT + " where is_current").fetchone()
    return _row(row) if row else None


def kpi_checksums(conn: psycopg.Connection) -> dict[str, str]:
    """An order-independent md5 per view in ``kpi``, over every column but ``BUILD_SPECIFIC_COLUMNS``.

    Two publications of the same data give equal checksums; a rollback restores them exactly.
    """
    out = {}
    for view in _published_views(conn):
        cols = [c for c, _ in _columns(conn, PUBLISHED_SCHEMA, view) if c not in BUILD_SPECIFIC_COLUMNS]
        row_expr = sql.SQL("row({})::text").format(sql.SQL(", ").join(sql.Identifier(c) for c in cols)) \
            if cols else sql.SQL("''")
        out[view] = conn.execute(sql.SQL(
            "select md5(coalesce(string_agg(h, ',' order by h), '')) from "
            "(select md5({}) as h from {}.{}) s").format(
                row_expr, sql.Identifier(PUBLISHED_SCHEMA), sql.Identifier(view))).fetchone()[0]
    return out
