"""DDL of the raw schema and the list of feeds the pipeline lands.

Every feed lands into ``raw.<system>__<feed>`` with the same columns: the batch, the source day,
the line number in the delivered file (or position in the API answer), the record's key and
NgayCapNhat as delivered, the landing time, and the (pseudonymised) JSON payload. Nothing is updated
or deleted here: every delivery of a day is a new batch, kept with its status forever. Which batch
of a (system, feed, source day) is *in force* is the batch ledger's decision (``cchc.ledger``),
recorded in ``raw.load_batches.disposition``; the build reads the per-feed current state that the
ledger merges from the batches in force (``state.<system>__<feed>``).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg


@dataclass(frozen=True)
class Feed:
    system: str  # onestop | edoc | reference
    name: str  # dossiers | steps | documents | units | procedures
    key_fields: tuple[str, ...]  # fields that identify a record
    whole: bool = False  # reference lists are delivered whole every day

    @property
    def table(self) -> str:
        return f"{self.system}__{self.name}"

    @property
    def file_name(self) -> str:
        return f"{self.name}.jsonl.gz"


FEEDS: tuple[Feed, ...] = (
    Feed("reference", "units", ("UnitId",), whole=True),
    Feed("reference", "procedures", ("MaTTHC",), whole=True),
    Feed("onestop", "dossiers", ("MaHoSo",)),
    Feed("onestop", "steps", ("MaHoSo", "BuocXuLy")),
    Feed("edoc", "documents", ("DocumentId",)),
)


def raw_table(feed: Feed) -> str:
    return f"raw.{feed.table}"


DDL = """
create schema if not exists raw;

create table if not exists raw.load_batches (
    batch_id        bigint generated always as identity primary key,
    system          text not null,
    feed            text not null,
    source_day      date not null,
    delivery        text not null check (delivery in ('file', 'api')),
    source_uri      text not null,
    content_sha256  text,
    lines_read      integer not null default 0,
    rows_landed     integer not null default 0,
    rows_rejected   integer not null default 0,
    status          text not null check (status in ('landed', 'refused')),
    message         text,
    run_id          text,
    started_at      timestamptz not null default now(),
    finished_at     timestamptz
);
create index if not exists load_batches_feed_day on raw.load_batches (system, feed, source_day);

-- The batch ledger (cchc.ledger): what became of each delivery, and why.
alter table raw.load_batches add column if not exists generated_at timestamptz;  -- manifest / X-Generated-At
alter table raw.load_batches add column if not exists keys_delivered integer;     -- distinct record keys
alter table raw.load_batches add column if not exists disposition text;
alter table raw.load_batches add column if not exists disposition_reason text;
alter table raw.load_batches add column if not exists decided_at timestamptz;
alter table raw.load_batches add column if not exists superseded_by bigint;
alter table raw.load_batches add column if not exists gate_verdict text;          -- passed | failed
alter table raw.load_batches add column if not exists gate_run_id text;
alter table raw.load_batches add column if not exists gate_checked_at timestamptz;
alter table raw.load_batches add column if not exists gate_failures text;
alter table raw.load_batches add column if not exists merged_at timestamptz;      -- merged into state.*
do $$ begin
    alter table raw.load_batches add constraint load_batches_disposition check (disposition in (
        'pending', 'in_force', 'superseded', 'blocked', 'held', 'stale', 'rejected', 'refused'));
exception when duplicate_object then null; end $$;
do $$ begin
    alter table raw.load_batches add constraint load_batches_gate_verdict
        check (gate_verdict in ('passed', 'failed'));
exception when duplicate_object then null; end $$;
-- at most one version in force, and one awaiting its gate, per (system, feed, day)
create unique index if not exists load_batches_one_in_force on raw.load_batches (system, feed, source_day)
    where disposition = 'in_force';
create unique index if not exists load_batches_one_pending on raw.load_batches (system, feed, source_day)
    where disposition = 'pending';
create index if not exists load_batches_disposition on raw.load_batches (disposition, system, feed);

create table if not exists raw.batch_reviews (
    review_id       bigint generated always as identity primary key,
    batch_id        bigint not null references raw.load_batches (batch_id),
    action          text not null check (action in ('accept', 'reject')),
    disposition_before text not null,
    disposition_after  text not null,
    reason          text not null check (length(trim(reason)) > 0),
    reviewed_by     text not null,
    reviewed_at     timestamptz not null default now()
);

create table if not exists raw.rejects (
    reject_id       bigint generated always as identity primary key,
    batch_id        bigint not null references raw.load_batches (batch_id),
    system          text not null,
    feed            text not null,
    source_day      date not null,
    line_no         integer,
    record_key      text,
    reason_code     text not null,
    reason          text not null,
    payload         jsonb,          -- the record as parsed (personal data pseudonymised)
    raw_text        text,           -- the line as delivered when it could not be parsed (scrubbed)
    rejected_at     timestamptz not null default now()
);
create index if not exists rejects_batch on raw.rejects (batch_id);
"""

FEED_TABLE_DDL = """
create table if not exists raw.{table} (
    batch_id        bigint not null references raw.load_batches (batch_id),
    source_day      date not null,
    line_no         integer not null,
    record_key      text not null,
    updated_at_src  text,           -- NgayCapNhat as delivered (yyyyMMddHHmmss)
    loaded_at       timestamptz not null default now(),
    payload         jsonb not null  -- the record, personal data pseudonymised
);
create index if not exists {table}_batch on raw.{table} (batch_id);
create index if not exists {table}_key on raw.{table} (record_key);
"""


def ensure_raw_schema(conn: psycopg.Connection) -> None:
    """Create the raw schema and tables when missing (idempotent)."""
    conn.execute("select pg_advisory_xact_lock(hashtext('cchc.raw.ddl'))")
    conn.execute(DDL)
    for feed in FEEDS:
        conn.execute(FEED_TABLE_DDL.format(table=feed.table))
