"""Keyed hashing of personal data, applied before anything is written to the warehouse.

A personal value becomes ``"hmac256:" + hex(HMAC-SHA256(key, normalised value))`` where the
normalisation is NFC + strip (all fields), lower-case (e-mail) or digits only (phone), so the same
person hashes the same on every day and in every feed. Null and empty values stay as they are.
The key is given by the caller (configuration); there is no default key.

Unparseable lines are kept as text for the rejects table only after :mod:`cchc.land.redact` has
rewritten them (any quoting or syntax, plus a fallback for e-mails, digit runs and names); it hashes
with :meth:`Pseudonymiser.token`. :meth:`Pseudonymiser.scrub_text` is the narrower JSON-only scrub
(values of double-quoted personal keys, also when cut in the middle).
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from cchc.contracts import PersonalField

PREFIX = "hmac256:"
_BLOCK = 64  # SHA-256's block size: HMAC's pads are this long
_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))
_MIN_ECHO = 4  # originals at least this long are also replaced where they reappear in free text


def normalise(kind: str, value: str) -> str:
    text = (value if value.isascii() else unicodedata.normalize("NFC", value)).strip()  # ASCII is NFC
    if kind == "email":
        return text.lower()
    if kind == "phone":
        if text.isdigit():
            return text
        digits = "".join(ch for ch in text if ch.isdigit())
        return digits or text
    return text


class Pseudonymiser:
    def __init__(self, key: bytes):
        if not isinstance(key, (bytes, bytearray)) or len(key) < 16:
            raise ValueError("the pseudonymisation key must be at least 16 bytes (from configuration)")
        # HMAC-SHA256 (RFC 2104) with its two keyed states computed once: the inner hash of
        # key ⊕ ipad and the outer hash of key ⊕ opad; each value then costs two copies of a
        # sha256 state, not a new HMAC object (tests: equal to hmac.new for every value)
        block = bytes(key) if len(key) <= _BLOCK else hashlib.sha256(bytes(key)).digest()
        block = block.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(block.translate(_IPAD))
        self._outer = hashlib.sha256(block.translate(_OPAD))
        self._cache: dict[tuple[str, str], str] = {}

    def hmac_hex(self, message: bytes) -> str:
        """hex(HMAC-SHA256(key, message)), as ``hmac.new(key, message, "sha256").hexdigest()``."""
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()

    def token(self, kind: str, value: Any) -> Any:
        """The pseudonym of one value; None and empty (blank) strings stay as they are."""
        if value is None or isinstance(value, bool):
            return value
        if not isinstance(value, str):
            value = json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else str(value)
        if not value.strip():
            return value
        cached = self._cache.get((kind, value))
        if cached is None:
            cached = self._cache[(kind, value)] = PREFIX + self.hmac_hex(
                normalise(kind, value).encode("utf-8", "surrogatepass"))
            if len(self._cache) > 200_000:
                self._cache.clear()
        return cached

    def record(self, record: dict, fields: Iterable[PersonalField]) -> tuple[dict, dict[str, str]]:
        """A copy of ``record`` with its personal fields hashed, and {original text: pseudonym}."""
        out = record
        echoes: dict[str, str] = {}
        for pf in fields:
            value = record.get(pf.field)
            if value is None or value == "":
                continue
            if out is record:
                out = dict(record)
            token = out[pf.field] = self.token(pf.kind, value)
            if value.__class__ is str and token.__class__ is str:
                if len(value) >= _MIN_ECHO:
                    echoes[value] = token
                stripped = value.strip()
                if stripped != value and len(stripped) >= _MIN_ECHO:
                    echoes[stripped] = token
        return out, echoes

    def in_line(self, line: str, original: dict, pseudonymised: dict,
                fields: Iterable[PersonalField]) -> str | None:
        """``line`` (the JSON text ``original`` was parsed from) with the values of the personal
        ``fields`` replaced by their pseudonyms from ``pseudonymised``; None when that cannot be done
        with certainty, and the caller then serialises ``pseudonymised`` instead.

        Certain means: the line has no backslash at all (so no escaped quote or key, no ``\\u``
        escape: every string in it is written literally, exactly as parsed); each personal key
        occurs exactly once as ``"Name"`` in the whole line, followed by ``:`` (so it is the
        top-level key, not a value or a nested key); its value there is literally the parsed string
        (``"..."``) or integer. Anything else (floats, lists, objects, a key repeated or also used as
        a value, the caller's other doubts) returns None: the full parse path handles it."""
        if "\\" in line:
            return None
        fields = tuple(fields)
        names = tuple(pf.field for pf in fields)
        pattern = _in_line_pattern(names)
        found: dict[str, re.Match] = {}
        for m in pattern.finditer(line):  # every occurrence of every "Name", key or not
            name = m.group(1)
            if m.group(2) is None or name in found:
                return None  # a name used as a value, or repeated: not certain which is the key
            found[name] = m
        spans: list[tuple[int, int, str]] = []
        for pf in fields:
            value = original.get(pf.field)
            if value is None or value == "":
                continue
            token = pseudonymised.get(pf.field)
            m = found.get(pf.field)
            if m is None or token.__class__ is not str or token is value:
                return None
            pos = m.end()
            if value.__class__ is str:
                end = pos + len(value) + 2
                if line[pos] != '"' or line[end - 1:end] != '"' or line[pos + 1:end - 1] != value:
                    return None
            elif value.__class__ is int:
                n = _INTEGER.match(line, pos)
                if n is None or int(n.group()) != value:
                    return None
                end = n.end()
            else:
                return None
            spans.append((pos, end, f'"{token}"'))
        if not spans:
            return line
        spans.sort()
        parts, last = [], 0
        for start, end, text in spans:
            parts.append(line[last:start])
            parts.append(text)
            last = end
        parts.append(line[last:])
        return "".join(parts)

    @staticmethod
    def scrub_echoes(text: str, echoes: dict[str, str]) -> str:
        """Replace personal values that reappear verbatim elsewhere in a serialised record."""
        for original, token in echoes.items():
            if original in text:
                text = text.replace(original, token)
        return text

    def scrub_text(self, text: str, fields: Iterable[PersonalField]) -> str:
        """Hash the values of personal fields inside (possibly broken) JSON text."""
        fields = tuple(fields)
        if not fields:
            return text
        kinds = {pf.field: pf.kind for pf in fields}
        pattern = _scrub_pattern(tuple(kinds))

        def repl(m: re.Match) -> str:
            name, sep, quoted, closing, bare = m.group(1, 2, 3, 4, 5)
            if quoted is not None:
                try:
                    value = json.loads('"' + quoted + '"')
                except ValueError:
                    value = quoted
                token = self.token(kinds[name], value)
                return f'"{name}"{sep}"{token}' + ('"' if closing == '"' else "")
            if bare in ("null", "true", "false"):
                return m.group(0)
            return f'"{name}"{sep}"{self.token(kinds[name], bare)}"'

        return pattern.sub(repl, text)


#: a JSON integer, whole (not the start of a float)
_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)(?![0-9.eE])")

_PATTERNS: dict[tuple[str, ...], re.Pattern] = {}
_IN_LINE: dict[tuple[str, ...], re.Pattern] = {}


def _in_line_pattern(names: tuple[str, ...]) -> re.Pattern:
    """``"Name"`` for any of ``names``, with the ``:`` and blanks after it when it is a key (group 2)."""
    pattern = _IN_LINE.get(names)
    if pattern is None:
        alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
        pattern = _IN_LINE[names] = re.compile(r'"(' + alternatives + r')"([ \t\r\n]*:[ \t\r\n]*)?')
    return pattern


def _scrub_pattern(names: tuple[str, ...]) -> re.Pattern:
    pattern = _PATTERNS.get(names)
    if pattern is None:
        alternatives = "|".join(re.escape(n) for n in names)
        pattern = _PATTERNS[names] = re.compile(
            r'"(' + alternatives + r')"(\s*:\s*)'
            r'(?:"((?:[^"\\]|\\.)*)("|\\?\Z)'  # a string value, possibly cut short
            r'|([^\s",}\]]+))'  # a bare value (number, literal, garbage)
        )
    return pattern
