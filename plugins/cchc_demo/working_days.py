"""The public-sector working-day calendar (see shared/spec/calendar.md).

The data is the dbt seeds ``calendar_notices.csv`` (which years have an official notice) and
``calendar_exceptions.csv`` (weekdays off and Saturdays worked). dbt builds ``dim_date`` from the
same files; this module is the Python view of them, used by the source simulator and by tests as an
oracle (the pipeline itself never reads it: its calendar is ``dim_date``). A date in a year without
a notice raises :class:`CalendarError`: it is never guessed.
"""

from __future__ import annotations

import csv
import datetime as dt
from functools import cache
from pathlib import Path

from cchc.paths import SEEDS_DIR


class CalendarError(ValueError):
    """A date falls in a year whose working-day notice is not in the calendar."""


@cache
def _load(seeds_dir: Path = SEEDS_DIR) -> tuple[frozenset[int], dict[dt.date, str]]:
    with open(seeds_dir / "calendar_notices.csv", encoding="utf-8") as f:
        years = frozenset(int(r["year"]) for r in csv.DictReader(f))
    with open(seeds_dir / "calendar_exceptions.csv", encoding="utf-8") as f:
        exceptions = {dt.date.fromisoformat(r["calendar_date"]): r["kind"] for r in csv.DictReader(f)}
    return years, exceptions


def covered_years() -> frozenset[int]:
    return _load()[0]


def is_working_day(day: dt.date) -> bool:
    years, exceptions = _load()
    if day.year not in years:
        raise CalendarError(
            f"{day.isoformat()}: no working-day notice for {day.year} in the calendar "
            f"(add it to dbt_project/seeds/calendar_notices.csv and calendar_exceptions.csv)"
        )
    kind = exceptions.get(day)
    if kind == "day_off":
        return False
    if kind == "swapped_workday":
        return True
    return day.weekday() < 5


def next_working_day(day: dt.date) -> dt.date:
    """The first working day strictly after ``day``."""
    day += dt.timedelta(days=1)
    while not is_working_day(day):
        day += dt.timedelta(days=1)
    return day


def add_working_days(day: dt.date, n: int) -> dt.date:
    """The date ``n`` working days after ``day`` (n >= 0; n = 0 returns ``day`` itself)."""
    if n < 0:
        raise ValueError("n must be >= 0")
    for _ in range(n):
        day = next_working_day(day)
    return day


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Working days in (start, end]: 0 when end <= start."""
    count, day = 0, start
    while day < end:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            count += 1
    return count
