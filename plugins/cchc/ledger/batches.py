"""The batch ledger in the warehouse: dispositions of ``raw.load_batches``, gate verdicts, reviews.

Every delivery is a row of ``raw.load_batches`` and stays there; this module moves its
``disposition`` (see :data:`cchc.ledger.rules.DISPOSITIONS`) and nothing else. The rules that decide
a new delivery's disposition are in :mod:`cchc.ledger.rules`.

Functions take an open psycopg connection and do not commit, except where they say so: callers
group them in their own transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import psycopg

from cchc.ledger.rules import ACCEPT_TO, REJECTABLE, Decision, Version, decide
from cchc.raw.schema import Feed, raw_table

log = logging.getLogger(__name__)


class LedgerError(RuntimeError):
    """An operator's request the ledger cannot carry out; the message says why."""


def lock_day(conn: psycopg.Connection, system: str, feed: str, day: dt.date) -> None:
    """Serialise every ledger change of one (system, feed, day) (transaction-level lock)."""
    conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"cchc.land:{system}/{feed}/{day}",))


def adopt_unrecorded(conn: psycopg.Connection) -> int:
    """Give a disposition to batches written without one (warehouses of the first version, tests
    that insert batches by hand): per (system, feed, day) the latest landed batch is in force,
    earlier landed ones superseded, refused ones refused. Returns the number of batches adopted."""
    conn.execute("select pg_advisory_xact_lock(hashtext('cchc.ledger.adopt'))")
    n = conn.execute("""
        with unrecorded_days as (
            select distinct system, feed, source_day from raw.load_batches where disposition is null
        ),
        ranked as (
            select b.batch_id, b.status, b.disposition,
                   row_number() over (partition by b.system, b.feed, b.source_day
                                      order by b.batch_id desc) as newest
            from raw.load_batches b
            join unrecorded_days d using (system, feed, source_day)
            where b.status = 'landed' and (b.disposition is null or b.disposition = 'in_force')
        )
        update raw.load_batches b
        set disposition = case when r.newest = 1 then 'in_force' else 'superseded' end,
            disposition_reason = case when r.newest = 1 then 'latest landed batch of its day (adopted)'
                                      else 'an earlier landed batch of its day (adopted)' end,
            decided_at = now()
        from ranked r
        where r.batch_id = b.batch_id
          and (b.disposition is null or (b.disposition = 'in_force' and r.newest > 1))
    """).rowcount
    n += conn.execute("""
        update raw.load_batches set disposition = 'refused', disposition_reason = message, decided_at = now()
        where disposition is null and status = 'refused'
    """).rowcount
    if n:
        log.info("ledger: adopted %d batches that had no disposition", n)
    return n


def reference_version(conn: psycopg.Connection, feed: Feed, day: dt.date) -> Version | None:
    """The version a new delivery of (feed, day) is compared with: the one awaiting its gate, else
    the one in force."""
    row = conn.execute(
        "select batch_id, disposition, generated_at, keys_delivered from raw.load_batches "
        "where system = %s and feed = %s and source_day = %s and disposition in ('pending', 'in_force') "
        "order by (disposition = 'pending') desc limit 1", (feed.system, feed.name, day)).fetchone()
    if row is None:
        return None
    batch_id, disposition, generated_at, keys = row
    if keys is None:
        keys = len(batch_keys(conn, feed, batch_id))
    return Version(batch_id, disposition, generated_at, keys)


def batch_keys(conn: psycopg.Connection, feed: Feed, batch_id: int) -> set[str]:
    """Distinct record keys a batch delivered: its landed rows and its rejects that had a key."""
    rows = conn.execute(
        f"select record_key from {raw_table(feed)} where batch_id = %s union "
        "select record_key from raw.rejects where batch_id = %s and record_key is not null",
        (batch_id, batch_id)).fetchall()
    return {r[0] for r in rows}


def same_content(conn: psycopg.Connection, feed: Feed, day: dt.date, content_sha256: str) -> tuple[int, str] | None:
    """(batch_id, disposition) of a landed batch of (feed, day) with exactly this content."""
    return conn.execute(
        "select batch_id, disposition from raw.load_batches where system = %s and feed = %s "
        "and source_day = %s and status = 'landed' and content_sha256 = %s order by batch_id desc limit 1",
        (feed.system, feed.name, day, content_sha256)).fetchone()


def decide_delivery(conn: psycopg.Connection, feed: Feed, day: dt.date, *, generated_at: dt.datetime | None,
                    keys: set[str], max_dropped_share: float) -> Decision:
    """The disposition a new delivery of (feed, day) gets (call under :func:`lock_day`)."""
    reference = reference_version(conn, feed, day)
    dropped = 0
    if reference is not None and reference.keys:
        dropped = len(batch_keys(conn, feed, reference.batch_id) - keys)
    return decide(generated_at=generated_at, keys=len(keys), dropped_keys=dropped, reference=reference,
                  max_dropped_share=max_dropped_share)


def decide_landed(conn: psycopg.Connection, feed: Feed, day: dt.date, batch_id: int, *,
                  generated_at: dt.datetime | None, max_dropped_share: float) -> tuple[Decision, int]:
    """:func:`decide_delivery` for a batch whose rows and rejects are already written (not yet given
    a disposition): the keys are counted in the warehouse (those :func:`batch_keys` returns), never
    held in memory. Returns the decision and the number of distinct keys delivered."""
    reference = reference_version(conn, feed, day)
    keys_sql = (f"select record_key from {raw_table(feed)} where batch_id = %s union "
                "select record_key from raw.rejects where batch_id = %s and record_key is not null")
    keys = conn.execute(f"select count(*) from ({keys_sql}) k", (batch_id, batch_id)).fetchone()[0]
    dropped = 0
    if reference is not None and reference.keys:
        dropped = conn.execute(f"select count(*) from ({keys_sql} except ({keys_sql})) d",
                               (reference.batch_id, reference.batch_id, batch_id, batch_id)).fetchone()[0]
    return decide(generated_at=generated_at, keys=keys, dropped_keys=dropped, reference=reference,
                  max_dropped_share=max_dropped_share), keys


def supersede_pending(conn: psycopg.Connection, feed: Feed, day: dt.date, by_batch: int) -> None:
    """A newer delivery replaces the one still awaiting its gate."""
    conn.execute(
        "update raw.load_batches set disposition = 'superseded', superseded_by = %s, decided_at = now(), "
        "disposition_reason = 'replaced by batch ' || %s || ' before its gate ran' "
        "where system = %s and feed = %s and source_day = %s and disposition = 'pending' and batch_id <> %s",
        (by_batch, by_batch, feed.system, feed.name, day, by_batch))


@dataclass(frozen=True)
class PendingBatch:
    batch_id: int
    system: str
    feed: str
    source_day: dt.date


def pending_batches(conn: psycopg.Connection) -> list[PendingBatch]:
    """Every batch awaiting its gate, whichever run landed it."""
    rows = conn.execute(
        "select batch_id, system, feed, source_day from raw.load_batches where disposition = 'pending' "
        "order by source_day, batch_id").fetchall()
    return [PendingBatch(*r) for r in rows]


def bring_into_force(conn: psycopg.Connection, batch_id: int, reason: str) -> int | None:
    """Make ``batch_id`` the version in force of its day (the previous one becomes superseded).
    Returns the superseded batch id, if any."""
    system, feed, day = conn.execute(
        "select system, feed, source_day from raw.load_batches where batch_id = %s", (batch_id,)).fetchone()
    lock_day(conn, system, feed, day)
    previous = conn.execute(
        "update raw.load_batches set disposition = 'superseded', superseded_by = %s, decided_at = now(), "
        "disposition_reason = 'replaced by batch ' || %s "
        "where system = %s and feed = %s and source_day = %s and disposition = 'in_force' and batch_id <> %s "
        "returning batch_id", (batch_id, batch_id, system, feed, day, batch_id)).fetchone()
    conn.execute(
        "update raw.load_batches set disposition = 'in_force', disposition_reason = %s, decided_at = now(), "
        "merged_at = null where batch_id = %s", (reason, batch_id))
    return previous[0] if previous else None


def record_gate(conn: psycopg.Connection, run_id: str, *, passed: list[int], failed: dict[int, str]) -> None:
    """Store the batch gate's verdicts: passed batches come into force, failed ones are blocked
    (the version in force, if any, stays in force)."""
    for batch_id, failures in failed.items():
        conn.execute(
            "update raw.load_batches set gate_verdict = 'failed', gate_run_id = %s, gate_checked_at = now(), "
            "gate_failures = %s, disposition = 'blocked', decided_at = now(), "
            "disposition_reason = 'failed the batch gate; the version in force (if any) stays in force' "
            "where batch_id = %s and disposition = 'pending'", (run_id, failures, batch_id))
    for batch_id in passed:
        conn.execute(
            "update raw.load_batches set gate_verdict = 'passed', gate_run_id = %s, gate_checked_at = now(), "
            "gate_failures = null where batch_id = %s", (run_id, batch_id))
        bring_into_force(conn, batch_id, f"passed the batch gate in run {run_id}")


def review(conn: psycopg.Connection, batch_id: int, *, action: str, by: str, reason: str) -> str:
    """An operator accepts or rejects a batch; recorded in ``raw.batch_reviews``. Returns the new
    disposition. Commits."""
    if not reason or not reason.strip():
        raise LedgerError("a reason is required (--reason '...'): it is kept with the decision")
    with conn.transaction():
        row = conn.execute("select system, feed, source_day, disposition from raw.load_batches "
                           "where batch_id = %s for update", (batch_id,)).fetchone()
        if row is None:
            raise LedgerError(f"no batch {batch_id} in raw.load_batches")
        system, feed, day, before = row
        lock_day(conn, system, feed, day)
        if action == "accept":
            after = ACCEPT_TO.get(before)
            if after is None:
                raise LedgerError(f"batch {batch_id} is {before}: only held, stale or blocked batches can be "
                                  "accepted")
            if after == "pending":
                supersede_pending(conn, _feed(system, feed), day, batch_id)
                conn.execute("update raw.load_batches set disposition = 'pending', decided_at = now(), "
                             "disposition_reason = %s where batch_id = %s",
                             (f"accepted by {by}: {reason}; goes through the batch gate at the next run",
                              batch_id))
            else:
                bring_into_force(conn, batch_id, f"accepted by {by} over the gate's verdict: {reason}")
        elif action == "reject":
            if before not in REJECTABLE:
                raise LedgerError(f"batch {batch_id} is {before}: only {', '.join(sorted(REJECTABLE))} batches "
                                  "can be rejected (a version in force is replaced by a newer delivery)")
            after = "rejected"
            conn.execute("update raw.load_batches set disposition = 'rejected', decided_at = now(), "
                         "disposition_reason = %s where batch_id = %s", (f"rejected by {by}: {reason}", batch_id))
        else:
            raise LedgerError(f"unknown action {action!r}")
        conn.execute("insert into raw.batch_reviews (batch_id, action, disposition_before, disposition_after, "
                     "reason, reviewed_by) values (%s, %s, %s, %s, %s, %s)",
                     (batch_id, action, before, after, reason.strip(), by))
    log.info("batch %d (%s/%s %s): %s -> %s by %s: %s", batch_id, system, feed, day, before, after, by, reason)
    return after


def _feed(system: str, name: str) -> Feed:
    from cchc.contracts import feed_named

    feed = feed_named(name)
    assert feed.system == system
    return feed


BATCH_COLUMNS = ("batch_id", "system", "feed", "source_day", "disposition", "generated_at", "lines_read",
                 "rows_landed", "rows_rejected", "keys_delivered", "gate_verdict", "disposition_reason",
                 "run_id", "finished_at")


def list_batches(conn: psycopg.Connection, *, system: str | None = None, feed: str | None = None,
                 day: dt.date | None = None, dispositions: list[str] | None = None,
                 limit: int = 200) -> list[dict]:
    """Batches, newest day first, with their disposition and why (for ``cchc batches``)."""
    where, params = [], []
    for column, value in (("system", system), ("feed", feed), ("source_day", day)):
        if value is not None:
            where.append(f"{column} = %s")
            params.append(value)
    if dispositions:
        where.append("disposition = any(%s)")
        params.append(list(dispositions))
    sql = (f"select {', '.join(BATCH_COLUMNS)} from raw.load_batches "
           f"{'where ' + ' and '.join(where) if where else ''} "
           "order by source_day desc, system, feed, batch_id desc limit %s")
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute(sql, (*params, limit)).fetchall()


def needing_review(conn: psycopg.Connection) -> list[dict]:
    """Held and blocked batches that nobody has decided on yet."""
    return list_batches(conn, dispositions=["held", "blocked"], limit=1000)
