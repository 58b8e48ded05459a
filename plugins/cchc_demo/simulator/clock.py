"""Timestamps, office hours and statutory time limits.

Every working-day question goes to :mod:`cchc_demo.working_days` (weekends, holidays, swapped Saturdays);
nothing here knows a holiday. Office hours are 07:30–11:30 and 13:30–17:00 local time; a due time
counted in (working or calendar) days is 17:00 of the due day.
"""

from __future__ import annotations

import datetime as dt
import random

from cchc_demo.working_days import add_working_days, is_working_day, next_working_day

TS_FORMAT = "%Y%m%d%H%M%S"
WINDOWS = ((7 * 60 + 30, 11 * 60 + 30), (13 * 60 + 30, 17 * 60))  # minutes after midnight
CLOSE = dt.time(17, 0)


def ts(moment: dt.datetime | None) -> str:
    """``yyyyMMddHHmmss``; "" for not set."""
    if not moment:
        return ""
    return f"{moment.year:04d}{moment.month:02d}{moment.day:02d}{moment.hour:02d}{moment.minute:02d}{moment.second:02d}"


def parse_ts(text) -> dt.datetime | None:
    """The datetime of a ``yyyyMMddHHmmss`` string; None when empty or unreadable."""
    if not isinstance(text, str) or len(text) != 14 or not text.isdigit():
        return None
    try:
        return dt.datetime.strptime(text, TS_FORMAT)
    except ValueError:
        return None


def day_ts(day: dt.date) -> str:
    """A date as a timestamp at midnight."""
    return day.strftime("%Y%m%d") + "000000"


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute))


def _minute(moment: dt.datetime) -> int:
    return moment.hour * 60 + moment.minute


def office_time(rng: random.Random, day: dt.date, after: dt.datetime | None = None) -> dt.datetime | None:
    """A random office time on ``day`` strictly after ``after``; None when there is none left."""
    if not is_working_day(day):
        return None
    low = -1
    if after is not None:
        if after.date() > day:
            return None
        if after.date() == day:
            low = _minute(after)
    segments = [(max(a, low + 1), b) for a, b in WINDOWS if b > max(a, low + 1)]
    total = sum(b - a for a, b in segments)
    if total <= 0:
        return None
    k = rng.randrange(total)
    for a, b in segments:
        if k < b - a:
            m = a + k
            break
        k -= b - a
    return dt.datetime.combine(day, dt.time(m // 60, m % 60, rng.randrange(60)))


def morning(rng: random.Random, day: dt.date) -> dt.datetime:
    """A time in the first 90 minutes of the working day ``day``."""
    return at(day, 7, 30) + dt.timedelta(minutes=rng.randrange(90), seconds=rng.randrange(60))


def next_office_time(rng: random.Random, after: dt.datetime) -> dt.datetime:
    """A random office time after ``after``: on its day when possible, else on the next working day."""
    day = after.date()
    moment = office_time(rng, day, after)
    while moment is None:
        day = next_working_day(day)
        moment = office_time(rng, day, after)
    return moment


def soon_after(rng: random.Random, after: dt.datetime, lo_minutes: int, hi_minutes: int) -> dt.datetime:
    """``after`` plus a few minutes; just after lunch, or the next working morning, outside office hours."""
    moment = after + dt.timedelta(minutes=rng.randint(lo_minutes, hi_minutes), seconds=rng.randrange(60))
    if moment.date() == after.date() and is_working_day(moment.date()) and in_office(moment):
        return moment
    if moment.date() == after.date() and is_working_day(moment.date()) and _minute(moment) < WINDOWS[-1][0]:
        return at(moment.date(), 13, 30) + dt.timedelta(minutes=rng.randrange(15), seconds=rng.randrange(60))
    return morning(rng, next_working_day(after.date()))


def in_office(moment: dt.datetime) -> bool:
    m = _minute(moment)
    return any(a <= m < b for a, b in WINDOWS)


def working_days_range(first: dt.date, last: dt.date) -> list[dt.date]:
    out, day = [], first
    while day <= last:
        if is_working_day(day):
            out.append(day)
        day += dt.timedelta(days=1)
    return out


def office_time_within(rng: random.Random, after: dt.datetime, last_day: dt.date) -> dt.datetime | None:
    """A random office time after ``after`` on a working day up to ``last_day``; None if none."""
    days = working_days_range(after.date(), last_day)
    rng.shuffle(days)
    for day in days[:4]:
        moment = office_time(rng, day, after)
        if moment is not None:
            return moment
    for day in sorted(days):
        moment = office_time(rng, day, after)
        if moment is not None:
            return moment
    return None


def times_between(rng: random.Random, lo: dt.datetime, hi: dt.datetime, k: int) -> list[dt.datetime]:
    """Up to ``k`` distinct sorted office times strictly between ``lo`` and ``hi`` (fewer if tight)."""
    out: set[dt.datetime] = set()
    for _ in range(k * 3):
        if len(out) == k:
            break
        moment = office_time_within(rng, lo, hi.date())
        if moment is not None and moment < hi:
            out.add(moment)
    return sorted(out)[:k]


def end_of_day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, CLOSE)


def working_days_after(day: dt.date, n: int) -> dt.date:
    """``n`` working days after ``day``; a non-working ``day`` first moves to the next working day."""
    if not is_working_day(day):
        day = next_working_day(day)
        n = max(0, n - 1) if n else 0
    return add_working_days(day, n)


def due_time(limit: int, unit: str, received: dt.datetime, in_person: bool, cutoff_hour: int) -> dt.datetime:
    """When a result is due, for a time limit of ``limit`` ``unit`` counted from ``received``.

    A reception on a non-working day, after closing time, or in person at or after the cut-off hour
    counts from the next working day. NGAY_LAM_VIEC: that many working days after the (effective)
    reception day, 17:00. NGAY: that many calendar days, moved to the next working day when the last
    day is not one, 17:00. GIO: that many office hours from the (effective) reception time.
    """
    day = received.date()
    late = received.time() >= CLOSE or (in_person and received.hour >= cutoff_hour)
    if unit == "GIO":
        start = at(next_working_day(day), 7, 30) if not is_working_day(day) or late else _clip_to_office(received)
        return add_office_hours(start, limit)
    if not is_working_day(day) or late:
        day = next_working_day(day)
    if unit == "NGAY":
        due = day + dt.timedelta(days=limit)
        while not is_working_day(due):
            due += dt.timedelta(days=1)
    else:
        due = add_working_days(day, limit)
    return end_of_day(due)


def _clip_to_office(moment: dt.datetime) -> dt.datetime:
    m = _minute(moment)
    for a, b in WINDOWS:
        if m < a:
            return dt.datetime.combine(moment.date(), dt.time(a // 60, a % 60))
        if m < b:
            return moment.replace(second=0, microsecond=0)
    return at(next_working_day(moment.date()), 7, 30)


def add_office_hours(start: dt.datetime, hours: float) -> dt.datetime:
    """``start`` (inside office hours) plus ``hours`` of office time."""
    left = int(round(hours * 60))
    day, m = start.date(), _minute(start)
    while True:
        for a, b in WINDOWS:
            if m >= b:
                continue
            m = max(m, a)
            if left <= b - m:
                m += left
                return dt.datetime.combine(day, dt.time(m // 60, m % 60))
            left -= b - m
            m = b
        day, m = next_working_day(day), 0
