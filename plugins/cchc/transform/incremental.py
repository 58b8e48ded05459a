"""When the incremental dbt models may not be trusted, and the build must be a full refresh.

The record-level models (dbt_project/macros/incremental.sql) recompute only the records the ledger
changed. Their rows also depend on things that are not records: the reference lists (units,
procedures: a renamed field, a unit that became known), the seeds (statuses, channels, the
working-day calendar) and the project's code. Those are fingerprinted here; when the fingerprint
differs from the one of the last successful build, the build is a full refresh (``--full-refresh``),
the honest answer to "which records does a changed unit list affect" at a cost of one full build.

The fingerprint of the last successful build is kept in ``ops.dbt_incremental_fingerprint`` (one
row per warehouse). A failed build does not store it, so the next build is a full refresh again.

The tests of the staging views read only the state rows merged since the last build without errors
(dbt_project/macros/tested_rows.sql): ``ops.dbt_tests_watermark`` keeps the latest merge such a build
had taken in (:func:`save_tests_watermark`); a full refresh clears it first (:func:`clear_tests_watermark`),
so that every row is tested again.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import psycopg

from cchc.paths import DBT_PROJECT_DIR

log = logging.getLogger(__name__)

#: the state tables of the reference lists (delivered whole; rewritten by every merge)
REFERENCE_STATE_TABLES = ("state.reference__units", "state.reference__procedures")
#: the project's folders whose files shape the rows of the models
CODE_FOLDERS = ("models", "macros", "seeds", "tests")
CODE_SUFFIXES = (".sql", ".yml", ".yaml", ".csv")

FINGERPRINT_DDL = """
create schema if not exists ops;
create table if not exists ops.dbt_incremental_fingerprint (
    warehouse     text primary key default 'warehouse' check (warehouse = 'warehouse'),
    fingerprint   text not null,
    written_at    timestamptz not null default now()
);
create table if not exists ops.dbt_tests_watermark (
    scope         text primary key,
    merge_id      bigint not null,
    updated_at    timestamptz not null default now()
);
"""


def files_fingerprint(root: Path, paths: list[Path]) -> str:
    """A hash of files (their paths relative to ``root`` and their bytes)."""
    h = hashlib.sha256()
    for path in paths:
        if path.exists():
            h.update(str(path.relative_to(root)).encode())
            h.update(b"\0")
            h.update(path.read_bytes())
            h.update(b"\0")
    return h.hexdigest()[:16]


def code_fingerprint(project_dir: Path | None = None) -> str:
    """A hash of the dbt project's models, macros, seeds, tests and dbt_project.yml."""
    root = Path(project_dir or DBT_PROJECT_DIR)
    paths = [root / "dbt_project.yml"]
    for folder in CODE_FOLDERS:
        paths += sorted(p for p in (root / folder).rglob("*") if p.is_file() and p.suffix in CODE_SUFFIXES)
    return files_fingerprint(root, paths)


def reference_fingerprint(conn: psycopg.Connection) -> str:
    """A hash of the reference lists in the current state (keys and payloads, in key order)."""
    parts = []
    for table in REFERENCE_STATE_TABLES:
        exists = conn.execute("select to_regclass(%s) is not null", (table,)).fetchone()[0]
        digest = conn.execute(
            f"select md5(coalesce(string_agg(record_key || '=' || payload::text, E'\\n' order by record_key), ''))"
            f" from {table}").fetchone()[0] if exists else "absent"
        parts.append(f"{table}:{digest}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def build_fingerprint(conn: psycopg.Connection, project_dir: Path | None = None) -> str:
    """What the incremental rows depend on besides the records: reference state and code."""
    return f"ref:{reference_fingerprint(conn)}/code:{code_fingerprint(project_dir)}"


def stored_fingerprint(conn: psycopg.Connection) -> str | None:
    """The fingerprint of the last successful build, None when there is none."""
    if conn.execute("select to_regclass('ops.dbt_incremental_fingerprint') is null").fetchone()[0]:
        return None
    row = conn.execute("select fingerprint from ops.dbt_incremental_fingerprint").fetchone()
    return row[0] if row else None


def full_refresh_reason(conn: psycopg.Connection, fingerprint: str) -> str | None:
    """Why the incremental models must be rebuilt in full (None: they may be built incrementally)."""
    stored = stored_fingerprint(conn)
    if stored is None:
        return "no successful build recorded yet"
    if stored == fingerprint:
        return None
    old_ref, _, old_code = stored.partition("/")
    new_ref, _, new_code = fingerprint.partition("/")
    changed = [what for what, a, b in (("the reference lists (units, procedures)", old_ref, new_ref),
                                       ("the dbt project (models, macros, seeds, tests)", old_code, new_code))
               if a != b]
    return " and ".join(changed) + " changed since the last successful build"


def save_fingerprint(conn: psycopg.Connection, fingerprint: str) -> None:
    """Record the fingerprint of a successful build (commits)."""
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext('cchc.ops.dbt_incremental_fingerprint'))")
        conn.execute(FINGERPRINT_DDL)
        conn.execute("insert into ops.dbt_incremental_fingerprint (fingerprint) values (%s) "
                     "on conflict (warehouse) do update set fingerprint = excluded.fingerprint, written_at = now()",
                     (fingerprint,))


def latest_merge(conn: psycopg.Connection) -> int:
    """The latest ledger merge into the state (state.merges), -1 when there is none."""
    if conn.execute("select to_regclass('state.merges') is null").fetchone()[0]:
        return -1
    return conn.execute("select coalesce(max(merge_id), -1) from state.merges").fetchone()[0]


def clear_tests_watermark(conn: psycopg.Connection) -> None:
    """Before a full refresh: the staging tests read every row again (commits)."""
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext('cchc.ops.dbt_incremental_fingerprint'))")
        conn.execute(FINGERPRINT_DDL)
        conn.execute("delete from ops.dbt_tests_watermark where scope = 'staging'")


def save_tests_watermark(conn: psycopg.Connection, merge_id: int) -> None:
    """After a build without errors: its tests covered every state row up to ``merge_id`` (commits)."""
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext('cchc.ops.dbt_incremental_fingerprint'))")
        conn.execute(FINGERPRINT_DDL)
        conn.execute("insert into ops.dbt_tests_watermark (scope, merge_id) values ('staging', %s) "
                     "on conflict (scope) do update set merge_id = excluded.merge_id, updated_at = now()",
                     (merge_id,))
