"""What a source hands to the landing step, and how it says no."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Protocol

from cchc.contracts import feed_named
from cchc.raw.schema import FEEDS, Feed


class SourceError(RuntimeError):
    """The source could not be read (bad request, unknown feed, retries exhausted …)."""


class SourceAuthError(SourceError):
    """The source rejected our credentials (HTTP 401); retrying will not help."""


@dataclass(frozen=True)
class Refusal:
    system: str
    feed: str
    day: dt.date
    reason: str
    uri: str = ""
    content_sha256: str | None = None
    lines_read: int = 0

    def __str__(self) -> str:
        return f"{self.system}/{self.feed} {self.day.isoformat()}: {self.reason}"


class DeliveryRefused(Exception):
    """A delivery (or several) must not be loaded; the message says which and why.

    ``refusals`` lists each refused file; ``result`` is the :class:`~cchc.land.DayResult` of the
    day when raised by ``land_day`` (everything else of the day was landed before raising).
    """

    def __init__(self, message: str, refusals: list[Refusal] | None = None, result: Any = None):
        super().__init__(message)
        self.refusals = list(refusals or [])
        self.result = result


class FeedAbsent(DeliveryRefused):
    """The source does not carry the feed at all for the day: an export folder whose manifest and
    files do not know it, an API that answers 404 for it. For a feed of the original contract this
    is a refusal like any other; for a feed added later (``Feed.added_later``) the loader asks the
    ledger whether the day requires it yet (:func:`cchc.ledger.completeness.feed_required`)."""


class SourceNotFound(SourceError):
    """The source answered 404 Not Found (the API does not know the path)."""


@dataclass
class Delivery:
    """One feed of one source day, as delivered.

    File mode fills ``lines`` (raw bytes of each line, newline removed); API mode fills ``records``
    (the decoded JSON items, in the order served). ``content_sha256`` identifies the content: the
    sha256 of the .gz bytes, or of the canonical JSON of the items.
    """

    feed: Feed
    day: dt.date
    uri: str
    content_sha256: str
    mode: str  # "file" | "api"
    lines: list[bytes] | None = None
    records: list[Any] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    #: when the source produced this delivery (manifest ``generated_at`` / ``X-Generated-At``);
    #: None for older exporters that do not say (then deliveries are ordered by arrival)
    generated_at: dt.datetime | None = None

    @property
    def count(self) -> int:
        return len(self.lines if self.lines is not None else self.records or [])

    def items(self):
        """(line_no, item) pairs, 1-based; item is bytes (file) or a decoded JSON value (api)."""
        return enumerate(self.lines if self.lines is not None else self.records or [], start=1)


class Source(Protocol):
    mode: str

    def fetch(self, feed: Feed | str, day: dt.date) -> Delivery: ...

    def deliveries(self, system: str, day: dt.date) -> dict[str, Delivery | DeliveryRefused]: ...


def parse_generated_at(value: Any, where: str) -> dt.datetime | None:
    """``generated_at`` as an aware datetime: ISO 8601 with an offset (e.g.
    ``2025-05-14T03:10:00+07:00``); None when absent or empty. A value that is not such a timestamp
    raises ValueError naming ``where``: the delivery's place in the ledger cannot be known."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise ValueError(f"{where}: generated_at must be an ISO 8601 string, got {value!r}")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{where}: generated_at {value!r} is not an ISO 8601 timestamp") from None
    if when.tzinfo is None:
        raise ValueError(f"{where}: generated_at {value!r} has no UTC offset (e.g. +07:00)")
    return when


def as_feed(feed: Feed | str) -> Feed:
    return feed if isinstance(feed, Feed) else feed_named(feed)


def as_day(day: dt.date | str) -> dt.date:
    if isinstance(day, dt.datetime):
        return day.date()
    return day if isinstance(day, dt.date) else dt.date.fromisoformat(day)


class SourceBase:
    """``deliveries`` in terms of ``fetch``: every feed of a system, each delivered or refused."""

    mode = ""

    def provides(self, system: str) -> bool:
        """Whether this source delivers ``system`` at all (an API serves every system)."""
        return True

    def not_delivered(self, day: dt.date | str) -> str | None:
        """Why ``day`` cannot be landed yet (its delivery has not arrived or is not complete), or
        None when it can. The nightly DAG waits on this before it plans a run; a source that
        cannot tell says None, and the land step then accepts or refuses what it finds."""
        return None

    def fetch(self, feed: Feed | str, day: dt.date) -> Delivery:  # pragma: no cover - abstract
        raise NotImplementedError

    def deliveries(self, system: str, day: dt.date | str) -> dict[str, Delivery | DeliveryRefused]:
        """Every feed of ``system`` for ``day``: its delivery, or why it was refused. A feed added to
        the contract later that the source does not carry (:class:`FeedAbsent`) is left out: whether
        the day requires it is the ledger's question (the loader asks it)."""
        out: dict[str, Delivery | DeliveryRefused] = {}
        for feed in FEEDS:
            if feed.system == system:
                try:
                    out[feed.name] = self.fetch(feed, as_day(day))
                except FeedAbsent as exc:
                    if not feed.added_later:
                        out[feed.name] = exc
                except DeliveryRefused as exc:
                    out[feed.name] = exc
        return out
