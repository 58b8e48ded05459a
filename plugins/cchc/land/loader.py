"""Land one source day: fetch each feed, validate, pseudonymise, COPY into ``raw``, one transaction per feed.

Order: reference lists first (their keys check the units and procedures named by the other feeds),
then the one-stop feeds, then e-documents. For each (feed, day):

- a refused delivery (incomplete day, count or checksum mismatch, missing file) writes a
  ``raw.load_batches`` row with status ``refused`` and the reason, and nothing else; the other feeds
  still land, and ``land_day`` raises :class:`DeliveryRefused` at the end listing every refusal;
- a delivery whose ``content_sha256`` equals that of a batch already landed for the same
  (system, feed, day) writes nothing ("unchanged"): landing a day twice changes nothing, and a
  blocked or held batch stays what it was;
- otherwise, in one transaction: the batch row with the ledger's decision (``cchc.ledger.rules``:
  ``pending`` for the gate, ``held`` for an operator, or ``stale``), the rows via COPY, the rejects
  via COPY, commit. Batches are append-only; which one is in force is the ledger's business.

A feed that needs a reference list (units, procedures) is refused when no list was ever landed on or
before its day, so that its rows are checked when the list arrives and the day is rerun.

A feed added to the contract later (``Feed.added_later``: feedback, ratings, targets) that the
source does not carry for the day (:class:`~cchc.extract.base.FeedAbsent`: not in the export's
manifest nor folder, no day folder or manifest, API 404) is *not delivered*, not refused, as long as
the ledger does not require it on that day (:func:`cchc.ledger.completeness.feed_required`: it has
never landed on or before the day): no batch row, a log line, and the day is complete without it.
From the first day it landed on, its absence is a refusal like any other feed's. (In a parallel
backfill, whether such an absence on day D is recorded as a refusal can depend on whether an earlier
day's batch of the feed has landed yet; what the publication claims cannot: completeness applies the
same rule to the final ledger, and D is missing either way.)
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

import psycopg

from cchc.contracts import contract_for, feed_named
from cchc.extract.base import Delivery, DeliveryRefused, FeedAbsent, Refusal, Source, as_day
from cchc.land.pseudonymise import Pseudonymiser
from cchc.ledger.batches import decide_landed, lock_day, same_content, supersede_pending
from cchc.ledger.completeness import feed_required
from cchc.land.chunks import ChunkWriter, KeyWatch, ValidatedChunk, copy_text, reject_line, validated_chunks
from cchc.settings import LandingParallelism, LedgerSettings
from cchc.land.validate import Row, Validator, resolve_duplicates
from cchc.raw.schema import FEEDS, Feed, ensure_partitions, ensure_raw_schema, raw_table
from cchc.warehouse import connect

logger = logging.getLogger(__name__)

SYSTEM_ORDER = ("reference", "onestop", "edoc")


@dataclass
class BatchResult:
    system: str
    feed: str
    day: dt.date
    batch_id: int | None  # the new batch; for "unchanged" the existing one; for "refused" its log row
    status: str  # landed | unchanged | refused
    lines_read: int = 0
    rows_landed: int = 0
    rows_rejected: int = 0
    message: str = ""
    seconds: float = 0.0
    reasons: dict[str, int] = field(default_factory=dict)  # rejects by reason code
    disposition: str | None = None  # the ledger's decision (cchc.ledger.rules.DISPOSITIONS)
    disposition_reason: str = ""
    peak_rows_held: int = 0  # most validated rows held in memory at once (a COPY chunk)


@dataclass
class DayResult:
    day: dt.date
    batches: list[BatchResult] = field(default_factory=list)

    def __iter__(self):
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i):
        return self.batches[i]

    def feed(self, name: str) -> BatchResult:
        return next(b for b in self.batches if b.feed == name)

    @property
    def refused(self) -> list[BatchResult]:
        return [b for b in self.batches if b.status == "refused"]

    @property
    def rows_landed(self) -> int:
        return sum(b.rows_landed for b in self.batches)

    @property
    def rows_rejected(self) -> int:
        return sum(b.rows_rejected for b in self.batches)

    def summary(self) -> str:
        parts = []
        for b in self.batches:
            if b.status == "landed":
                parts.append(f"{b.feed} {b.rows_landed}+{b.rows_rejected}rej")
            else:
                parts.append(f"{b.feed} {b.status}")
        return ", ".join(parts)


def order_feeds(feeds: Iterable[Feed | str]) -> list[Feed]:
    feeds = [f if isinstance(f, Feed) else feed_named(f) for f in feeds]
    return sorted(feeds, key=lambda f: SYSTEM_ORDER.index(f.system) if f.system in SYSTEM_ORDER else len(SYSTEM_ORDER))


def land_day(
    url_or_conn: str | psycopg.Connection,
    source: Source,
    day: dt.date | str,
    *,
    feeds: Iterable[Feed | str] = FEEDS,
    pseudonym_key: bytes,
    run_id: str | None = None,
    log: logging.Logger | None = None,
) -> DayResult:
    """Land every feed of ``day`` from ``source``; raise DeliveryRefused at the end if any was refused.

    ``url_or_conn``: a warehouse URL (a connection is opened and closed here) or an open psycopg
    connection, which should be idle: every batch is committed by its own transaction block (inside
    a transaction the caller left open they become savepoints, and the caller commits).
    ``pseudonym_key`` is the secret of the keyed hash (from configuration, never a constant).
    A source that fails (SourceError, SourceAuthError) stops the day at once; the feeds landed
    before stay landed, and rerunning the day lands the rest.
    """
    day = as_day(day)
    log = log or logger
    if isinstance(url_or_conn, psycopg.Connection):
        return _land_day(url_or_conn, source, day, order_feeds(feeds), Pseudonymiser(pseudonym_key), run_id, log)
    with connect(url_or_conn, autocommit=True) as conn:
        return _land_day(conn, source, day, order_feeds(feeds), Pseudonymiser(pseudonym_key), run_id, log)


def _land_day(conn, source, day, feeds, ps, run_id, log) -> DayResult:
    with conn.transaction():
        ensure_raw_schema(conn)
    result, refusals = land_feeds(conn, source, day, feeds, ps, run_id, log)
    raise_refused(day, result, refusals)
    return result


def raise_refused(day: dt.date, result: DayResult, refusals: list[Refusal]) -> None:
    """Raise DeliveryRefused listing every refusal of the day, the day's result attached."""
    if refusals:
        listing = "\n".join(f"  - {r}" for r in refusals)
        raise DeliveryRefused(f"{len(refusals)} deliveries of {day} refused (everything else landed):\n{listing}",
                              refusals, result)


def land_feeds(conn, source, day: dt.date, feeds: list[Feed], ps: Pseudonymiser, run_id: str | None,
               log: logging.Logger, *, validate_workers: int | None = None) -> tuple[DayResult, list[Refusal]]:
    """Land ``feeds`` of ``day`` in the order given (the raw schema exists); the day's result and its
    refusals (not raised). ``validate_workers``: processes validating a large delivery (None:
    CCHC_LAND_VALIDATE_WORKERS, :class:`~cchc.settings.LandingParallelism`)."""
    mode = getattr(source, "mode", "file") or "file"
    ledger = LedgerSettings.from_env()
    parallelism = LandingParallelism.from_env()
    if validate_workers is not None:
        parallelism = replace(parallelism, validate_workers=validate_workers)
    result = DayResult(day)
    refusals: list[Refusal] = []
    references: dict[str, frozenset[str] | None] = {}
    for feed in feeds:
        t0 = time.monotonic()
        started = dt.datetime.now(dt.UTC)
        try:
            delivery = source.fetch(feed, day)
            if feed.whole and delivery.count == 0:
                reason = f"the {feed.name} reference list of {day} is empty ({delivery.uri}); a whole list never is"
                raise DeliveryRefused(reason, [Refusal(feed.system, feed.name, day, reason, delivery.uri,
                                                       delivery.content_sha256)])
            contract = contract_for(feed)
            refs = {}
            for rule in contract.references:
                if rule.reference not in references:
                    with conn.transaction():
                        references[rule.reference] = reference_keys(conn, feed_named(rule.reference), day)
                if references[rule.reference] is None:
                    reason = (f"no {rule.reference} reference list landed on or before {day}; "
                              f"{feed.name} cannot be checked and is not loaded")
                    raise DeliveryRefused(reason, [Refusal(feed.system, feed.name, day, reason, delivery.uri,
                                                           delivery.content_sha256, delivery.count)])
                refs[rule.reference] = references[rule.reference]
        except DeliveryRefused as exc:
            if isinstance(exc, FeedAbsent) and feed.added_later:
                with conn.transaction():
                    required = feed_required(conn, feed, day)
                if not required:
                    log.info("not delivered %s/%s %s: the source does not carry this feed yet (%s); it is "
                             "required from the first day it lands", feed.system, feed.name, day, exc)
                    continue
            for r in exc.refusals or [Refusal(feed.system, feed.name, day, str(exc))]:
                batch_id = _write_refused(conn, feed, day, mode, r, run_id, started)
                refusals.append(r)
                b = BatchResult(feed.system, feed.name, day, batch_id, "refused", r.lines_read,
                                message=r.reason, seconds=time.monotonic() - t0)
                result.batches.append(b)
                log.error("refused %s/%s %s: %s", feed.system, feed.name, day, r.reason)
            continue
        try:
            b = _land_delivery(conn, delivery, contract, refs, ps, mode, run_id, started, t0,
                               ledger.max_dropped_share, parallelism)
        except DeliveryRefused as exc:  # found while reading the delivery: its transaction rolled back
            for r in exc.refusals or [Refusal(feed.system, feed.name, day, str(exc), delivery.uri,
                                              delivery.content_sha256, delivery.count)]:
                batch_id = _write_refused(conn, feed, day, mode, r, run_id, started)
                refusals.append(r)
                result.batches.append(BatchResult(feed.system, feed.name, day, batch_id, "refused", r.lines_read,
                                                  message=r.reason, seconds=time.monotonic() - t0))
                log.error("refused %s/%s %s: %s", feed.system, feed.name, day, r.reason)
            continue
        result.batches.append(b)
        if b.status == "landed":
            log.info("landed %s/%s %s: %d lines, %d landed, %d rejected%s in %.2fs (batch %d, %s)",
                     feed.system, feed.name, day, b.lines_read, b.rows_landed, b.rows_rejected,
                     f" ({_reasons(b.reasons)})" if b.reasons else "", b.seconds, b.batch_id, b.disposition)
            if b.disposition != "pending":
                log.warning("batch %d %s/%s %s is %s: %s", b.batch_id, feed.system, feed.name, day,
                            b.disposition, b.disposition_reason)
        else:
            log.info("unchanged %s/%s %s: %d lines, same content as batch %d (%.2fs)",
                     feed.system, feed.name, day, b.lines_read, b.batch_id, b.seconds)
    return result, refusals


def _reasons(reasons: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(reasons.items()))


def reference_keys(conn, feed: Feed, day: dt.date) -> dict[str, dict[str, str | None]] | None:
    """Records of the reference list landed for ``day`` or the latest day before it; None when none.

    {record_key: {attribute: value}}, with the attributes that contracts compare with
    (:func:`cchc.contracts.reference_attributes`, e.g. a procedure's MaLinhVuc); ``key in`` the
    result tells whether a key is known.
    """
    row = conn.execute(
        "select batch_id from raw.load_batches "
        "where system = %s and feed = %s and status = 'landed' and source_day <= %s "
        "order by source_day desc, batch_id desc limit 1",
        (feed.system, feed.name, day),
    ).fetchone()
    if row is None:
        return None
    from cchc.contracts import reference_attributes

    attributes = reference_attributes(feed.name)
    columns = "".join(", payload->>%s" for _ in attributes)
    found = conn.execute(f"select record_key{columns} from {raw_table(feed)} where batch_id = %s",
                         (*attributes, row[0])).fetchall()
    return {key: dict(zip(attributes, values, strict=True)) for key, *values in found}


def _write_refused(conn, feed, day, mode, r: Refusal, run_id, started) -> int:
    with conn.transaction():
        return conn.execute(
            "insert into raw.load_batches (system, feed, source_day, delivery, source_uri, content_sha256, "
            "lines_read, status, message, run_id, started_at, finished_at, disposition, disposition_reason, "
            "decided_at) values (%s, %s, %s, %s, %s, %s, %s, 'refused', %s, %s, %s, now(), 'refused', %s, now()) "
            "returning batch_id",
            (feed.system, feed.name, day, mode, r.uri or "", r.content_sha256, r.lines_read, r.reason,
             run_id, started, r.reason),
        ).fetchone()[0]


def _unchanged(feed, day, delivery: Delivery, same: tuple[int, str], t0: float) -> BatchResult:
    batch_id, disposition = same
    return BatchResult(feed.system, feed.name, day, batch_id, "unchanged", delivery.count,
                       message=f"same content as batch {batch_id}, {disposition} "
                               f"(sha256 {delivery.content_sha256[:12]}…)",
                       seconds=time.monotonic() - t0, disposition=disposition)


@dataclass
class StreamStats:
    """What one streamed landing held and did; ``peak_held`` is the most rows (and rejects) kept in
    memory at any moment — the chunks in flight, never the delivery."""

    rows: int = 0
    rejects: int = 0
    duplicates: int = 0
    peak_held: int = 0
    chunks: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    keys: KeyWatch = field(default_factory=KeyWatch)  # whether two rows may share a key


def _stream_rows(conn, feed, chunks: Iterator[ValidatedChunk], spool, stats: StreamStats, held: int) -> None:
    """COPY every chunk's rows into raw as it comes, its rejects spooled to ``spool`` (COPY text).
    While the server parses and indexes one chunk, the validation of the next ones goes on (in this
    process between writes, or in the worker processes all along). ``held``: the most lines the
    chunk source holds at once (for ``stats.peak_held``)."""
    reasons = stats.reasons
    seen = 0
    with conn.cursor() as cur, cur.copy(f"copy {raw_table(feed)} (batch_id, source_day, line_no, record_key, "
                                        "updated_at_src, payload) from stdin") as cp:
        for chunk in chunks:
            seen += chunk.row_count + chunk.reject_count
            stats.peak_held = min(held, seen)
            if chunk.row_count:
                cp.write(chunk.rows)
                stats.rows += chunk.row_count
                stats.keys.add(chunk.key_hashes)
            if chunk.reject_count:
                spool.write(chunk.rejects)
                stats.rejects += chunk.reject_count
                for code, n in chunk.reasons.items():
                    reasons[code] = reasons.get(code, 0) + n
            stats.chunks += 1


REJECT_COLUMNS = "batch_id, system, feed, source_day, line_no, record_key, reason_code, reason, payload, raw_text"


def _copy_spool(conn, spool) -> None:
    spool.seek(0)
    with conn.cursor() as cur, cur.copy(f"copy raw.rejects ({REJECT_COLUMNS}) from stdin") as cp:
        while data := spool.read(1 << 20):
            cp.write(data)


def _resolve_duplicates_in_raw(conn, feed, day, batch_id, spool, stats: StreamStats) -> None:
    """Rows of the batch that share a key, resolved by :func:`resolve_duplicates` (the one rule):
    the losers are deleted from raw (inside the landing transaction, before anyone can see them)
    and become ``duplicate`` rejects. Payloads are compared as the warehouse stores them (jsonb), so
    "identical" means the same JSON value. Read key by key through a server-side cursor: memory
    holds one key's rows at a time."""
    table = raw_table(feed)
    prefix = _reject_prefix(feed, day, batch_id)
    losers: list[int] = []

    def flush():
        if losers:
            conn.execute(f"delete from {table} where batch_id = %s and line_no = any(%s)", (batch_id, losers))
            losers.clear()

    with conn.cursor(name=f"cchc_dups_{batch_id}") as cur:
        cur.execute(f"select record_key, line_no, updated_at_src, payload::text from {table} "
                    f"where batch_id = %s and record_key in (select record_key from {table} where batch_id = %s "
                    f"group by record_key having count(*) > 1) order by record_key, line_no", (batch_id, batch_id))
        key, rows = None, []

        def settle():
            winner, rejects = resolve_duplicates(key, rows)
            for j in rejects:
                spool.write(reject_line(prefix, j).encode("utf-8"))
                losers.append(j.line_no)
            stats.duplicates += len(rejects)
            stats.reasons["duplicate"] = stats.reasons.get("duplicate", 0) + len(rejects)

        for record_key, line_no, updated, payload in cur:
            if record_key != key:
                if rows:
                    settle()
                    if len(losers) >= 1000:
                        flush()
                key, rows = record_key, []
            rows.append(Row(line_no, record_key, updated, payload))
        if rows:
            settle()
    flush()


def _reject_prefix(feed, day: dt.date, batch_id: int) -> str:
    return f"{batch_id}\t{copy_text(feed.system)}\t{copy_text(feed.name)}\t{day.isoformat()}\t"


def _land_delivery(conn, delivery: Delivery, contract, refs, ps, mode, run_id, started, t0,
                   max_dropped_share: float, parallelism: LandingParallelism) -> BatchResult:
    """Land one delivery as a new batch (or recognise it as one already landed), with the ledger's
    decision on it: pending (to the gate), held for an operator, or stale.

    Streamed, in one transaction: the batch row (no disposition yet, so no ledger query sees it),
    the rows COPYed as they are validated, duplicate keys resolved in the warehouse (only when two rows'
    key hashes are equal, :class:`~cchc.land.chunks.KeyWatch`: otherwise there is none), the rejects
    COPYed from a spool file, then the ledger decides on the keys the batch now holds
    (:func:`cchc.ledger.batches.decide_landed`, the same rules as :func:`decide_delivery`) and the
    row gets its counts and disposition. Any failure rolls everything back."""
    feed, day = delivery.feed, delivery.day
    with conn.transaction():
        same = same_content(conn, feed, day, delivery.content_sha256)
    if same:
        return _unchanged(feed, day, delivery, same, t0)
    with conn.transaction():
        ensure_partitions(conn, feed, [day])
    stats = StreamStats()
    validator = Validator(contract, day, ps, refs)
    with conn.transaction(), tempfile.SpooledTemporaryFile(max_size=8 << 20) as spool:
        lock_day(conn, feed.system, feed.name, day)
        same = same_content(conn, feed, day, delivery.content_sha256)  # a concurrent run may have landed it
        if same:
            return _unchanged(feed, day, delivery, same, t0)
        batch_id = conn.execute(
            "insert into raw.load_batches (system, feed, source_day, delivery, source_uri, content_sha256, "
            "lines_read, status, run_id, started_at, generated_at) "
            "values (%s, %s, %s, %s, %s, %s, %s, 'landed', %s, %s, %s) returning batch_id",
            (feed.system, feed.name, day, mode, delivery.uri, delivery.content_sha256, delivery.count,
             run_id, started, delivery.generated_at),
        ).fetchone()[0]
        writer = ChunkWriter(validator, f"{batch_id}\t{day.isoformat()}\t", _reject_prefix(feed, day, batch_id))
        size, workers = parallelism.chunk_rows, parallelism.validate_workers
        chunks, held = validated_chunks(writer, delivery.items(), lines=delivery.count, size=size, workers=workers)
        _stream_rows(conn, feed, chunks, spool, stats, held)
        if stats.rows > 1 and stats.keys.maybe:  # every key's hash distinct: no duplicate to resolve
            _resolve_duplicates_in_raw(conn, feed, day, batch_id, spool, stats)
        if spool.tell():
            _copy_spool(conn, spool)
        decision, keys = decide_landed(conn, feed, day, batch_id, generated_at=delivery.generated_at,
                                       max_dropped_share=max_dropped_share)
        if decision.disposition == "pending":
            supersede_pending(conn, feed, day, batch_id)
        landed, rejected = stats.rows - stats.duplicates, stats.rejects + stats.duplicates
        conn.execute(
            "update raw.load_batches set rows_landed = %s, rows_rejected = %s, message = %s, "
            "finished_at = clock_timestamp(), keys_delivered = %s, disposition = %s, disposition_reason = %s, "
            "decided_at = now() where batch_id = %s",
            (landed, rejected, _reasons(stats.reasons) or None, keys, decision.disposition, decision.reason,
             batch_id))
    reasons = dict(stats.reasons)
    return BatchResult(feed.system, feed.name, day, batch_id, "landed", delivery.count, landed, rejected,
                       message=_reasons(reasons), seconds=time.monotonic() - t0, reasons=reasons,
                       disposition=decision.disposition, disposition_reason=decision.reason,
                       peak_rows_held=stats.peak_held)
