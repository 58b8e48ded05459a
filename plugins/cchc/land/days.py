"""Land many source days (a backfill, a catch-up): days in parallel worker processes, results in day order.

Days are independent in the ledger (every rule compares deliveries of the same (system, feed, day),
under that day's lock), with one exception: a feed is checked against the reference lists (units,
procedures) landed on or before its day. So:

1. the reference feeds of every day land first, one day after the other, in this process (they
   are small, whole lists): a day's other feeds then see exactly the lists a serial run would
   have shown them — those of its own day or the latest before, never a later one
   (:func:`cchc.land.loader.reference_keys` only looks back);
2. the monthly ``raw`` partitions of every day are created, once, before any worker starts;
3. the other feeds of each day land in a pool of ``workers`` processes (``CCHC_LAND_WORKERS``,
   default min(2, number of CPUs)), each day in its own worker in the usual feed order, one
   transaction per feed as always. Results — and each day's log lines, held back by its worker —
   come back in day order, merged with the day's reference batches, exactly as a serial run reports
   them.

A source that fails (SourceError …) on a day stops the run when that day's turn comes, as in a
serial run; days the pool had already started may have landed (each in its own transactions, so
rerunning lands nothing twice).
"""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from cchc.extract.base import Refusal
from cchc.land.loader import DayResult, land_feeds, order_feeds
from cchc.land.pseudonymise import Pseudonymiser
from cchc.raw.schema import FEEDS, Feed, ensure_all_partitions, ensure_raw_schema
from cchc.settings import LandingParallelism
from cchc.warehouse import connect

logger = logging.getLogger(__name__)


def land_days(url: str, sources: Any, days: Iterable[dt.date], *, feeds: Iterable[Feed | str] = FEEDS,
              pseudonym_key: bytes, run_id: str | None = None, workers: int | None = None,
              log: logging.Logger | None = None) -> Iterator[tuple[dt.date, DayResult, list[Refusal]]]:
    """Land every feed of every day; yield (day, its result, its refusals) in day order.

    ``sources``: something with ``open()`` returning the Source (:class:`cchc.settings.SourceSettings`),
    picklable, so that each worker opens its own. ``workers``: None reads CCHC_LAND_WORKERS
    (:class:`~cchc.settings.LandingParallelism`); 1 lands everything in this process. Refusals are
    returned, not raised (see :func:`cchc.land.loader.raise_refused`)."""
    log = log or logger
    days = sorted(set(days))
    feeds = order_feeds(feeds)
    workers = LandingParallelism.from_env().day_workers if workers is None else workers
    if not days:
        return
    references = [f for f in feeds if f.system == "reference"]
    others = [f for f in feeds if f.system != "reference"]
    ps = Pseudonymiser(pseudonym_key)
    source = sources.open()
    with connect(url, autocommit=True) as conn:
        with conn.transaction():
            ensure_raw_schema(conn)
        first: dict[dt.date, tuple[DayResult, list[Refusal]]] = {}
        for day in days:
            first[day] = land_feeds(conn, source, day, references, ps, run_id, log)
        with conn.transaction():
            ensure_all_partitions(conn, days, others)
    if workers <= 1 or len(days) == 1 or not others:
        with connect(url, autocommit=True) as conn:
            for day in days:
                result, refusals = first[day]
                more, more_refusals = land_feeds(conn, source, day, others, ps, run_id, log)
                yield day, _merged(result, more), refusals + more_refusals
        return
    n = min(workers, len(days))
    log.info("landing %d days in %d worker processes (CCHC_LAND_WORKERS)", len(days), n)
    names = [f.name for f in others]
    with ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_land_in_worker, url, sources, day, names, pseudonym_key, run_id, log.name)
                   for day in days]
        try:
            for day, future in zip(days, futures, strict=True):
                more, more_refusals, records = future.result()
                for record in records:  # the day's log lines, in day order
                    logging.getLogger(record.name).handle(record)
                result, refusals = first[day]
                yield day, _merged(result, more), refusals + more_refusals
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _merged(result: DayResult, more: DayResult) -> DayResult:
    merged = DayResult(result.day)
    merged.batches = result.batches + more.batches
    return merged


class _Held(logging.Handler):
    """Keeps a worker's log records (made picklable) to be emitted by the parent in day order."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        record.msg, record.args, record.exc_info, record.exc_text = text, None, None, None
        self.records.append(record)


def _land_in_worker(url: str, sources: Any, day: dt.date, feed_names: list[str], pseudonym_key: bytes,
                    run_id: str | None, log_name: str) -> tuple[DayResult, list[Refusal], list[logging.LogRecord]]:
    from cchc.contracts import feed_named

    held = _Held()
    root = logging.getLogger("cchc")
    root.handlers[:] = [held]
    root.propagate = False
    root.setLevel(logging.INFO)
    log = logging.getLogger(log_name)
    if not log.name.startswith("cchc"):
        log.handlers[:] = [held]
        log.propagate = False
        log.setLevel(logging.INFO)
    feeds = [feed_named(name) for name in feed_names]
    with connect(url, autocommit=True) as conn:
        result, refusals = land_feeds(conn, sources.open(), day, feeds, Pseudonymiser(pseudonym_key), run_id, log,
                                      validate_workers=1)  # the sibling day workers use the other cores
    return result, refusals, held.records
