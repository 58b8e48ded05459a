"""Bad-record injection into the ``dossiers``, ``steps``, ``feedback``, ``ratings`` and ``documents`` files.

Bad lines are **extra** lines inserted at random places of a day's file: the valid records of the
day are all still there, unchanged, so every count the summary reports for valid records holds
whatever ``bad_rate`` is. About ``bad_rate`` of the file's lines are bad (n_bad ≈ valid ×
rate / (1 − rate)); the kinds rotate so that over a few days each kind is about rate / 7.

Except ``duplicate``, a bad line is a damaged copy of a valid record of the same file that got a
**fresh key** (MaHoSo / DocumentId ``<prefix>-<yyMMdd of the file's day>-9NNN``), so that it never
shadows a valid record, in a file or through the HTTP API (feedback: MaPAKN; ratings: MaHoSo). Kinds:

- ``missing_key``: the key field (MaHoSo, DocumentId) absent or "";
- ``unknown_code``: e.g. TrangThaiHoSo "11", KenhThucHien "9", TrangThai "12", Direction "SIDEWAYS",
  Kenh "fax", MucDo "5";
- ``bad_timestamp``: e.g. "2025-13-45" or "20250230XXXXXX" in NgayTiepNhan / ThoiDiemXuLy /
  RegisteredAt / NgayDanhGia (NgayCapNhat stays valid);
- ``dates_out_of_order``: dossiers: NgayKetThucXuLy before NgayTiepNhan; steps: NgayBatDau after
  ThoiDiemXuLy; documents: an OUT record dispatched before it was registered; feedback: handled
  before it was received; ratings: voted after the record's NgayCapNhat;
- ``duplicate``: an exact copy of an earlier line of the same file (same key);
- ``truncated``: the line cut in the middle (valid UTF-8, invalid JSON);
- ``bad_encoding``: the line encoded in Windows-1258 (cp1258), not valid UTF-8 (a record without
  any non-ASCII character, as feedback and ratings are, first gets a Vietnamese note ``GhiChu``).

Every bad line is listed in ``_simulator/injected.json`` as {system, feed, day, line_no (1-based,
in the file as written), kind, key}; key is the record's key as one string (steps:
``MaHoSo|BuocXuLy``), null for ``missing_key``.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import unicodedata

from cchc_demo.simulator.clock import parse_ts, ts
from cchc_demo.simulator.config import FeedInfo, SimulatorConfig, record_key
from cchc_demo.simulator.rand import stream
from cchc_demo.simulator.timeline import dumps

KINDS = ("missing_key", "unknown_code", "bad_timestamp", "dates_out_of_order", "duplicate", "truncated",
         "bad_encoding")
CORRUPTIBLE = ("dossiers", "steps", "feedback", "ratings", "documents")
_ID_FIELD = {"dossiers": "MaHoSo", "steps": "MaHoSo", "feedback": "MaPAKN", "ratings": "MaHoSo",
             "documents": "DocumentId"}
_UNKNOWN = {"dossiers": (("TrangThaiHoSo", "11"), ("KenhThucHien", "9"), ("LoaiDoiTuong", "7")),
            "steps": (("TrangThai", "12"), ("TrangThai", "0")),
            "feedback": (("Kenh", "fax"), ("PhanLoai", "KHIEU_NAI"), ("KetQua", "OK")),
            "ratings": (("MucDo", "5"), ("MucDo", "0")),
            "documents": (("Direction", "SIDEWAYS"), ("Channel", "FAX"))}
_TIMESTAMP_FIELDS = {"dossiers": ("NgayTiepNhan", "NgayNopHoSo"), "steps": ("ThoiDiemXuLy",),
                     "feedback": ("NgayTiepNhan",), "ratings": ("NgayDanhGia",),
                     "documents": ("RegisteredAt", "PromulgationDate")}
_TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")


def cp1258(text: str) -> bytes:
    """``text`` in Windows-1258: base letters precomposed, tone marks as combining characters."""
    out = []
    for ch in text:
        try:
            out.append(ch.encode("cp1258"))
            continue
        except UnicodeEncodeError:
            pass
        parts = unicodedata.normalize("NFD", ch)
        base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in _TONE_MARKS))
        out.append((base + "".join(c for c in parts if c in _TONE_MARKS)).encode("cp1258", errors="replace"))
    data = b"".join(out)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return data
    return data.replace(b" ", b"\xa0", 1) if b" " in data else b"\xff" + data  # pure ASCII: force it


class Corruptor:
    """Inserts bad lines into files and remembers what it did (ground truth for tests)."""

    def __init__(self, cfg: SimulatorConfig):
        self.cfg = cfg
        self.injected: list[dict] = []
        self._kinds: dict[str, list[str]] = {}

    def apply(self, feed: FeedInfo, day: dt.date, lines: list[str]) -> list[bytes]:
        """The file's lines as bytes, with bad lines inserted when the feed takes them."""
        encoded = [line.encode("utf-8") for line in lines]
        rate = self.cfg.bad_rate
        if rate <= 0 or not lines or feed.name not in CORRUPTIBLE:
            return encoded
        rng = stream(self.cfg.seed, "bad", feed.name, day.isoformat())
        expected = len(lines) * rate / (1 - rate)
        count = int(expected) + (1 if rng.random() < expected - int(expected) else 0)
        entries: list[tuple[bytes, dict | None]] = [(b, None) for b in encoded]
        for n in range(1, count + 1):
            kind = self._next_kind(feed.name, rng)
            meta = {"system": feed.system, "feed": feed.name, "day": day.isoformat(), "line_no": 0, "kind": kind,
                    "key": None}
            if kind == "duplicate":
                src = rng.randrange(len(lines))
                line = encoded[src]
                meta["key"] = record_key(feed, json.loads(lines[src]))
                at = entries.index((line, None)) + 1
                entries.insert(rng.randint(at, len(entries)), (line, meta))
                continue
            record = self._damaged(feed, kind, day, n, lines, rng)
            meta["key"] = record_key(feed, record)
            text = dumps(record)
            if kind == "truncated":
                line = text[: rng.randint(len(text) // 5, len(text) * 4 // 5)].encode("utf-8")
            elif kind == "bad_encoding":
                if text.isascii():  # reads the same in both encodings (feedback, ratings): add a note
                    record["GhiChu"] = "Phản ánh đã chuyển xử lý"
                    text = dumps(record)
                line = cp1258(text)
            else:
                line = text.encode("utf-8")
            entries.insert(rng.randint(0, len(entries)), (line, meta))
        for line_no, (_line, meta) in enumerate(entries, start=1):
            if meta is not None:
                meta["line_no"] = line_no
                self.injected.append(meta)
        return [line for line, _meta in entries]

    def _next_kind(self, feed: str, rng: random.Random) -> str:
        queue = self._kinds.setdefault(feed, [])
        if not queue:
            queue.extend(KINDS)
            rng.shuffle(queue)
        return queue.pop()

    def _damaged(self, feed: FeedInfo, kind: str, day: dt.date, n: int, lines: list[str],
                 rng: random.Random) -> dict:
        """A copy of a valid record with a fresh key, damaged according to ``kind``."""
        record = json.loads(self._source(feed.name, kind, lines, rng))
        id_field = _ID_FIELD[feed.name]
        prefix = str(record[id_field]).rsplit("-", 2)[0]
        record[id_field] = f"{prefix}-{day:%y%m%d}-{9000 + n:04d}"
        if kind == "missing_key":
            if rng.random() < 0.5:
                del record[id_field]
            else:
                record[id_field] = ""
        elif kind == "unknown_code":
            field, value = rng.choice(_UNKNOWN[feed.name])
            record[field] = value
        elif kind == "bad_timestamp":
            field = next((f for f in _TIMESTAMP_FIELDS[feed.name] if record.get(f)), _TIMESTAMP_FIELDS[feed.name][0])
            record[field] = rng.choice((f"{day.year}-13-45", f"{day.year}0230XXXXXX", f"{day.year}1345256199",
                                        f"31/12/{day.year} 10:00"))
        elif kind == "dates_out_of_order":
            _reorder(feed.name, record, rng)
        return record

    @staticmethod
    def _source(feed: str, kind: str, lines: list[str], rng: random.Random) -> str:
        """A valid line to damage: one where the damage makes sense, when the file has one."""
        if feed == "dossiers" and kind == "dates_out_of_order":
            wanted = ('"NgayTiepNhan":"2',)
        elif feed == "documents" and kind == "dates_out_of_order":
            wanted = ('"Direction":"OUT"',)
        elif feed == "documents":  # leave the outgoing numbering alone
            wanted = ('"Direction":"IN"',)
        else:
            wanted = ()
        for _ in range(30):
            line = rng.choice(lines)
            if all(w in line for w in wanted):
                return line
        return rng.choice(lines)


def _reorder(feed: str, record: dict, rng: random.Random) -> None:
    if feed == "dossiers":
        received = parse_ts(record.get("NgayTiepNhan")) or parse_ts(record.get("NgayCapNhat"))
        record["NgayTiepNhan"] = ts(received)
        record["NgayKetThucXuLy"] = ts(received - dt.timedelta(days=rng.randint(1, 3), minutes=rng.randint(0, 600)))
        if record.get("TrangThaiHoSo") not in ("7", "8", "9", "10"):
            record["TrangThaiHoSo"] = "9"
    elif feed == "steps":
        done = parse_ts(record.get("ThoiDiemXuLy")) or parse_ts(record.get("NgayCapNhat"))
        record["NgayBatDau"] = ts(done + dt.timedelta(days=rng.randint(1, 3)))
    elif feed == "feedback":
        received = parse_ts(record.get("NgayTiepNhan")) or parse_ts(record.get("NgayCapNhat"))
        record["NgayTiepNhan"] = ts(received)
        record["NgayXuLy"] = ts(received - dt.timedelta(days=rng.randint(1, 3), minutes=rng.randint(0, 600)))
    elif feed == "ratings":
        updated = parse_ts(record.get("NgayCapNhat"))
        record["NgayDanhGia"] = ts(updated + dt.timedelta(minutes=rng.randint(1, 30)))
    else:
        registered = parse_ts(record.get("RegisteredAt")) or parse_ts(record.get("NgayCapNhat"))
        record.update(Direction="OUT", FromOrganId=record.get("OrganId"), RegisteredAt=ts(registered),
                      DispatchedAt=ts(registered - dt.timedelta(days=1, minutes=rng.randint(0, 600))))
