"""A delivery's lines validated chunk by chunk into COPY text, in this process or in worker processes.

Validation and pseudonymisation are pure per line (:meth:`cchc.land.validate.Validator.lines` keeps
nothing between lines; duplicates are resolved afterwards in the warehouse), so a delivery can be
cut into chunks of lines, each validated anywhere, and the results written to ``COPY`` in line
order. One chunk becomes one :class:`ValidatedChunk`: the raw table's rows and the rejects, both
already in COPY's text format, so the process that holds the connection only writes bytes.

- In this process (:func:`serial_chunks`) for small deliveries or one worker.
- In ``workers`` forked processes (:func:`parallel_chunks`) for large ones: the main process reads
  lines and writes COPY while the workers validate, and PostgreSQL parses the rows it received;
  at most ``2 × workers + 1`` chunks are in flight, so memory stays a few chunks however long the
  delivery. Workers are forked (the validator, its reference lists and its key are inherited,
  never pickled) and never touch the parent's connection; where ``fork`` is not available, or
  inside an Airflow task process (:func:`fork_available`), the delivery is validated in this process.

Both paths run the same function (:class:`ChunkWriter`), so they give the same bytes. Within it, the
common valid line of a file delivery takes :class:`cchc.land.fastpath.FastPath` (straight to COPY
bytes, the same bytes as the full path's), every other line the full :class:`Validator`. Each chunk
also carries its rows' key hashes, from which :class:`KeyWatch` tells the loader whether the batch
can hold a duplicate key at all.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from cchc.land.fastpath import FastPath
from cchc.land.validate import Reject, Row, Validator


def copy_text(value: str) -> str:
    """A value in COPY's text format (backslash, tab, newline and carriage return escaped)."""
    if "\\" in value:
        value = value.replace("\\", "\\\\")
    if "\t" in value:
        value = value.replace("\t", "\\t")
    if "\n" in value:
        value = value.replace("\n", "\\n")
    if "\r" in value:
        value = value.replace("\r", "\\r")
    return value


def copy_field(value) -> str:
    return "\\N" if value is None else copy_text(str(value))


def reject_line(prefix: str, j: Reject) -> str:
    """One raw.rejects row (after ``prefix``: batch_id, system, feed, source_day) in COPY text."""
    return (f"{prefix}{copy_field(j.line_no)}\t{copy_field(j.record_key)}\t{copy_text(j.reason_code)}\t"
            f"{copy_text(j.reason)}\t{copy_field(j.payload)}\t{copy_field(j.raw_text)}\n")


@dataclass
class ValidatedChunk:
    rows: bytes  # COPY text: batch_id, source_day, line_no, record_key, updated_at_src, payload
    rejects: bytes  # COPY text of raw.rejects (REJECT_COLUMNS of the loader)
    row_count: int = 0
    reject_count: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    #: hash() of every row's record_key (forked workers share the parent's hash seed): tells the loader
    #: whether two rows of the batch may share a key (:class:`KeyWatch`)
    key_hashes: list[int] = field(default_factory=list)


class KeyWatch:
    """Whether the rows of one batch may share a record key, from their keys' hashes: False means
    certainly not (every hash distinct), so the warehouse's duplicate resolution has nothing to find
    and can be skipped; True (a repeated hash: a duplicate, or a rare collision) means it must run.
    Holds one int per row up to ``limit`` rows, then answers True (the warehouse decides)."""

    def __init__(self, limit: int = 2_000_000):
        self.seen: set[int] = set()
        self.limit = limit
        self.maybe = False

    def add(self, hashes: list[int]) -> None:
        if self.maybe or not hashes:
            return
        before = len(self.seen)
        self.seen.update(hashes)
        if len(self.seen) - before < len(hashes) or len(self.seen) > self.limit:
            self.maybe = True
            self.seen = set()


class ChunkWriter:
    """Validates a list of (line_no, item) and writes the outcome as COPY text for one batch.

    Each line takes the fast path (:class:`~cchc.land.fastpath.FastPath`: the common, valid line of a
    file delivery, written straight to COPY bytes) when that is certain to give the same row, else the
    full path (:meth:`Validator.lines`); ``fast=False`` runs the full path for every line (the two
    give the same bytes: tests/test_land_fast_path.py)."""

    def __init__(self, validator: Validator, row_prefix: str, reject_prefix: str, *, fast: bool = True):
        self.validator = validator
        self.row_prefix = row_prefix
        self.reject_prefix = reject_prefix
        self.fast = FastPath(validator, row_prefix) if fast else None

    def __call__(self, items: list[tuple[int, Any]]) -> ValidatedChunk:
        prefix, reject_prefix = self.row_prefix, self.reject_prefix
        rows: list[bytes] = []
        keys: list[int] = []
        rejects: list[str] = []
        reasons: dict[str, int] = {}
        fast = self.fast.row if self.fast is not None else None
        lines = self.validator.lines
        for line_no, item in items:
            if fast is not None:
                done = fast(line_no, item)
                if done is not None:
                    rows.append(done[0])
                    keys.append(hash(done[1]))
                    continue
            for out in lines(((line_no, item),)):
                if out.__class__ is Row:
                    keys.append(hash(out.record_key))
                    rows.append(f"{prefix}{out.line_no}\t{copy_text(out.record_key)}\t"
                                f"{copy_field(out.updated_at)}\t{copy_text(out.payload)}\n".encode())
                else:
                    rejects.append(reject_line(reject_prefix, out))
                    reasons[out.reason_code] = reasons.get(out.reason_code, 0) + 1
        return ValidatedChunk(b"".join(rows), "".join(rejects).encode("utf-8"), len(rows), len(rejects), reasons,
                              keys)


def chunked(items: Iterable[tuple[int, Any]], size: int) -> Iterator[list[tuple[int, Any]]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def serial_chunks(writer: ChunkWriter, items: Iterable[tuple[int, Any]], size: int) -> Iterator[ValidatedChunk]:
    for chunk in chunked(items, size):
        yield writer(chunk)


def fork_available() -> bool:
    """Whether this process may fork validation workers: ``fork`` exists, and this is not an
    Airflow task process. A task process holds its supervisor's channels and log handlers, used by
    other threads; a child forked mid-use inherits their locks taken and hangs (seen under the real
    scheduler: both workers blocked on a futex, the COPY waiting). Under Airflow a delivery is
    validated in the task process; ``cchc run`` / ``cchc rebuild`` / the bench run in their own
    processes and fork."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return False
    runner = sys.modules.get("airflow.sdk.execution_time.task_runner")  # imported by any `import airflow.sdk`
    return runner is None or getattr(runner, "SUPERVISOR_COMMS", None) is None  # set in a task process only


def in_flight_limit(workers: int) -> int:
    """Chunks submitted and not yet written, at most (the memory bound of the parallel path)."""
    return 2 * workers + 1


_WRITER: ChunkWriter | None = None  # the worker process's writer, inherited from the parent at fork


def _adopt(writer: ChunkWriter) -> None:
    global _WRITER
    _WRITER = writer


def _validate(items: list[tuple[int, Any]]) -> ValidatedChunk:
    return _WRITER(items)


def parallel_chunks(writer: ChunkWriter, items: Iterable[tuple[int, Any]], size: int,
                    workers: int) -> Iterator[ValidatedChunk]:
    """The chunks of ``items`` validated by ``workers`` forked processes, yielded in line order.

    A worker's exception (a bug: a bad line is a reject, never an exception) is raised here, and
    the pool is terminated when the caller stops iterating, normally or not."""
    limit = in_flight_limit(workers)
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers, initializer=_adopt, initargs=(writer,)) as pool:
        pending: deque = deque()
        for chunk in chunked(items, size):
            pending.append(pool.apply_async(_validate, (chunk,)))
            if len(pending) >= limit:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def validated_chunks(writer: ChunkWriter, items: Iterable[tuple[int, Any]], *, lines: int, size: int,
                     workers: int) -> tuple[Iterator[ValidatedChunk], int]:
    """Chunks of ``size`` lines, validated in ``workers`` processes when the delivery (``lines``
    long) is at least four chunks and fork is available, otherwise in this process; and the most
    lines held in memory at once on that path."""
    if workers > 1 and lines >= 4 * size and fork_available():
        return parallel_chunks(writer, items, size, workers), size * in_flight_limit(workers)
    return serial_chunks(writer, items, size), size
