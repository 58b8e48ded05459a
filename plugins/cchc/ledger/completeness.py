"""What a publication may claim: per delivered system, the last day up to which every day is in force.

A day is *in force* for a system when every feed of that system has a version in force for it.
Reference lists are not counted: they are whole lists, and a record is checked against the list of
its day or the latest before it. A system is *delivered* once any of its batches came into force.

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

from cchc.raw.schema import FEEDS

#: systems whose days a publication claims (reference lists are delivered whole, see above)
REPORTED_SYSTEMS: tuple[str, ...] = tuple(sorted({f.system for f in FEEDS if not f.whole}))


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


def completeness(conn: psycopg.Connection) -> Completeness:
    feeds_per_system = {s: sorted(f.name for f in FEEDS if f.system == s) for s in REPORTED_SYSTEMS}
    horizon = conn.execute(
        "select max(source_day) from raw.load_batches where system = any(%s)", (list(REPORTED_SYSTEMS),)
    ).fetchone()[0]
    if horizon is None:
        return Completeness()
    rows = conn.execute("""
        with in_force as (
            select system, source_day, count(distinct feed) as feeds
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
        select days.system, days.day, coalesce(i.feeds, 0) as feeds
        from days left join in_force i on i.system = days.system and i.source_day = days.day
        order by days.system, days.day
    """, {"systems": list(REPORTED_SYSTEMS), "horizon": horizon}).fetchall()
    through: dict[str, dt.date] = {}
    missing: dict[str, list[dt.date]] = {}
    broken: set[str] = set()
    for system, day, feeds in rows:
        complete = feeds == len(feeds_per_system[system])
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
