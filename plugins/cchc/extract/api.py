"""HTTP API deliveries: ``GET {base}/api/v1/{feed}?updated_from=&updated_to=&cursor=&limit=``.

Bearer-token authentication, keyset pagination through ``next_cursor``; 429, 5xx, connection
errors, timeouts and unreadable answers are retried with bounded exponential backoff (honouring
``Retry-After``); 401 raises :class:`SourceAuthError` at once; 400, 404 and other 4xx raise
:class:`SourceError` with the server's answer (404: :class:`SourceNotFound`; for a feed added to the
contract later, ``Feed.added_later``, a 404 on its first page means the server does not carry it
and raises :class:`FeedAbsent`, which the loader settles with the ledger's rule). Reference lists
are delivered whole: the server ignores the updated_* window for them.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import json
import logging
import random
import time
from collections.abc import Callable
from typing import Any

import requests

from cchc.extract.base import (
    Delivery,
    FeedAbsent,
    Refusal,
    SourceAuthError,
    SourceBase,
    SourceError,
    SourceNotFound,
    as_day,
    as_feed,
    parse_generated_at,
)
from cchc.raw.schema import Feed

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
GENERATED_AT_HEADER = "X-Generated-At"


def canonical_sha256(items: list[Any]) -> str:
    """sha256 of the canonical JSON (sorted keys, compact, UTF-8) of a list of items."""
    text = json.dumps(items, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


class ApiSource(SourceBase):
    mode = "api"

    def __init__(
        self,
        base_url: str,
        token: str,
        page_limit: int = 1000,
        max_retries: int = 6,
        backoff: float = 0.5,
        *,
        max_backoff: float = 30.0,
        timeout: float = 60.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.page_limit = page_limit
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.session = session or requests.Session()
        self.sleep = sleep
        self.retries = 0  # total retries made by this source (for logs and tests)

    def __repr__(self) -> str:
        return f"ApiSource({self.base_url!r})"

    def feed_url(self, feed: Feed) -> str:
        return f"{self.base_url}/api/v1/{feed.name}"

    def window(self, day: dt.date) -> dict[str, str]:
        d = day.strftime("%Y%m%d")
        return {"updated_from": d + "000000", "updated_to": d + "235959"}

    def not_delivered(self, day: dt.date | str, *, now: dt.datetime | None = None) -> str | None:
        """The API cannot say "day D is complete", so D counts as delivered when (1) D has ended
        (Asia/Ho_Chi_Minh), (2) the server answers the reference ``units`` feed for D's window with
        a non-empty list, and (3) when that answer carries an ``X-Generated-At`` header, it is at or
        after the end of D (the list was produced after the day it describes; a server without the
        header is taken at its word). Otherwise the reason. One request, no retries: the caller
        asks again later. A refused token raises :class:`SourceAuthError` (waiting will not help)."""
        from cchc.constants import PROVINCE_TIME_ZONE as local

        day = as_day(day)
        end_of_day = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=local)
        now = now or dt.datetime.now(local)
        if now < end_of_day:
            return f"{day.isoformat()} has not ended yet (it ends {end_of_day.isoformat()})"
        url = self.feed_url(as_feed("units"))
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        try:
            response = self.session.get(url, params={**self.window(day), "cursor": "", "limit": "1"},
                                        headers=headers, timeout=self.timeout)
        except (requests.ConnectionError, requests.Timeout) as exc:
            return f"{url} does not answer ({type(exc).__name__}: {exc})"
        if response.status_code == 401:
            raise SourceAuthError(f"{url}: 401 Unauthorized — the API token was refused "
                                  f"({response.text[:200].strip()})")
        if response.status_code != 200:
            return f"{url} answers HTTP {response.status_code}: {response.text[:300].strip()}"
        try:
            items = response.json().get("items")
        except (ValueError, AttributeError):
            items = None
        if not isinstance(items, list):
            return f"{url} gave an unreadable answer for {day.isoformat()}"
        if not items:
            return f"{url} serves no reference units for {day.isoformat()}"
        header = (response.headers.get("X-Generated-At") or "").strip()
        if header:
            try:
                generated = dt.datetime.fromisoformat(header.replace("Z", "+00:00"))
            except ValueError:
                return f"{url}: X-Generated-At {header!r} is not an ISO 8601 timestamp"
            if generated.tzinfo is None:
                generated = generated.replace(tzinfo=local)
            if generated < end_of_day:
                return (f"the API's reference list was generated at {header}, before the end of "
                        f"{day.isoformat()}: the day's delivery has not been produced yet")
        return None

    def fetch(self, feed: Feed | str, day: dt.date | str) -> Delivery:
        feed, day = as_feed(feed), as_day(day)
        url = self.feed_url(feed)
        window = self.window(day)
        items: list[Any] = []
        cursor: str | None = ""
        seen: set[str] = set()
        pages = 0
        generated: set[dt.datetime | None] = set()
        while True:
            try:
                page, header = self._get_page(url, {**window, "cursor": cursor or "", "limit": str(self.page_limit)})
            except SourceNotFound as exc:
                if pages or not feed.added_later:
                    raise
                reason = f"{url} does not serve feed {feed.name} (HTTP 404): {exc}"
                r = Refusal(feed.system, feed.name, day, reason, uri=url)
                raise FeedAbsent(str(r), [r]) from None
            pages += 1
            try:
                generated.add(parse_generated_at(header, f"{url} header {GENERATED_AT_HEADER}"))
            except ValueError as exc:
                raise SourceError(str(exc)) from None
            items.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                break
            if cursor in seen:
                raise SourceError(f"{url}: the server returned cursor {cursor!r} twice; pagination loops")
            seen.add(cursor)
        uri = f"{url}?updated_from={window['updated_from']}&updated_to={window['updated_to']}"
        log.debug("fetched %s: %d items in %d pages", uri, len(items), pages)
        if len(generated) > 1:
            # the server produced a new version while we paged: the pages do not form one delivery
            raise SourceError(f"{uri}: pages carry different {GENERATED_AT_HEADER} values "
                              f"({', '.join(sorted(str(g) for g in generated))}); fetch the day again")
        return Delivery(feed, day, uri, canonical_sha256(items), "api", records=items, info={"pages": pages},
                        generated_at=generated.pop() if generated else None)

    def _delay(self, attempt: int, response: requests.Response | None) -> float:
        wait = min(self.max_backoff, self.backoff * (2 ** attempt)) * (0.5 + random.random() / 2)
        if response is not None:
            ra = retry_after_seconds(response.headers.get("Retry-After"))
            if ra is not None:
                wait = min(self.max_backoff, ra)
        return wait

    def _get_page(self, url: str, params: dict[str, str]) -> tuple[dict[str, Any], str | None]:
        """One page of the answer and its ``X-Generated-At`` header (None when absent)."""
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        attempt = 0
        while True:
            response = None
            try:
                response = self.session.get(url, params=params, headers=headers, timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                status = response.status_code
                if status == 401:
                    raise SourceAuthError(f"{url}: 401 Unauthorized — the API token was refused "
                                          f"({response.text[:200].strip()})")
                if status in RETRY_STATUSES:
                    problem = f"HTTP {status}"
                elif status == 404:
                    raise SourceNotFound(f"{url} {params}: HTTP 404: {response.text[:1000].strip()}")
                elif status >= 400:
                    raise SourceError(f"{url} {params}: HTTP {status}: {response.text[:1000].strip()}")
                else:
                    try:
                        page = response.json()
                        if not isinstance(page, dict) or not isinstance(page.get("items"), list):
                            raise ValueError("answer has no 'items' list")
                        return page, response.headers.get(GENERATED_AT_HEADER)
                    except ValueError as exc:  # truncated or garbled body: transient
                        problem = f"unreadable answer ({exc})"
            if attempt >= self.max_retries:
                raise SourceError(f"{url} {params}: giving up after {attempt + 1} attempts; last: {problem}")
            wait = self._delay(attempt, response)
            log.warning("%s: %s; retry %d/%d in %.2fs", url, problem, attempt + 1, self.max_retries, wait)
            self.sleep(wait)
            self.retries += 1
            attempt += 1
