"""Write-Audit-Publish: the consumers' schema ``kpi`` and the atomic publication step.

dbt builds the publication candidates into the hidden schema ``kpi_build``; the quality gate audits
them there; only then :func:`publish` moves every candidate table into ``kpi`` and records the
publication, in ONE transaction. A failed gate never calls it, so ``kpi`` stays exactly as the
previous publication left it. Readers see either the old or the new set of tables, never a mix.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

BUILD_SCHEMA = "kpi_build"
PUBLISHED_SCHEMA = "kpi"
READER_ROLE = "cchc_reader"

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


@dataclass(frozen=True)
class Publication:
    publication_id: int
    as_of_date: dt.date
    rows_published: int
    tables: tuple[str, ...]


def ensure_kpi_schema(conn: psycopg.Connection) -> None:
    conn.execute("select pg_advisory_xact_lock(hashtext('cchc.kpi.ddl'))")
    conn.execute(KPI_DDL)
    exists = conn.execute("select 1 from pg_roles where rolname = %s", (READER_ROLE,)).fetchone()
    if not exists:
        try:
            conn.execute(sql.SQL("create role {} nologin").format(sql.Identifier(READER_ROLE)))
        except psycopg.errors.DuplicateObject:  # created concurrently by another database's run
            pass
    conn.execute(sql.SQL("grant usage on schema {} to {}").format(
        sql.Identifier(PUBLISHED_SCHEMA), sql.Identifier(READER_ROLE)))
    conn.execute(sql.SQL("grant select on all tables in schema {} to {}").format(
        sql.Identifier(PUBLISHED_SCHEMA), sql.Identifier(READER_ROLE)))


def next_publication_id(conn: psycopg.Connection) -> int:
    """Reserve the id the candidates are built with (a failed run leaves a gap: that is fine)."""
    ensure_kpi_schema(conn)
    return conn.execute(f"select nextval('{PUBLISHED_SCHEMA}.publication_id_seq')").fetchone()[0]


def candidate_tables(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute(
        "select table_name from information_schema.tables where table_schema = %s "
        "and table_type = 'BASE TABLE' order by table_name", (BUILD_SCHEMA,)).fetchall()
    return [r[0] for r in rows]


def publish(conn: psycopg.Connection, *, publication_id: int, as_of_date: dt.date, run_id: str,
            checks_evaluated: int, checks_failed: int, validation_report: str | None) -> Publication:
    """Move the audited candidates into ``kpi`` and record the publication, atomically."""
    if checks_failed:
        raise ValueError("refusing to publish: the quality gate reported failed checks")
    with conn.transaction():
        ensure_kpi_schema(conn)
        conn.execute("lock table kpi.publications in exclusive mode")
        tables = candidate_tables(conn)
        if not tables:
            raise RuntimeError(f"nothing to publish: schema {BUILD_SCHEMA} has no tables")
        stale = [t for t in tables if conn.execute(
            sql.SQL("select count(*) from {}.{} where publication_id is distinct from %s").format(
                sql.Identifier(BUILD_SCHEMA), sql.Identifier(t)), (publication_id,)).fetchone()[0]]
        if stale:
            raise RuntimeError(
                f"candidate tables {stale} were not built for publication {publication_id}; "
                "rebuild before publishing")
        rows = 0
        for t in tables:
            rows += conn.execute(sql.SQL("select count(*) from {}.{}").format(
                sql.Identifier(BUILD_SCHEMA), sql.Identifier(t))).fetchone()[0]
            conn.execute(sql.SQL("drop table if exists {}.{} cascade").format(
                sql.Identifier(PUBLISHED_SCHEMA), sql.Identifier(t)))
            conn.execute(sql.SQL("alter table {}.{} set schema {}").format(
                sql.Identifier(BUILD_SCHEMA), sql.Identifier(t), sql.Identifier(PUBLISHED_SCHEMA)))
            conn.execute(sql.SQL("grant select on {}.{} to {}").format(
                sql.Identifier(PUBLISHED_SCHEMA), sql.Identifier(t), sql.Identifier(READER_ROLE)))
        conn.execute(
            "insert into kpi.publications (publication_id, as_of_date, run_id, rows_published, "
            "checks_evaluated, checks_failed, validation_report, tables_published) "
            "values (%s, %s, %s, %s, %s, %s, %s, %s)",
            (publication_id, as_of_date, run_id, rows, checks_evaluated, checks_failed,
             validation_report, tables))
    log.info("published %s: %d tables, %d rows, as of %s", publication_id, len(tables), rows, as_of_date)
    return Publication(publication_id, as_of_date, rows, tuple(tables))
