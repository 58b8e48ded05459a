"""The current state of each feed: the latest version of every record from the batches in force.

``state.<system>__<feed>`` holds one row per record key: its version from the latest source day
(ties: greatest batch, then greatest line) among the batches in force with a source day up to the
state's ``as_of_date``. Reference lists (delivered whole) hold the list of the latest such day. dbt's
staging models read these tables (macro ``latest_source_records``), so a night's build costs what the
night changed, not the whole raw history.

:func:`refresh_state` merges incrementally: only the keys delivered by batches that came into force
since the last merge, and the keys whose current row came from a batch no longer in force (a
corrected day), are recomputed, each from every batch in force — the same query as a full rebuild,
restricted to those keys, so both give the same table (tests/test_ledger_state.py). A full rebuild
(``full=True``, or an ``as_of_date`` earlier than the state's) recomputes everything.

Every row carries the ``merge_id`` of the merge that last wrote it (``state.merges``), and keys a
merge removed are logged in ``state.removed_keys``, so incremental models downstream can read
just what changed since their own last build.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field

import psycopg

from cchc.constants import STATE_SCHEMA
from cchc.ledger.batches import adopt_unrecorded
from cchc.raw.schema import FEEDS, Feed, ensure_raw_schema, raw_table

log = logging.getLogger(__name__)


STATE_DDL = f"""
create schema if not exists {STATE_SCHEMA};
create table if not exists {STATE_SCHEMA}.merges (
    table_name   text not null,
    as_of_date   date not null,
    mode         text not null check (mode in ('incremental', 'full')),
    batches      integer not null,
    keys_changed bigint not null,
    rows_now     bigint not null,
    seconds      numeric not null,
    merged_at    timestamptz not null default now()
);
create index if not exists merges_table on {STATE_SCHEMA}.merges (table_name, merged_at desc);
alter table {STATE_SCHEMA}.merges add column if not exists merge_id bigint generated always as identity;
-- keys a merge took out of a state table (a corrected day that no longer carries a record that
-- no other day in force has): incremental models downstream delete them too
create table if not exists {STATE_SCHEMA}.removed_keys (
    table_name   text not null,
    record_key   text not null,
    merge_id     bigint not null
);
create index if not exists removed_keys_merge on {STATE_SCHEMA}.removed_keys (table_name, merge_id);
"""

STATE_TABLE_DDL = """
create table if not exists {schema}.{table} (
    record_key      text primary key,
    batch_id        bigint not null,
    source_day      date not null,
    line_no         integer not null,
    updated_at_src  text,
    loaded_at       timestamptz not null,
    payload         jsonb not null
);
create index if not exists {table}_batch on {schema}.{table} (batch_id);
-- the merge that last wrote the row: models downstream read the rows of merges after their own
alter table {schema}.{table} add column if not exists merge_id bigint not null default 0;
create index if not exists {table}_merge on {schema}.{table} (merge_id);
"""

COLUMNS = "record_key, batch_id, source_day, line_no, updated_at_src, loaded_at, payload, merge_id"


def state_table(feed: Feed) -> str:
    return f"{STATE_SCHEMA}.{feed.table}"


def ensure_state_schema(conn: psycopg.Connection) -> None:
    conn.execute("select pg_advisory_xact_lock(hashtext('cchc.state.ddl'))")
    conn.execute(STATE_DDL)
    for feed in FEEDS:
        conn.execute(STATE_TABLE_DDL.format(schema=STATE_SCHEMA, table=feed.table))


@dataclass
class MergeStats:
    as_of_date: dt.date
    tables: dict[str, dict] = field(default_factory=dict)  # table -> {mode, batches, keys, rows, seconds}

    @property
    def any_full(self) -> bool:
        """Whether a feed that is not a whole list was recomputed from scratch."""
        return any(t["mode"] == "full" for name, t in self.tables.items() if not name.startswith("reference__"))

    @property
    def keys_changed(self) -> int:
        return sum(t["keys"] for t in self.tables.values())

    def summary(self) -> str:
        return ", ".join(f"{name} {t['mode']} {t['keys']} keys/{t['rows']} rows" for name, t in self.tables.items())


def refresh_state(conn: psycopg.Connection, as_of_date: dt.date, *, full: bool = False) -> MergeStats:
    """Bring every ``state.*`` table to ``as_of_date`` (one transaction; commits)."""
    stats = MergeStats(as_of_date)
    with conn.transaction():
        ensure_raw_schema(conn)
        ensure_state_schema(conn)
        conn.execute("select pg_advisory_xact_lock(hashtext('cchc.state.merge'))")
        adopt_unrecorded(conn)
        for feed in FEEDS:
            t0 = time.monotonic()
            previous = conn.execute(
                f"select as_of_date from {STATE_SCHEMA}.merges where table_name = %s "
                "order by merged_at desc limit 1", (feed.table,)).fetchone()
            mode = "full" if full or previous is None or as_of_date < previous[0] or feed.whole \
                else "incremental"
            merge_id = conn.execute(
                f"insert into {STATE_SCHEMA}.merges (table_name, as_of_date, mode, batches, keys_changed, "
                "rows_now, seconds) values (%s, %s, %s, 0, 0, 0, 0) returning merge_id",
                (feed.table, as_of_date, mode)).fetchone()[0]
            if feed.whole:
                batches, keys = _refresh_whole(conn, feed, as_of_date, merge_id)
            elif mode == "full":
                batches, keys = _rebuild(conn, feed, as_of_date, merge_id)
            else:
                batches, keys = _merge(conn, feed, as_of_date, merge_id)
            rows = conn.execute(f"select count(*) from {state_table(feed)}").fetchone()[0]
            seconds = round(time.monotonic() - t0, 3)
            conn.execute(f"update {STATE_SCHEMA}.merges set batches = %s, keys_changed = %s, rows_now = %s, "
                         "seconds = %s where merge_id = %s", (batches, keys, rows, seconds, merge_id))
            stats.tables[feed.table] = {"mode": mode, "batches": batches, "keys": keys, "rows": rows,
                                        "seconds": seconds, "merge_id": merge_id}
        for feed in FEEDS:
            conn.execute(f"analyze {state_table(feed)}")
    log.info("state as of %s: %s", as_of_date, stats.summary())
    return stats


def _in_force_upto(feed: Feed) -> str:
    return (f"select batch_id, source_day from raw.load_batches where system = '{feed.system}' "
            f"and feed = '{feed.name}' and disposition = 'in_force' and source_day <= %(as_of)s")


def _best_versions(feed: Feed, key_filter: str = "") -> str:
    """The latest version of each key among the batches in force up to %(as_of)s (stamped with
    %(merge_id)s)."""
    return f"""
        select distinct on (r.record_key)
               r.record_key, r.batch_id, b.source_day, r.line_no, r.updated_at_src, r.loaded_at, r.payload,
               %(merge_id)s
        from {raw_table(feed)} r
        join ({_in_force_upto(feed)}) b on b.batch_id = r.batch_id
        {key_filter}
        order by r.record_key, b.source_day desc, r.batch_id desc, r.line_no desc
    """


def _mark_merged(conn, feed: Feed, as_of_date: dt.date) -> int:
    return conn.execute(
        "update raw.load_batches set merged_at = now() where system = %s and feed = %s "
        "and disposition = 'in_force' and source_day <= %s and merged_at is null",
        (feed.system, feed.name, as_of_date)).rowcount


def _rebuild(conn, feed: Feed, as_of_date: dt.date, merge_id: int) -> tuple[int, int]:
    conn.execute(f"truncate {state_table(feed)}")
    keys = conn.execute(f"insert into {state_table(feed)} ({COLUMNS}) {_best_versions(feed)}",
                        {"as_of": as_of_date, "merge_id": merge_id}).rowcount
    conn.execute("update raw.load_batches set merged_at = null where system = %s and feed = %s "
                 "and source_day > %s", (feed.system, feed.name, as_of_date))
    return _mark_merged(conn, feed, as_of_date), keys


def _merge(conn, feed: Feed, as_of_date: dt.date, merge_id: int) -> tuple[int, int]:
    table = state_table(feed)
    conn.execute("create temporary table if not exists changed_keys (record_key text primary key) "
                 "on commit drop")
    conn.execute("truncate changed_keys")
    # keys delivered by batches that came into force since the last merge ...
    conn.execute(f"""
        insert into changed_keys
        select distinct r.record_key from {raw_table(feed)} r
        join raw.load_batches b on b.batch_id = r.batch_id
        where b.system = %(system)s and b.feed = %(feed)s and b.disposition = 'in_force'
          and b.source_day <= %(as_of)s and b.merged_at is null
        on conflict do nothing""", {"system": feed.system, "feed": feed.name, "as_of": as_of_date})
    # ... and keys whose current row came from a batch that is no longer in force
    conn.execute(f"""
        insert into changed_keys
        select s.record_key from {table} s
        join raw.load_batches b on b.batch_id = s.batch_id
        where b.disposition <> 'in_force'
        on conflict do nothing""")
    keys = conn.execute("select count(*) from changed_keys").fetchone()[0]
    if keys:
        conn.execute("analyze changed_keys")
        conn.execute(f"delete from {table} s using changed_keys k where s.record_key = k.record_key")
        conn.execute(f"insert into {table} ({COLUMNS}) "
                     + _best_versions(feed, "where r.record_key in (select record_key from changed_keys)"),
                     {"as_of": as_of_date, "merge_id": merge_id})
        conn.execute(f"insert into {STATE_SCHEMA}.removed_keys (table_name, record_key, merge_id) "
                     f"select %s, k.record_key, %s from changed_keys k "
                     f"where not exists (select 1 from {table} s where s.record_key = k.record_key)",
                     (feed.table, merge_id))
    return _mark_merged(conn, feed, as_of_date), keys


def _refresh_whole(conn, feed: Feed, as_of_date: dt.date, merge_id: int) -> tuple[int, int]:
    """A whole list: the rows of the latest day in force up to as_of_date (greatest line per key)."""
    table = state_table(feed)
    conn.execute(f"truncate {table}")
    keys = conn.execute(f"""
        insert into {table} ({COLUMNS})
        select distinct on (r.record_key)
               r.record_key, r.batch_id, r.source_day, r.line_no, r.updated_at_src, r.loaded_at, r.payload,
               %(merge_id)s
        from {raw_table(feed)} r
        where r.batch_id = (select batch_id from ({_in_force_upto(feed)}) b
                            order by source_day desc limit 1)
        order by r.record_key, r.line_no desc""", {"as_of": as_of_date, "merge_id": merge_id}).rowcount
    return _mark_merged(conn, feed, as_of_date), keys
