"""Daily snapshots: turn a record's timed changes into its end-of-day states, bucketed by day.

A simulator builds each record's whole life up front as a list of ``(time, changed fields)``; the
snapshot for day D holds the record's full state at the end of D when at least one change happened
on D, with ``NgayCapNhat`` = the time of the day's last change. Days after ``until`` are dropped,
so the world as seen on the last simulated day has open records.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict

from cchc_demo.simulator.clock import ts


def dumps(record: dict) -> str:
    """The JSON line of a record: UTF-8 text, compact, fields in contract order."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


class DayBuckets:
    """JSON lines waiting for the day whose file they belong to, sorted by (NgayCapNhat, key)."""

    def __init__(self) -> None:
        self._days: dict[dt.date, list[tuple[tuple, str]]] = defaultdict(list)

    def add(self, day: dt.date, sort_key: tuple, record: dict) -> None:
        self._days[day].append((sort_key, dumps(record)))

    def pop(self, day: dt.date) -> list[str]:
        items = self._days.pop(day, [])
        items.sort()
        return [text for _key, text in items]


def emit_states(buckets: DayBuckets, key: str, base: dict, changes: list[tuple[dt.datetime, dict]],
                until: dt.date) -> None:
    """Add the end-of-day states of one record (``changes`` in time order) to ``buckets``."""
    state = dict(base)
    i, n = 0, len(changes)
    while i < n:
        day = changes[i][0].date()
        if day > until:
            break
        while i < n and changes[i][0].date() == day:
            moment, fields = changes[i]
            state.update(fields)
            state["NgayCapNhat"] = ts(moment)
            i += 1
        buckets.add(day, (state["NgayCapNhat"], key), state)
