"""What a publication may claim: per delivered system, the last day up to which every day is in force.

A day is *in force* for a system when every feed of that system that the day requires has a
version in force for it. A day requires every feed of the original contract, and a feed added to
the contract later (``Feed.added_later``: onestop feedback and ratings) from the first day it ever
landed on (any batch with status ``landed``, whatever its disposition) — :func:`feed_required`, the
one place this rule is written. So the days delivered before the source carried the new feed never
become missing because it appeared; from its first day on, a day without it in force is missing like
any other. (A source that later delivers the feed for an earlier day moves its first day back: the
days between then require it too, and say so.) Reference lists are not counted: they are whole
lists, and a record is checked against the list of its day or the latest before it. A system is
*delivered* once any of its batches came into force.

- ``complete_through[system]``: the last day D such that every day from the system's first day in
  force to D is in force;
- ``missing_days[system]``: the days after the system's first day in force, up to the latest day any
  delivery was received for (the horizon), that are not in force (refused, held, blocked, or never
  delivered);
- ``as_of_date``: the smallest ``complete_through``: a publication never claims a day that one of
  its systems does not have. Days in force after it wait (landed, not merged) until the hole is
  filled.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import psycopg

from cchc.constants import reported_systems
from cchc.raw.schema import FEEDS, Feed

#: the systems whose days a publication claims, defined once as the dbt var reported_systems
#: (dbt_project.yml), which the SQL side reads too (macro reported_systems(), int_report_periods);
#: tests/test_run_constants.py checks that both sides agree
REPORTED_SYSTEMS: tuple[str, ...] = reported_systems()


@dataclass(frozen=True)
class Completeness:
    complete_through: dict[str, dt.date] = field(default_factory=dict)
    missing_days: dict[str, list[dt.date]] = field(default_factory=dict)
    horizon: dt.date | None = None

    @property
    def as_of_date(self) -> dt.date | None:
        return min(self.complete_through.values()) if self.complete_through else None

    @property
    def is_complete(self) -> bool:
        """Nothing is missing and every system reaches the horizon."""
        return not any(self.missing_days.values()) and all(
            d == self.horizon for d in self.complete_through.values())

    def as_json(self) -> tuple[dict[str, str], dict[str, list[str]]]:
        return ({s: d.isoformat() for s, d in sorted(self.complete_through.items())},
                {s: [d.isoformat() for d in days] for s, days in sorted(self.missing_days.items()) if days})

    def describe(self) -> str:
        if not self.complete_through:
            return "no system has a day in force yet"
        parts = []
        for system, through in sorted(self.complete_through.items()):
            missing = self.missing_days.get(system) or []
            text = f"{system} complete through {through}"
            if missing:
                shown = ", ".join(d.isoformat() for d in missing[:10])
                more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
                text += f", MISSING {len(missing)} day(s): {shown}{more}"
            parts.append(text)
        return "; ".join(parts)


#: when a feed added later is first required: the first day of a landed batch of it (None: never)
_FIRST_LANDED = ("select min(source_day) from raw.load_batches "
                 "where system = %s and feed = %s and status = 'landed'")


def first_landed_day(conn: psycopg.Connection, feed: Feed) -> dt.date | None:
    """The first source day a batch of ``feed`` ever landed for (None when none did)."""
    return conn.execute(_FIRST_LANDED, (feed.system, feed.name)).fetchone()[0]


def required_from(feed: Feed, first_landed: dt.date | None) -> dt.date | None:
    """The first day that requires ``feed``: dt.date.min for a feed of the original contract (every
    day), the first day it landed for a feed added later, None while such a feed never landed."""
    return first_landed if feed.added_later else dt.date.min


def feed_required(conn: psycopg.Connection, feed: Feed, day: dt.date) -> bool:
    """Whether ``day`` requires ``feed`` (see the module doc): the rule the loader (a feed the source
    does not carry yet is not refused) and :func:`completeness` both apply."""
    start = required_from(feed, first_landed_day(conn, feed) if feed.added_later else None)
    return start is not None and day >= start


def completeness(conn: psycopg.Connection) -> Completeness:
    required = {f: required_from(f, first_landed_day(conn, f) if f.added_later else None)
                for f in FEEDS if f.system in REPORTED_SYSTEMS}
    horizon = conn.execute(
        "select max(source_day) from raw.load_batches where system = any(%s)", (list(REPORTED_SYSTEMS),)
    ).fetchone()[0]
    if horizon is None:
        return Completeness()
    rows = conn.execute("""
        with in_force as (
            select system, source_day, array_agg(distinct feed) as feeds
            from raw.load_batches
            where disposition = 'in_force' and system = any(%(systems)s)
            group by system, source_day
        ),
        firsts as (
            select system, min(source_day) as first_day from in_force group by system
        ),
        days as (
            select f.system, d::date as day
            from firsts f cross join generate_series(f.first_day, %(horizon)s::date, interval '1 day') d
        )
        select days.system, days.day, coalesce(i.feeds, '{}') as feeds
        from days left join in_force i on i.system = days.system and i.source_day = days.day
        order by days.system, days.day
    """, {"systems": list(REPORTED_SYSTEMS), "horizon": horizon}).fetchall()
    through: dict[str, dt.date] = {}
    missing: dict[str, list[dt.date]] = {}
    broken: set[str] = set()
    for system, day, feeds in rows:
        needed = {f.name for f, start in required.items() if f.system == system and start is not None and day >= start}
        complete = needed <= set(feeds)
        missing.setdefault(system, [])
        if complete and system not in broken:
            through[system] = day
        elif not complete:
            broken.add(system)
            missing[system].append(day)
    # a system whose very first day in force is incomplete (a feed missing) has no complete day
    for system in missing:
        if system not in through:
            first_missing = missing[system][0]
            through[system] = first_missing - dt.timedelta(days=1)
    return Completeness(through, missing, horizon)


def inputs_fingerprint(conn: psycopg.Connection, as_of_date: dt.date) -> str:
    """Which batches a build as of ``as_of_date`` reads: the batches in force up to that day. Two
    builds with the same fingerprint (and the same code) give the same publication."""
    return conn.execute(
        "select md5(%s || ':' || coalesce(string_agg(batch_id::text, ',' order by batch_id), '')) "
        "from raw.load_batches where disposition = 'in_force' and source_day <= %s",
        (as_of_date.isoformat(), as_of_date)).fetchone()[0]
