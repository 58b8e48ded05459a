"""Validation of one delivered batch: every line becomes a landed row or a reject, never nothing.

Each line (file mode: raw bytes; API mode: a decoded JSON item) is parsed, its personal data is
pseudonymised (:mod:`cchc.land.pseudonymise`) and it is checked against the feed's contract
(:mod:`cchc.contracts`). A line that fails goes to ``raw.rejects`` with one reason code (the first
failing check, in the order of the table) and a human reason listing every problem found. Nothing
stops the load.

==========================  =====================================================================
reason_code                 meaning
==========================  =====================================================================
``bad_encoding``            the line is not valid UTF-8, or holds text PostgreSQL cannot store
                            (NUL characters, lone surrogates); ``raw_text`` keeps the line decoded
                            with ``backslashreplace``; ``payload`` when a lenient decoding parses
``invalid_json``            the line is not JSON: truncated, empty, garbage, or NaN/Infinity
``not_an_object``           valid JSON but not an object (array, string, number …)
``missing_key``             a key field (e.g. MaHoSo, BuocXuLy, DocumentId) is absent, null, empty
                            or not a string/integer
``bad_timestamp``           a timestamp is not ``yyyyMMddHHmmss`` or is an impossible date/time
                            (null and "" mean "not set" and are fine)
``unknown_code``            a coded field holds a value outside its code list (the dbt seeds);
                            optional codes may be null/"" (null KenhThucHien = in person)
``dates_out_of_order``      set timestamps break a safe order rule: dossiers NgayNopHoSo ≤
                            NgayTiepNhan ≤ NgayKetThucXuLy ≤ NgayTra; steps NgayBatDau ≤
                            ThoiDiemXuLy; outgoing documents RegisteredAt ≤ DispatchedAt
``outside_snapshot_day``    daily-snapshot feeds: NgayCapNhat is not set or not on the source day
``unknown_reference``       a unit (DonViTiepNhan, DonViXuLy, OrganId) or procedure (MaTTHC) that
                            the reference lists landed for the day (or the latest before) lack
``duplicate``               another line of the batch has the same key: the version with the
                            greatest NgayCapNhat is kept (the last line on a tie; for identical
                            lines, the first), the others are rejected
==========================  =====================================================================

``record_key`` is the key fields' values joined with ``|`` (``MaHoSo|BuocXuLy`` for steps).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterable

from cchc.contracts import KEY_SEPARATOR, UPDATED_FIELD, FeedContract
from cchc.land.pseudonymise import Pseudonymiser

REASON_CODES = (
    "bad_encoding",
    "invalid_json",
    "not_an_object",
    "missing_key",
    "bad_timestamp",
    "unknown_code",
    "dates_out_of_order",
    "outside_snapshot_day",
    "unknown_reference",
    "duplicate",
)


@dataclass(slots=True)
class Row:
    line_no: int
    record_key: str
    updated_at: str | None
    payload: str  # JSON text, pseudonymised


@dataclass(slots=True)
class Reject:
    line_no: int | None
    record_key: str | None
    reason_code: str
    reason: str
    payload: str | None = None  # JSON text, pseudonymised
    raw_text: str | None = None  # scrubbed text of a line that could not be parsed


@dataclass
class Validated:
    rows: list[Row] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)

    def reasons(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rejects:
            out[r.reason_code] = out.get(r.reason_code, 0) + 1
        return out


class _Problem(Exception):
    def __init__(self, code: str, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


@lru_cache(maxsize=131072)
def timestamp_ok(value: str) -> bool:
    """``yyyyMMddHHmmss`` naming a real local date and time."""
    if len(value) != 14 or not (value.isascii() and value.isdigit()):
        return False
    try:
        dt.datetime(int(value[0:4]), int(value[4:6]), int(value[6:8]),
                    int(value[8:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    return True


def _show(value: Any, limit: int = 80) -> str:
    """repr of a value for a reason text, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _path(spec: str) -> tuple[str, str | None]:
    """``"List[].Field"`` → ("List", "Field"); ``"Field"`` → ("Field", None)."""
    if "[]." in spec:
        top, sub = spec.split("[].", 1)
        return top, sub
    return spec, None


def _values(record: dict, path: tuple[str, str | None]) -> tuple | list:
    top, sub = path
    if sub is None:
        return (record.get(top),)
    items = record.get(top)
    if items.__class__ is not list:
        return ()
    return [item.get(sub) for item in items if isinstance(item, dict)]


def _unset(value: Any) -> bool:
    return value is None or value == ""


_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def _dump(value: Any) -> str:
    """Serialise for jsonb; raises _Problem for what PostgreSQL cannot store."""
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:
        raise _Problem("invalid_json", "holds NaN or Infinity, which is not JSON") from None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _Problem("bad_encoding", "holds a lone UTF-16 surrogate, which is not valid Unicode") from None
    if "\\u0000" in text and _NUL_ESCAPE.search(text):
        raise _Problem("bad_encoding", "holds a NUL character, which PostgreSQL text cannot store")
    return text


def _raw_text(data: bytes | str) -> str:
    text = data.decode("utf-8", "backslashreplace") if isinstance(data, bytes) else data
    # PostgreSQL text cannot hold NUL; lone surrogates cannot be encoded: escape both visibly
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _loads(text: str) -> Any:
    return json.loads(text, parse_constant=_no_constant)


def _lenient_decode(data: bytes) -> tuple[Any, str] | None:
    """Parse a line that is not UTF-8 by guessing its encoding; (value, encoding) or None."""
    candidates = ["utf-16"] if b"\x00" in data else []
    candidates += ["cp1258", "latin-1"]
    for encoding in candidates:
        try:
            return _loads(data.decode(encoding)), encoding
        except (UnicodeDecodeError, ValueError):
            continue
    try:
        return _loads(data.decode("utf-8", "replace")), "utf-8 with replacement characters"
    except ValueError:
        return None


class Validator:
    """Validates the lines of one (feed, day) delivery against the feed's contract."""

    def __init__(self, contract: FeedContract, day: dt.date, pseudonymiser: Pseudonymiser,
                 references: dict[str, frozenset[str]] | None = None):
        self.contract = contract
        self.day = day
        self.day_prefix = day.strftime("%Y%m%d")
        self.ps = pseudonymiser
        self.references = references or {}
        missing = {r.reference for r in contract.references} - self.references.keys()
        if missing:
            raise ValueError(f"{contract.feed.name}: reference lists {sorted(missing)} not given")
        self.key_fields = contract.key_fields
        self.ts_paths = [(spec, _path(spec)) for spec in contract.timestamp_fields]
        self.code_rules = [(rule, _path(rule.field), contract.allowed_codes(rule)) for rule in contract.code_fields]
        self.personal = contract.personal_fields

    # -- one line -------------------------------------------------------------------------------

    def _key(self, rec: dict) -> str:
        parts = []
        for name in self.key_fields:
            value = rec.get(name)
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                what = "absent" if name not in rec else f"{type(value).__name__}, not a string"
                raise _Problem("missing_key", f"key field {name} is {what}")
            value = str(value)
            if not value.strip():
                raise _Problem("missing_key", f"key field {name} is empty")
            parts.append(value)
        return KEY_SEPARATOR.join(parts)

    def _check(self, rec: dict) -> list[tuple[str, str]]:
        """Every problem of a parsed record, in reason-code order (key checked before)."""
        problems: list[tuple[str, str]] = []
        for spec, path in self.ts_paths:
            for value in _values(rec, path):
                if value is None or value == "":
                    continue
                if value.__class__ is not str or not timestamp_ok(value):
                    problems.append(("bad_timestamp", f"{spec} = {_show(value)} is not a yyyyMMddHHmmss timestamp"))
                    break
        for rule, path, allowed in self.code_rules:
            for value in _values(rec, path):
                if value is None or value == "":
                    if rule.required and path[1] is None:
                        problems.append(("unknown_code", f"{rule.field} is not set"))
                    continue
                if value.__class__ is not str or value not in allowed:
                    problems.append(("unknown_code", f"{rule.field} = {_show(value)} is not in code list "
                                                     f"{rule.code_list} ({', '.join(sorted(allowed))})"))
                    break
        if not problems:  # date order only makes sense on valid timestamps
            for rule in self.contract.date_order:
                if rule.when and rec.get(rule.when[0]) != rule.when[1]:
                    continue
                previous = None
                for name in rule.fields:
                    value = rec.get(name)
                    if _unset(value):
                        continue
                    if previous is not None and value < previous[1]:
                        problems.append(("dates_out_of_order", f"{previous[0]} {previous[1]} is after {name} {value}"))
                        break
                    previous = (name, value)
        if self.contract.snapshot:
            updated = rec.get(UPDATED_FIELD)
            if _unset(updated):
                problems.append(("outside_snapshot_day", f"{UPDATED_FIELD} is not set"))
            elif not (isinstance(updated, str) and updated.startswith(self.day_prefix)):
                problems.append(("outside_snapshot_day",
                                 f"{UPDATED_FIELD} {_show(updated)} is not on the snapshot day {self.day.isoformat()}"))
        for rule in self.contract.references:
            value = rec.get(rule.field)
            if _unset(value):
                if rule.required:
                    problems.append(("unknown_reference", f"{rule.field} is not set"))
            elif not isinstance(value, str) or value not in self.references[rule.reference]:
                problems.append(("unknown_reference", f"{rule.field} = {_show(value)} is not in the {rule.reference} "
                                                      f"reference list of {self.day.isoformat()}"))
        return problems

    def _record(self, line_no: int, value: Any, out: Validated, encoding_problem: str | None,
                raw: bytes | str | None) -> Row | None:
        if not isinstance(value, dict):
            scrubbed = self.ps.scrub_text(_dump_lenient(value), self.personal)
            payload = _safe_json(scrubbed)
            reason = f"a JSON {type(value).__name__}, not an object"
            code = "not_an_object"
            if encoding_problem:
                code, reason = "bad_encoding", f"{encoding_problem}; {reason}"
            out.rejects.append(Reject(line_no, None, code, reason, payload,
                                      None if payload else _raw_text(scrubbed)))
            return None
        rec, echoes = self.ps.record(value, self.personal)
        problems: list[tuple[str, str]] = []
        if encoding_problem:
            problems.append(("bad_encoding", encoding_problem))
        key = None
        try:
            key = self._key(rec)
        except _Problem as p:
            problems.append((p.code, p.reason))
        problems += self._check(rec)
        try:
            if rec is value and isinstance(raw, str) and "\\u" not in raw:
                text = raw  # unchanged, valid UTF-8 JSON without escapes jsonb may refuse: as delivered
            else:
                text = _dump(rec)
            if echoes:
                text = self.ps.scrub_echoes(text, echoes)
        except _Problem as p:
            problems.insert(0, (p.code, p.reason))
            text = None
        if problems:
            raw_text = None
            if text is None or encoding_problem:  # keep the line as delivered, scrubbed
                source = _raw_text(raw if raw is not None else _dump_lenient(rec))
                raw_text = self.ps.scrub_echoes(self.ps.scrub_text(source, self.personal), echoes)
            out.rejects.append(Reject(line_no, key and _raw_text(key), problems[0][0],
                                      "; ".join(p[1] for p in problems), text, raw_text))
            return None
        updated = rec.get(UPDATED_FIELD)
        return Row(line_no, key, updated if isinstance(updated, str) and updated else None, text)

    def _line(self, line_no: int, item: Any, out: Validated) -> Row | None:
        if not isinstance(item, (bytes, bytearray)):
            return self._record(line_no, item, out, None, None)
        data = bytes(item)
        if data.endswith(b"\r"):
            data = data[:-1]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            problem = f"not valid UTF-8 (byte {exc.start}: {data[exc.start:exc.start + 4]!r})"
            parsed = _lenient_decode(data)
            if parsed is not None:
                return self._record(line_no, parsed[0], out, f"{problem}; parsed as {parsed[1]}", data)
            out.rejects.append(Reject(line_no, None, "bad_encoding", problem, None,
                                      _raw_text(self.ps.scrub_text(_raw_text(data), self.personal))))
            return None
        if text.startswith("\ufeff"):
            text = text[1:]
        try:
            value = _loads(text)
        except ValueError as exc:
            reason = "empty line" if not text.strip() else f"not valid JSON ({exc})"
            out.rejects.append(Reject(line_no, None, "invalid_json", reason, None,
                                      _raw_text(self.ps.scrub_text(text, self.personal))))
            return None
        return self._record(line_no, value, out, None, text)

    # -- the batch ------------------------------------------------------------------------------

    def run(self, items: Iterable[tuple[int, Any]]) -> Validated:
        out = Validated()
        by_key: dict[str, list[Row]] = {}
        for line_no, item in items:
            row = self._line(line_no, item, out)
            if row is not None:
                by_key.setdefault(row.record_key, []).append(row)
        for key, rows in by_key.items():
            if len(rows) == 1:
                out.rows.append(rows[0])
                continue
            winner = max(rows, key=lambda r: (r.updated_at or "", r.line_no))
            winner = next(r for r in rows if r.payload == winner.payload)  # first of identical lines
            out.rows.append(winner)
            for r in rows:
                if r is winner:
                    continue
                if r.payload == winner.payload:
                    reason = f"exact duplicate of line {winner.line_no} (key {key})"
                else:
                    reason = (f"key {key} also at line {winner.line_no} with {UPDATED_FIELD} "
                              f"{winner.updated_at or 'not set'}, which is kept (this line: {r.updated_at or 'not set'})")
                out.rejects.append(Reject(r.line_no, key, "duplicate", reason, r.payload, None))
        out.rows.sort(key=lambda r: r.line_no)
        out.rejects.sort(key=lambda r: (r.line_no is None, r.line_no or 0))
        return out


def _dump_lenient(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=True)


def _safe_json(text: str) -> str | None:
    """``text`` when PostgreSQL's jsonb accepts it, else None."""
    try:
        return _dump(json.loads(text))
    except (ValueError, _Problem):
        return None
