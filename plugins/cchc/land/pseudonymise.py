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
import hmac
import json
import re
import unicodedata
from typing import Any, Iterable

from cchc.contracts import PersonalField

PREFIX = "hmac256:"
_MIN_ECHO = 4  # originals at least this long are also replaced where they reappear in free text


def normalise(kind: str, value: str) -> str:
    text = unicodedata.normalize("NFC", value).strip()
    if kind == "email":
        return text.lower()
    if kind == "phone":
        digits = "".join(ch for ch in text if ch.isdigit())
        return digits or text
    return text


class Pseudonymiser:
    def __init__(self, key: bytes):
        if not isinstance(key, (bytes, bytearray)) or len(key) < 16:
            raise ValueError("the pseudonymisation key must be at least 16 bytes (from configuration)")
        self._mac = hmac.new(bytes(key), digestmod=hashlib.sha256)
        self._cache: dict[tuple[str, str], str] = {}

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
            mac = self._mac.copy()  # HMAC-SHA256(key, ·) with the key schedule done once
            mac.update(normalise(kind, value).encode("utf-8", "surrogatepass"))
            digest = mac.hexdigest()
            cached = self._cache[(kind, value)] = PREFIX + digest
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
            if isinstance(value, str) and isinstance(token, str):
                for v in {value, value.strip()}:
                    if len(v) >= _MIN_ECHO:
                        echoes[v] = token
        return out, echoes

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


_PATTERNS: dict[tuple[str, ...], re.Pattern] = {}


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
