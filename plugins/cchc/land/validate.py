"""Validation of one delivered batch: every line becomes a landed row or a reject, never nothing.

Each line (file mode: raw bytes; API mode: a decoded JSON item) is parsed, its personal data is
pseudonymised (:mod:`cchc.land.pseudonymise`) and it is checked against the feed's contract
(:mod:`cchc.contracts`). A line that fails goes to ``raw.rejects`` with one reason code (the first
failing check, in the order of the table) and a human reason listing every problem found. Nothing
stops the load: whatever a line holds (any depth, size, syntax or encoding), it is a row or a reject.
The limits below are :class:`cchc.settings.LandingLimits` (environment variables in brackets).

==========================  =====================================================================
reason_code                 meaning
==========================  =====================================================================
``line_too_large``          the line (API: the item as compact JSON) is longer than
                            ``max_line_bytes`` (CCHC_LANDING_MAX_LINE_BYTES, 2 MiB); it is not
                            parsed; ``raw_text`` keeps its first 2,000 characters, redacted
``too_deep``                arrays/objects nest deeper than ``max_depth`` (CCHC_LANDING_MAX_DEPTH,
                            32); found by an iterative scan before parsing, never by recursion
``bad_encoding``            the line is not valid UTF-8, or holds text PostgreSQL cannot store
                            (NUL characters, lone surrogates); ``raw_text`` keeps the line decoded
                            (UTF-8, undecodable bytes read as Windows-1258; UTF-16 when it is),
                            redacted; ``payload`` when a lenient decoding parses
``invalid_json``            the line is not JSON: truncated, empty, garbage, or NaN/Infinity
``not_an_object``           valid JSON but not an object (array, string, number …)
``missing_key``             a key field (e.g. MaHoSo, BuocXuLy, DocumentId) is absent, null, empty
                            or not a string/integer (a key field the feed declares blank-able,
                            ``Feed.blank_key_fields``, may be "" or null: targets' UnitId, where
                            empty means every unit of the level)
``bad_timestamp``           a timestamp is not ``yyyyMMddHHmmss`` or is an impossible date/time
                            (null and "" mean "not set" and are fine, except for the contract's
                            ``required_timestamps``: feedback NgayTiepNhan, ratings NgayDanhGia)
``bad_number``              a numeric field (``NumberRule``: targets' Year and TargetValue) is not
                            set when required, is not a number (a JSON number or a plain decimal
                            string; a whole number where an integer is asked), or lies outside its
                            range (Year 2000..2100, TargetValue 0..1)
``unknown_code``            a coded field holds a value outside its code list (the dbt seeds);
                            optional codes may be null/"" (null KenhThucHien = in person)
``dates_out_of_order``      set timestamps break a safe order rule: dossiers NgayNopHoSo ≤
                            NgayTiepNhan ≤ NgayKetThucXuLy ≤ NgayTra; steps NgayBatDau ≤
                            ThoiDiemXuLy; outgoing documents RegisteredAt ≤ DispatchedAt
``implausible_timestamp``   a valid timestamp outside the plausible window (:class:`TimestampWindow`,
                            the one place the rule lives): an *event* after the end of the snapshot
                            day plus ``future_tolerance_minutes`` (60); in the daily-snapshot feeds,
                            any timestamp more than ``max_years_back`` (10) years before the
                            snapshot day; a *deadline* (``DeadlineRule`` of the contracts:
                            NgayHenTra, supplements' and apology slips' due dates, a step's
                            NgayKetThucTheoQuyDinh, a document's HandlingDueDate) more than
                            ``max_due_years_ahead`` (2) years after the snapshot day, or more than
                            ``max_due_days_before_anchor`` (30) days before the event it counts
                            from (NgayTiepNhan, NgayBatDau, RegisteredAt). NgayCapNhat of the
                            snapshot feeds is left to ``outside_snapshot_day``
``outside_snapshot_day``    daily-snapshot feeds: NgayCapNhat is not set or not on the source day
``unknown_reference``       a unit (DonViTiepNhan, DonViXuLy, OrganId) or procedure (MaTTHC) that
                            the reference lists landed for the day (or the latest before) lack
``reference_mismatch``      a field that must agree with its reference record does not
                            (``MatchRule``): a dossier's MaLinhVuc, when set, must be the MaLinhVuc
                            of its procedure (MaTTHC) in that procedures list — a field code never
                            comes from a dossier alone. The reason says whether the code is a
                            field of any procedure at all. (An empty MaLinhVuc is left to the
                            report's exclusion rules.)
``duplicate``               another line of the batch has the same key: the version with the
                            greatest NgayCapNhat is kept (the last line on a tie; for identical
                            lines, the first), the others are rejected
``unreadable``              anything else that made the line impossible to process (an unexpected
                            error; it is logged with the line number); the load goes on
==========================  =====================================================================

``record_key`` is the key fields' values joined with ``|`` (``MaHoSo|BuocXuLy`` for steps).

Personal data never reaches a reject in clear: ``payload`` is the pseudonymised record,
``raw_text`` (lines that could not be parsed) is redacted by :mod:`cchc.land.redact` (key-aware
for any quoting or ``key=value`` syntax, plus a fallback for e-mails, digit runs and names), and
``reason`` texts show only non-personal fields, with any echo of a personal value replaced.
"""

from __future__ import annotations

import codecs
import datetime as dt
import json
import logging
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import msgspec

from cchc.contracts import KEY_SEPARATOR, UPDATED_FIELD, FeedContract
from cchc.land.pseudonymise import PREFIX, Pseudonymiser
from cchc.land.redact import Redactor, personal_kind, storable_text
from cchc.settings import LandingLimits

log = logging.getLogger(__name__)

REASON_CODES = (
    "line_too_large",
    "too_deep",
    "bad_encoding",
    "invalid_json",
    "not_an_object",
    "missing_key",
    "bad_timestamp",
    "bad_number",
    "unknown_code",
    "dates_out_of_order",
    "implausible_timestamp",
    "outside_snapshot_day",
    "unknown_reference",
    "reference_mismatch",
    "duplicate",
    "unreadable",
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
    """Text PostgreSQL can store: bytes decoded for reading (see :func:`decode_for_reading`), NUL and
    lone surrogates escaped visibly."""
    return storable_text(decode_for_reading(data) if isinstance(data, bytes) else data)


def _cp1258_bytes(exc: UnicodeDecodeError):
    bad = exc.object[exc.start:exc.end]
    out = []
    for b in bad:
        try:
            out.append(bytes([b]).decode("cp1258"))
        except UnicodeDecodeError:
            out.append(bytes([b]).decode("latin-1"))
    return "".join(out), exc.end


codecs.register_error("cchc-cp1258", _cp1258_bytes)


def decode_for_reading(data: bytes) -> str:
    """Bytes as a person would read them: UTF-16 when the line looks like it, else UTF-8 with each
    undecodable byte read as Windows-1258 (mixed lines keep their UTF-8 parts), NFC.

    Personal values are visible in this decoding, so the redaction that follows can find them."""
    if data.count(b"\x00") * 3 >= len(data) > 0 or data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return unicodedata.normalize("NFC", data.decode("utf-16", "replace"))
        except UnicodeError:
            pass
    return unicodedata.normalize("NFC", data.decode("utf-8", "cchc-cp1258"))


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _loads(text: str) -> Any:
    return json.loads(text, parse_constant=_no_constant)


_FAST_DECODER = msgspec.json.Decoder()


def parse_line(text: str) -> Any:
    """``json.loads`` semantics, faster: msgspec's decoder (about 2.5x faster on a dossier line) for
    what it accepts, which it decodes to the same values; anything it refuses (NaN, Infinity, lone
    surrogate escapes, numbers out of float range, any syntax error) goes to ``json.loads``, whose
    result or error is then the answer — so every line is read exactly as before."""
    try:
        return _FAST_DECODER.decode(text)
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError, OverflowError, RecursionError):
        return _loads(text)


_PARSE_ERRORS = (ValueError, RecursionError, MemoryError, OverflowError, TypeError)


def _lenient_decode(data: bytes) -> tuple[Any, str] | None:
    """Parse a line that is not UTF-8 by guessing its encoding; (value, encoding) or None."""
    candidates = ["utf-16"] if b"\x00" in data else []
    candidates += ["cp1258", "latin-1"]
    for encoding in candidates:
        try:
            return _loads(data.decode(encoding)), encoding
        except _PARSE_ERRORS:
            continue
    try:
        return _loads(data.decode("utf-8", "replace")), "utf-8 with replacement characters"
    except _PARSE_ERRORS:
        return None


_STRUCTURE = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.S)


def nesting_exceeds(data: bytes, limit: int) -> bool:
    """Whether arrays/objects in the (JSON-like) bytes nest deeper than ``limit``; iterative.

    Brackets inside double-quoted strings do not count; unbalanced text counts its open brackets."""
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    depth = 0
    for m in _STRUCTURE.finditer(data):
        ch = m.group()
        if ch in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif ch in (b"]", b"}"):
            depth = max(0, depth - 1)
    return False


def value_depth_exceeds(value: Any, limit: int) -> bool:
    """Whether a decoded value nests lists/dicts deeper than ``limit``; iterative."""
    if not isinstance(value, (list, dict)):
        return False
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, depth + 1) for c in children if isinstance(c, (list, dict)))
    return False


def _ts(moment: dt.datetime) -> str:
    return moment.strftime("%Y%m%d%H%M%S")


def _years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


class TimestampWindow:
    """The plausibility window of every timestamp of a feed on a snapshot day — the one rule.

    Events (every declared timestamp that is no deadline) must not lie after the end of the snapshot
    day plus ``future_tolerance_minutes``. Deadlines (``DeadlineRule``) may lie ahead, at most
    ``max_due_years_ahead`` years after the snapshot day, and not more than
    ``max_due_days_before_anchor`` days before their anchor event when it is set. In the daily-snapshot
    feeds nothing may lie more than ``max_years_back`` years before the snapshot day (a whole reference
    list may hold records last changed long ago). NgayCapNhat of the snapshot feeds is checked more
    strictly by ``outside_snapshot_day``. Timestamps compare as ``yyyyMMddHHmmss`` strings.
    """

    def __init__(self, contract: FeedContract, day: dt.date, limits: LandingLimits):
        self.limits = limits
        self.day = day
        start = dt.datetime.combine(day, dt.time())
        self.event_max = _ts(start + dt.timedelta(days=1, minutes=limits.future_tolerance_minutes)
                             - dt.timedelta(seconds=1))
        self.deadline_max = _ts(dt.datetime.combine(_years(day, limits.max_due_years_ahead), dt.time(23, 59, 59)))
        self.oldest = _ts(dt.datetime.combine(_years(day, -limits.max_years_back), dt.time())) \
            if contract.snapshot else None
        self.deadlines = frozenset(contract.deadline_anchors)
        anchors = contract.deadline_anchors
        #: {timestamp spec: (lowest, highest, anchor)}: a value within [lowest, highest] and not before
        #: its anchor is plausible at once; anything else is looked at by check()
        self.bounds: dict[str, tuple[str, str, str | None]] = {
            spec: (self.oldest or "", self.deadline_max if spec in anchors else self.event_max, anchors.get(spec))
            for spec in contract.timestamp_fields if not (contract.snapshot and spec == UPDATED_FIELD)}

    def quick_ok(self, rec: dict, spec: str, value: str) -> bool:
        bounds = self.bounds.get(spec)
        if bounds is None:
            return True
        lowest, highest, anchor = bounds
        if value < lowest or value > highest:
            return False
        start = rec.get(anchor) if anchor else None
        return not (start.__class__ is str and value < start)

    def check(self, rec: dict, spec: str, value: str) -> str | None:
        """Why the valid timestamp ``value`` of ``spec`` is implausible, or None."""
        if spec not in self.bounds:
            return None
        L = self.limits
        anchor = self.bounds[spec][2]
        if self.oldest and value < self.oldest:
            return (f"{spec} {value} is more than {L.max_years_back} years before the snapshot day "
                    f"{self.day.isoformat()} (CCHC_LANDING_MAX_YEARS_BACK)")
        if spec not in self.deadlines:
            if value > self.event_max:
                return (f"{spec} {value} is after the end of the snapshot day {self.day.isoformat()} "
                        f"(+{L.future_tolerance_minutes} min, CCHC_LANDING_FUTURE_TOLERANCE_MINUTES)")
            return None
        if value > self.deadline_max:
            return (f"{spec} {value} is more than {L.max_due_years_ahead} years after the snapshot day "
                    f"{self.day.isoformat()} (CCHC_LANDING_MAX_DUE_YEARS_AHEAD)")
        start = rec.get(anchor) if anchor else None
        if start.__class__ is str and timestamp_ok(start):
            lowest = dt.datetime(int(start[0:4]), int(start[4:6]), int(start[6:8]), int(start[8:10]),
                                 int(start[10:12]), int(start[12:14])) - dt.timedelta(days=L.max_due_days_before_anchor)
            if value < _ts(lowest):
                return (f"{spec} {value} is more than {L.max_due_days_before_anchor} days before {anchor} "
                        f"{start} (CCHC_LANDING_MAX_DUE_DAYS_BEFORE_ANCHOR)")
        return None


_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_DIGITS = re.compile(r"-?[0-9]+")


def number_problem(rule, value: Any) -> str | None:
    """Why ``value`` breaks the :class:`cchc.contracts.NumberRule` ``rule``, or None. The one reading of
    a delivered number: a JSON number (never a boolean) or a plain decimal string, so that staging's
    ``cast(... as numeric)`` of an accepted value cannot fail."""
    if _unset(value) or (isinstance(value, str) and not value.strip()):
        return f"{rule.field} is not set (required)" if rule.required else None
    if isinstance(value, bool):
        return f"{rule.field} = {_show(value)} is not a number"
    if isinstance(value, str):
        text = value.strip()
        if not (_DIGITS if rule.integer else _DECIMAL).fullmatch(text):
            return f"{rule.field} = {_show(value)} is not {'a whole number' if rule.integer else 'a number'}"
        number = float(text)
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if rule.integer:
            return f"{rule.field} = {_show(value)} is not a whole number"
        if value != value or value in (float("inf"), float("-inf")):
            return f"{rule.field} = {_show(value)} is not a number"
        number = value
    else:
        return f"{rule.field} = {_show(value)} is not a number"
    if (rule.minimum is not None and number < rule.minimum) or (rule.maximum is not None and number > rule.maximum):
        low = "" if rule.minimum is None else f"{rule.minimum:g}"
        high = "" if rule.maximum is None else f"{rule.maximum:g}"
        return f"{rule.field} = {_show(value)} is outside {low}..{high}"
    return None


class Validator:
    """Validates the lines of one (feed, day) delivery against the feed's contract.

    ``references``: {reference feed: its records}, a mapping {key: {attribute: value}} (what
    :func:`cchc.land.loader.reference_keys` returns); a plain set of keys is enough for a reference
    that no ``MatchRule`` reads. ``limits``: :class:`~cchc.settings.LandingLimits`, from the
    environment when not given.
    """

    def __init__(self, contract: FeedContract, day: dt.date, pseudonymiser: Pseudonymiser,
                 references: Mapping[str, Any] | None = None, limits: LandingLimits | None = None):
        self.contract = contract
        self.day = day
        self.day_prefix = day.strftime("%Y%m%d")
        self.ps = pseudonymiser
        self.references = references or {}
        self.limits = limits or LandingLimits.from_env()
        missing = ({r.reference for r in contract.references} | {m.reference for m in contract.matches}) \
            - self.references.keys()
        if missing:
            raise ValueError(f"{contract.feed.name}: reference lists {sorted(missing)} not given")
        for m in contract.matches:
            if not isinstance(self.references[m.reference], Mapping):
                raise ValueError(f"{contract.feed.name}: the {m.reference} reference list must map keys to "
                                 f"records ({m.field} is compared with their {m.attribute})")
        self.key_fields = contract.key_fields
        self.blank_key_fields = frozenset(contract.feed.blank_key_fields)
        self.ts_paths = [(spec, _path(spec)) for spec in contract.timestamp_fields]
        self.window = TimestampWindow(contract, day, self.limits)
        self.code_rules = [(rule, _path(rule.field), contract.allowed_codes(rule)) for rule in contract.code_fields]
        self.personal = contract.personal_fields
        self._personal_names = frozenset(pf.field for pf in self.personal)
        self._plain_keys: set = set()  # key names known not to be personal (a cache)
        self._attribute_values = {
            (m.reference, m.attribute): frozenset(r.get(m.attribute) for r in self.references[m.reference].values()
                                                  if isinstance(r, Mapping))
            for m in contract.matches}
        self.redactor = Redactor(pseudonymiser, (k for refs in self.references.values() for k in refs))

    # -- one line -------------------------------------------------------------------------------

    def _key(self, rec: dict) -> str:
        parts = []
        for name in self.key_fields:
            value = rec.get(name)
            if name in self.blank_key_fields and (value is None or (isinstance(value, str) and not value.strip())):
                parts.append("")  # empty is a value of this key field (e.g. targets' UnitId: the whole level)
                continue
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
        implausible: list[tuple[str, str]] = []
        window = self.window
        for spec, path in self.ts_paths:
            if path[1] is None:  # a top-level field: the common, valid case is settled at once
                value = rec.get(path[0])
                if value is None or value == "" or (value.__class__ is str and timestamp_ok(value)
                                                    and window.quick_ok(rec, spec, value)):
                    continue
                values = (value,)
            else:
                values = _values(rec, path)
            flagged = False
            for value in values:
                if value is None or value == "":
                    continue
                if value.__class__ is not str or not timestamp_ok(value):
                    problems.append(("bad_timestamp", f"{spec} = {_show(value)} is not a yyyyMMddHHmmss timestamp"))
                    break
                if not flagged and not window.quick_ok(rec, spec, value):
                    why = window.check(rec, spec, value)
                    if why:
                        implausible.append(("implausible_timestamp", why))
                        flagged = True
        for name in self.contract.required_timestamps:
            if _unset(rec.get(name)):
                problems.append(("bad_timestamp", f"{name} is not set (required)"))
        for rule in self.contract.numbers:
            why = number_problem(rule, rec.get(rule.field))
            if why:
                problems.append(("bad_number", why))
        for rule, path, allowed in self.code_rules:
            if path[1] is None:
                value = rec.get(path[0])
                if value.__class__ is str and value in allowed:
                    continue
                values = (value,)
            else:
                values = _values(rec, path)
            for value in values:
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
        problems += implausible
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
        for m in self.contract.matches:
            value = rec.get(m.field)
            via = rec.get(m.via)
            if _unset(value) or not isinstance(via, str):
                continue
            record = self.references[m.reference].get(via)
            if not isinstance(record, Mapping):
                continue  # the unknown reference is reported above
            expected = record.get(m.attribute)
            if value != expected:
                known = "" if value in self._attribute_values[(m.reference, m.attribute)] else \
                    f"; no record of that list has {m.attribute} {_show(value)}"
                problems.append(("reference_mismatch",
                                 f"{m.field} = {_show(value)} is not the {m.attribute} of {m.via} {via} in the "
                                 f"{m.reference} reference list of {self.day.isoformat()} ({_show(expected)}){known}"))
        return problems

    def _scrub_value(self, value: Any, free_text: bool) -> Any:
        """``value`` with every personal key's value hashed at any depth (exact or alias names); with
        ``free_text`` every other string is redacted too (items that are not records). Copies only
        what changes: an untouched value is returned as the same object."""
        if isinstance(value, dict):
            out = None
            for k, v in value.items():
                kind = personal_kind(k) if isinstance(k, str) else None
                if kind:
                    new = v if _unset(v) or (isinstance(v, str) and v.startswith(PREFIX)) else self.ps.token(kind, v)
                else:
                    new = self._scrub_value(v, free_text)
                if new is not v:
                    if out is None:
                        out = dict(value)
                    out[k] = new
            return value if out is None else out
        if isinstance(value, list):
            new_items = [self._scrub_value(v, free_text) for v in value]
            return value if all(a is b for a, b in zip(new_items, value, strict=True)) else new_items
        if free_text and isinstance(value, str):
            text = self.redactor.redact(value)
            return value if text == value else text
        if free_text and isinstance(value, (int, float)) and not isinstance(value, bool):
            text = self.redactor.redact(repr(value))
            return value if text == repr(value) else text
        return value

    def _personal_elsewhere(self, rec: dict) -> bool:
        """Whether a record holds personal keys beyond its contract's top-level fields (alias names at
        the top, any personal name deeper); iterative, looks at keys only."""
        plain, names = self._plain_keys, self._personal_names
        stack: list = [rec]
        top = True
        while stack:
            node = stack.pop()
            if node.__class__ is dict:
                for k, v in node.items():
                    if k not in plain and not (top and k in names):
                        if k.__class__ is str and personal_kind(k):
                            return True
                        if len(plain) < 10_000:
                            plain.add(k)
                    if (v.__class__ is dict or v.__class__ is list) and v:
                        stack.append(v)
            elif node.__class__ is list:
                stack.extend(v for v in node if (v.__class__ is dict or v.__class__ is list) and v)
            top = False
        return False

    def _record(self, line_no: int, value: Any, out: Validated | _Sink, encoding_problem: str | None,
                raw: bytes | str | None) -> Row | None:
        if not isinstance(value, dict):
            scrubbed = self._scrub_value(value, free_text=True)
            reason = f"a JSON {type(value).__name__}, not an object"
            code = "not_an_object"
            if encoding_problem:
                code, reason = "bad_encoding", f"{encoding_problem}; {reason}"
            try:
                payload, raw_text = _dump(scrubbed), None
            except _Problem:
                payload, raw_text = None, _raw_text(self.redactor.redact(_dump_lenient(scrubbed)))
            out.rejects.append(Reject(line_no, None, code, reason, payload, raw_text))
            return None
        rec, echoes = self.ps.record(value, self.personal)
        elsewhere = self._personal_elsewhere(rec)
        if elsewhere:
            rec = self._scrub_value(rec, free_text=False)
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
            elif not elsewhere and isinstance(raw, str) and "\\" not in raw \
                    and (kept := self.ps.in_line(raw, value, rec, self.personal)) is not None:
                # the line as delivered with only its personal values replaced (no re-serialising);
                # lines with any escape, personal keys elsewhere or an unusual layout take _dump
                text = kept
            else:
                text = _dump(rec)
            if echoes:
                text = self.ps.scrub_echoes(text, echoes)
        except _Problem as p:
            problems.insert(0, (p.code, p.reason))
            text = None
        if problems:
            raw_text = None
            if text is None or encoding_problem:  # keep the line as delivered, redacted
                source = _raw_text(raw if raw is not None else _dump_lenient(rec))
                raw_text = _raw_text(self.redactor.redact(source, echoes))
            reason = self.redactor.echoes("; ".join(p[1] for p in problems), dict(echoes))
            if key is not None:
                key = _raw_text(self.redactor.echoes(key, dict(echoes)))
            out.rejects.append(Reject(line_no, key, problems[0][0], reason, text, raw_text))
            return None
        updated = rec.get(UPDATED_FIELD)
        return Row(line_no, key, updated if isinstance(updated, str) and updated else None, text)

    def _excerpt(self, data: bytes | str, limit: int = 2000) -> str:
        """The start of an oversized or unreadable line, decoded and redacted."""
        size = len(data)
        head = data[: limit * 4] if isinstance(data, bytes) else data[:limit]
        full = _raw_text(head)
        text = full[:limit]
        shown = _raw_text(self.redactor.redact(text))
        if len(head) < size or len(text) < len(full):
            shown += f" … [cut: the line has {size} {'bytes' if isinstance(data, bytes) else 'characters'}]"
        return shown

    def _line(self, line_no: int, item: Any, out: Validated | _Sink) -> Row | None:
        try:
            return self._line_checked(line_no, item, out)
        except Exception as exc:  # never let one line stop the load
            log.warning("%s line %d could not be processed (%s); it is rejected as unreadable",
                        self.contract.feed.name, line_no, type(exc).__name__)
            try:
                excerpt = self._excerpt(item if isinstance(item, (bytes, str)) else _dump_lenient(item))
            except Exception:
                excerpt = f"<{type(item).__name__} that cannot be shown>"
            out.rejects.append(Reject(line_no, None, "unreadable",
                                      f"the line could not be processed ({type(exc).__name__})", None, excerpt))
            return None

    def _line_checked(self, line_no: int, item: Any, out: Validated | _Sink) -> Row | None:
        L = self.limits
        if not isinstance(item, (bytes, bytearray)):
            if value_depth_exceeds(item, L.max_depth):
                out.rejects.append(Reject(line_no, None, "too_deep",
                                          f"the item nests deeper than {L.max_depth} levels (CCHC_LANDING_MAX_DEPTH)"))
                return None
            try:
                size = len(json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass"))
            except (TypeError, ValueError):
                size = 0  # NaN and other oddities are reported by the checks below
            if size > L.max_line_bytes:
                out.rejects.append(Reject(line_no, None, "line_too_large",
                                          f"the item is {size} bytes as JSON, more than {L.max_line_bytes} "
                                          f"(CCHC_LANDING_MAX_LINE_BYTES)"))
                return None
            return self._record(line_no, item, out, None, None)
        data = bytes(item)
        if data.endswith(b"\r"):
            data = data[:-1]
        if len(data) > L.max_line_bytes:
            out.rejects.append(Reject(line_no, None, "line_too_large",
                                      f"the line is {len(data)} bytes, more than {L.max_line_bytes} "
                                      f"(CCHC_LANDING_MAX_LINE_BYTES); not parsed", None, self._excerpt(data)))
            return None
        if nesting_exceeds(data, L.max_depth):
            out.rejects.append(Reject(line_no, None, "too_deep",
                                      f"the line nests deeper than {L.max_depth} levels (CCHC_LANDING_MAX_DEPTH); "
                                      f"not parsed", None, self._excerpt(data)))
            return None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            problem = f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at position {exc.start})"
            parsed = _lenient_decode(data)
            if parsed is not None:
                return self._record(line_no, parsed[0], out, f"{problem}; parsed as {parsed[1]}", data)
            out.rejects.append(Reject(line_no, None, "bad_encoding", problem, None,
                                      _raw_text(self.redactor.redact(_raw_text(data)))))
            return None
        if text.startswith("\ufeff"):
            text = text[1:]
        try:
            value = parse_line(text)
        except RecursionError:
            out.rejects.append(Reject(line_no, None, "too_deep", "the line nests too deep to be parsed", None,
                                      self._excerpt(text)))
            return None
        except _PARSE_ERRORS as exc:
            reason = "empty line" if not text.strip() else f"not valid JSON ({type(exc).__name__}: {_error_text(exc)})"
            out.rejects.append(Reject(line_no, None, "invalid_json", reason, None,
                                      _raw_text(self.redactor.redact(text))))
            return None
        return self._record(line_no, value, out, None, text)

    # -- the batch ------------------------------------------------------------------------------

    def lines(self, items: Iterable[tuple[int, Any]]) -> Iterator[Row | Reject]:
        """Every line as it is validated, in order: a :class:`Row` or a :class:`Reject` (one per line).

        Streams: nothing is kept between lines, so memory does not grow with the delivery. Duplicate
        keys are not resolved here (that needs every line of a key): :meth:`run` resolves them in
        memory, the loader in the warehouse after its COPY, both with :func:`resolve_duplicates`."""
        sink = _Sink()
        for line_no, item in items:
            row = self._line(line_no, item, sink)
            if row is not None:
                yield row
            if sink.rejects:
                yield from sink.rejects
                sink.rejects.clear()

    def run(self, items: Iterable[tuple[int, Any]]) -> Validated:
        """Validate a whole batch in memory, duplicates resolved (small batches, tests; the loader
        streams :meth:`lines` instead)."""
        out = Validated()
        by_key: dict[str, list[Row]] = {}
        for item in self.lines(items):
            if item.__class__ is Row:
                by_key.setdefault(item.record_key, []).append(item)
            else:
                out.rejects.append(item)
        for key, rows in by_key.items():
            if len(rows) == 1:
                out.rows.append(rows[0])
                continue
            winner, losers = resolve_duplicates(key, rows)
            out.rows.append(winner)
            out.rejects.extend(losers)
        out.rows.sort(key=lambda r: r.line_no)
        out.rejects.sort(key=lambda r: (r.line_no is None, r.line_no or 0))
        return out


class _Sink:
    """Where the line functions put their rejects (one line's worth at a time)."""

    __slots__ = ("rejects",)

    def __init__(self):
        self.rejects: list[Reject] = []


def resolve_duplicates(key: str, rows: list[Row]) -> tuple[Row, list[Reject]]:
    """The duplicate rule, the one place it is written: of the rows of one key, the version with the
    greatest NgayCapNhat is kept (the last line on a tie; of identical payloads, the first line);
    every other row becomes a ``duplicate`` reject. ``rows`` in any order."""
    rows = sorted(rows, key=lambda r: r.line_no)
    winner = max(rows, key=lambda r: (r.updated_at or "", r.line_no))
    winner = next(r for r in rows if r.payload == winner.payload)  # first of identical lines
    rejects = []
    for r in rows:
        if r is winner:
            continue
        if r.payload == winner.payload:
            reason = f"exact duplicate of line {winner.line_no} (key {key})"
        else:
            reason = (f"key {key} also at line {winner.line_no} with {UPDATED_FIELD} "
                      f"{winner.updated_at or 'not set'}, which is kept (this line: {r.updated_at or 'not set'})")
        rejects.append(Reject(r.line_no, key, "duplicate", reason, r.payload, None))
    return winner, rejects


def _error_text(exc: BaseException) -> str:
    """A parse error's message without any piece of the line (json's messages give positions only)."""
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    return type(exc).__name__


def _dump_lenient(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=True)


def _safe_json(text: str) -> str | None:
    """``text`` when PostgreSQL's jsonb accepts it, else None."""
    try:
        return _dump(json.loads(text))
    except (ValueError, _Problem):
        return None
