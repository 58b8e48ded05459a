"""The sources' HTTP API, served from an export root (see shared/spec/sources.md).

``GET /api/v1/{feed}?updated_from=yyyyMMddHHmmss&updated_to=yyyyMMddHHmmss&cursor=…&limit=…`` with
``Authorization: Bearer <token>`` answers ``{"items": [...], "next_cursor": "…" | null}``.

- Snapshot feeds (dossiers, steps, feedback, ratings, documents): the records whose NgayCapNhat
  lies in [updated_from, updated_to] (inclusive), only the latest version of each key within the
  window (keys: MaHoSo; MaHoSo+BuocXuLy; MaPAKN; MaHoSo; DocumentId). Both bounds are optional (open when absent).
- Reference feeds (units, procedures, targets): the whole list of the latest delivered day ≤
  updated_to; updated_from is ignored.
- A feed added to the contract later (feedback, ratings, targets) that no manifest of the window's
  days lists (an older exporter's days) answers 404, as a server that does not carry it would.
- Items are the export lines as delivered: lines that are not valid UTF-8 JSON objects with a
  readable NgayCapNhat cannot be served and are skipped; every other bad record is served as it is
  (missing keys, unknown codes…). Records without a key are kept apart from each other.
- Keyset pagination ordered by (NgayCapNhat, key); the cursor is opaque (URL-safe base64 of JSON
  holding the feed and the last (NgayCapNhat, key)) and stays valid while days are added.
  ``limit``: default 500, 1…5000. An empty ``cursor`` means the first page.
- Only complete days (with ``_manifest.json``) are served; files are read lazily, cached per day.
- Errors are JSON ``{"error": …}``: 401 missing or wrong token, 400 bad parameters (unreadable
  timestamps, updated_from > updated_to, bad cursor or limit), 404 unknown feed or path.
  ``fault_rate`` > 0 answers that share of API requests (seeded) with 429 (Retry-After 0 or 1) or
  503, before anything else. ``GET /health`` → 200 without a token, never faulted.

Run in the foreground: ``python -m cchc_demo.simulator.server --root DIR --port 8080 --token T``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import bisect
import datetime as dt
import gzip
import hmac
import json
import logging
import os
import random
import threading
from collections import OrderedDict
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from cchc_demo.simulator.clock import parse_ts
from cchc_demo.simulator.config import FEEDS, FeedInfo, record_key

log = logging.getLogger(__name__)

DEFAULT_LIMIT, MAX_LIMIT = 500, 5000
MIN_TS, MAX_TS = "00000000000000", "99999999999999"
MANIFEST = "_manifest.json"


class BadRequest(ValueError):
    pass


@dataclass(frozen=True)
class Item:
    updated: str
    key: str
    record: dict


class ExportStore:
    """Parsed export files, loaded lazily and cached per (feed, day); only complete days count."""

    def __init__(self, root: Path, cached_queries: int = 32):
        self.root = Path(root)
        self._days: dict[tuple[str, dt.date], list[Item]] = {}
        self._queries: OrderedDict[tuple, tuple[list[tuple[str, str]], list[Item]]] = OrderedDict()
        self._cached_queries = cached_queries
        self._lock = threading.Lock()

    def complete_days(self, system: str) -> list[tuple[dt.date, int]]:
        """(day, manifest mtime) of the complete days: a re-delivered day is read again."""
        out = []
        try:
            entries = list(os.scandir(self.root / system))
        except FileNotFoundError:
            return out
        for entry in entries:
            try:
                day = dt.date.fromisoformat(entry.name)
            except ValueError:
                continue
            try:
                out.append((day, os.stat(os.path.join(entry.path, MANIFEST)).st_mtime_ns))
            except FileNotFoundError:
                continue
        return sorted(out)

    def generated_at(self, system: str, days: list[dt.date]) -> str | None:
        """The latest manifest ``generated_at`` among ``days`` of ``system`` (None when none says)."""
        values = []
        for day in days:
            try:
                manifest = json.loads((self.root / system / day.isoformat() / MANIFEST).read_bytes())
            except (OSError, ValueError):
                continue
            if isinstance(manifest, dict) and manifest.get("generated_at"):
                values.append(str(manifest["generated_at"]))
        if not values:
            return None
        return max(values, key=lambda v: dt.datetime.fromisoformat(v.replace("Z", "+00:00")))

    def carries(self, feed: FeedInfo, days: list[dt.date]) -> bool:
        """Whether the manifest of any of ``days`` lists the feed's file (an older exporter's days do
        not carry the feeds added later)."""
        for day in days:
            try:
                manifest = json.loads((self.root / feed.system / day.isoformat() / MANIFEST).read_bytes())
            except (OSError, ValueError):
                continue
            if isinstance(manifest, dict) and feed.file_name in (manifest.get("files") or {}):
                return True
        return False

    def window_days(self, feed: FeedInfo, updated_from: str, updated_to: str) -> list[dt.date]:
        """The complete days whose files answer a window (the latest list for a whole feed)."""
        days = self.complete_days(feed.system)
        if feed.whole:
            days = [d for d in days if d[0].strftime("%Y%m%d") <= updated_to[:8]][-1:]
        else:
            days = [d for d in days if updated_from[:8] <= d[0].strftime("%Y%m%d") <= updated_to[:8]]
        return [d for d, _ in days]

    def day_items(self, feed: FeedInfo, day: dt.date, version: int) -> list[Item]:
        key = (feed.name, day, version)
        with self._lock:
            if key not in self._days:
                self._days[key] = self._load(feed, day)
            return self._days[key]

    def _load(self, feed: FeedInfo, day: dt.date) -> list[Item]:
        path = self.root / feed.system / day.isoformat() / feed.file_name
        try:
            data = gzip.decompress(path.read_bytes())
        except (OSError, EOFError) as exc:
            log.warning("cannot read %s: %s", path, exc)
            return []
        items = []
        for line_no, line in enumerate(data.split(b"\n"), start=1):
            try:
                record = json.loads(line.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                continue  # not servable: invalid UTF-8 or not JSON
            if not isinstance(record, dict) or parse_ts(record.get("NgayCapNhat")) is None:
                continue
            key = record_key(feed, record) or f"~no-key:{day.isoformat()}:{line_no:07d}"
            items.append(Item(record["NgayCapNhat"], key, record))
        return items

    def query(self, feed: FeedInfo, updated_from: str, updated_to: str) -> tuple[list[tuple[str, str]], list[Item]]:
        """The ordered (NgayCapNhat, key) list and items answering a window."""
        days = self.complete_days(feed.system)
        if feed.whole:
            days = [d for d in days if d[0].strftime("%Y%m%d") <= updated_to[:8]][-1:]
        else:
            days = [d for d in days if updated_from[:8] <= d[0].strftime("%Y%m%d") <= updated_to[:8]]
        cache_key = (feed.name, updated_from, updated_to, tuple(days))
        with self._lock:
            if cache_key in self._queries:
                self._queries.move_to_end(cache_key)
                return self._queries[cache_key]
        latest: dict[str, Item] = {}
        for day, version in days:
            for item in self.day_items(feed, day, version):
                if not feed.whole and not (updated_from <= item.updated <= updated_to):
                    continue
                seen = latest.get(item.key)
                if seen is None or item.updated >= seen.updated:
                    latest[item.key] = item
        items = sorted(latest.values(), key=lambda i: (i.updated, i.key))
        answer = ([(i.updated, i.key) for i in items], items)
        with self._lock:
            self._queries[cache_key] = answer
            while len(self._queries) > self._cached_queries:
                self._queries.popitem(last=False)
        return answer


def encode_cursor(feed: str, position: tuple[str, str]) -> str:
    text = json.dumps({"f": feed, "t": position[0], "k": position[1]}, ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(feed: str, cursor: str) -> tuple[str, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw.decode("utf-8"))
        if data["f"] != feed or not isinstance(data["t"], str) or not isinstance(data["k"], str):
            raise ValueError("cursor of another feed")
        return data["t"], data["k"]
    except (binascii.Error, UnicodeDecodeError, ValueError, KeyError, TypeError):
        raise BadRequest(f"bad cursor {cursor[:80]!r}") from None


def _timestamp(params: dict[str, str], name: str, default: str) -> str:
    value = params.get(name, "")
    if value == "":
        return default
    if parse_ts(value) is None:
        raise BadRequest(f"{name} must be a timestamp yyyyMMddHHmmss, not {value[:40]!r}")
    return value


def page(store: ExportStore, feed: FeedInfo, params: dict[str, str]) -> dict:
    """One page of answer to a feed request (raises BadRequest)."""
    updated_from = _timestamp(params, "updated_from", MIN_TS)
    updated_to = _timestamp(params, "updated_to", MAX_TS)
    if updated_from > updated_to and not feed.whole:
        raise BadRequest("updated_from is after updated_to")
    raw_limit = params.get("limit", "")
    try:
        limit = int(raw_limit) if raw_limit != "" else DEFAULT_LIMIT
    except ValueError:
        raise BadRequest(f"limit must be an integer, not {raw_limit[:40]!r}") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}")
    cursor = params.get("cursor", "")
    after = decode_cursor(feed.name, cursor) if cursor else None
    positions, items = store.query(feed, updated_from, updated_to)
    start = bisect.bisect_right(positions, after) if after else 0
    chunk = items[start:start + limit]
    more = start + limit < len(items)
    return {"items": [i.record for i in chunk],
            "next_cursor": encode_cursor(feed.name, positions[start + limit - 1]) if more else None}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # keep-alive clients would otherwise wait for delayed ACKs
    wbufsize = -1  # headers and body leave in one write (flushed after each request)
    server: _Server

    def log_message(self, fmt, *args):  # quiet by default
        log.debug("%s %s", self.address_string(), fmt % args)

    def _send(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 (http.server's naming)
        url = urlsplit(self.path)
        path = url.path.rstrip("/")
        if path == "/health":
            self._send(200, {"status": "ok"})
            return
        if not path.startswith("/api/"):
            self._send(404, {"error": f"no such path {url.path}"})
            return
        fault = self.server.draw_fault()
        if fault == 429:
            self._send(429, {"error": "too many requests"}, {"Retry-After": self.server.retry_after()})
            return
        if fault == 503:
            self._send(503, {"error": "service unavailable"})
            return
        auth = self.headers.get("Authorization", "")
        expected = f"Bearer {self.server.token}"
        if not hmac.compare_digest(auth.encode("utf-8", "replace"), expected.encode("utf-8")):
            self._send(401, {"error": "missing or invalid bearer token"}, {"WWW-Authenticate": "Bearer"})
            return
        parts = path.split("/")
        if len(parts) != 4 or parts[2] != "v1" or parts[3] not in FEEDS:
            self._send(404, {"error": f"unknown feed path {url.path}; feeds: {', '.join(FEEDS)}"})
            return
        params = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        feed = FEEDS[parts[3]]
        try:
            body = page(self.server.store, feed, params)
        except BadRequest as exc:
            self._send(400, {"error": str(exc)})
            return
        store = self.server.store
        days = store.window_days(feed, _timestamp(params, "updated_from", MIN_TS),
                                 _timestamp(params, "updated_to", MAX_TS))
        if feed.added_later and days and not store.carries(feed, days):
            self._send(404, {"error": f"feed {feed.name} is not delivered for this window (the exports of "
                                      f"{', '.join(d.isoformat() for d in days[:3])} do not carry it)"})
            return
        generated = store.generated_at(feed.system, days)
        self._send(200, body, {"X-Generated-At": generated} if generated else None)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, root: Path, token: str, fault_rate: float, seed: int):
        super().__init__(address, _Handler)
        self.store = ExportStore(root)
        self.token = token
        self.fault_rate = fault_rate
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()

    def draw_fault(self) -> int | None:
        if self.fault_rate <= 0:
            return None
        with self._rng_lock:
            if self._rng.random() >= self.fault_rate:
                return None
            return 429 if self._rng.random() < 0.5 else 503

    def retry_after(self) -> str:
        with self._rng_lock:
            return self._rng.choice(("0", "1"))


class RunningServer:
    """A server answering in a daemon thread: ``.url``, ``.port``, ``.shutdown()``."""

    def __init__(self, server: _Server):
        self._server = server
        host, port = server.server_address[:2]
        self.host, self.port = host, port
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name=f"cchc-simulator-{port}", daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shutdown()


def serve(root: Path, host: str = "127.0.0.1", port: int = 0, token: str = "demo-token", fault_rate: float = 0.0,
          seed: int = 1) -> RunningServer:
    """Serve the export root ``root`` over HTTP in a daemon thread (port 0: any free port)."""
    if not 0.0 <= fault_rate < 1.0:
        raise ValueError("fault_rate must be in [0, 1)")
    return RunningServer(_Server((host, port), Path(root), token, fault_rate, seed))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cchc_demo.simulator.server",
                                     description="Serve the simulator's export folders through the sources' HTTP API.")
    parser.add_argument("--root", required=True, help="export root ({root}/{system}/{day}/...)")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--token", default=os.environ.get("CCHC_SOURCE_TOKEN", "demo-token"))
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of requests answered 429/503")
    parser.add_argument("--seed", type=int, default=1, help="seed of the fault injection")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server = _Server((args.host, args.port), Path(args.root), args.token, args.fault_rate, args.seed)
    log.info("serving %s on http://%s:%d", args.root, args.host, server.server_address[1])
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
