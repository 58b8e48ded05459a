"""Redaction of text that could not be parsed: no applicant data in clear, whatever the syntax.

A line that is not a JSON object (single-quoted keys, a Python repr, ``key=value``, CSV, a truncated
or doubly encoded line, a wrong encoding …) is still stored in ``raw.rejects.raw_text`` so that an
operator can see what arrived. Before it is stored, :meth:`Redactor.redact` rewrites it in three
passes, each replacing a value by the keyed hash of :class:`~cchc.land.pseudonymise.Pseudonymiser`
(``hmac256:…``):

1. **Key-aware.** The text is cut into tokens (double- or single-quoted strings, possibly cut short;
   bare words; separators ``:`` ``=`` ``=>``; delimiters). A token followed by a separator is a key;
   its value runs to the next delimiter (``, ; & } ] )``, end of line) or the next key, so
   ``ChuHoSo=Nguyễn Thị Minh Khai SoDienThoai=0912 345 678`` is two values. Keys are compared
   case- and punctuation-insensitively (``chu_ho_so``, ``'ChuHoSo'``, ``\\"ChuHoSo\\"``) with the
   applicant fields of the contracts and a few common aliases (:data:`PERSONAL_KEY_ALIASES`):
   the value of a personal key — a string, a bare run of words, or a whole nested object/list — is
   hashed. Values of *safe* keys (record keys, codes, references, timestamps of the contracts) are
   kept as they are, so MaHoSo, MaTTHC and timestamps stay readable. A quoted string that itself
   holds quoted keys (doubly encoded JSON) is redacted the same way inside.
2. **Fallback** on everything else (unknown keys, free text, CSV cells, keys that are not field
   names): e-mail addresses; digit runs of 6 or more digits, also spaced, dotted or dashed
   (``0912 345 678``, ``001.190.012.345``), except a valid ``yyyyMMddHHmmss`` timestamp or a known
   reference code; and sequences of two or more capitalised words that carry Vietnamese diacritics
   or start with a common Vietnamese family name (``Nguyễn Thị Minh Khai``, ``Nguyen Van An``).
   This may hash harmless words (an official's or a unit's name): it errs on the side of privacy.
3. **Echoes.** Every personal value found (and the record's own personal values when the line was
   parsed) is replaced wherever it reappears, also as its digits only or in another letter case.

NUL characters become the visible text ``\\x00`` first; lone surrogates are escaped.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from cchc.contracts import APPLICANT_PERSONAL_DATA, CONTRACTS
from cchc.land.pseudonymise import PREFIX, Pseudonymiser

#: other spellings of applicants' personal fields that exports and hand-made files use, by kind
PERSONAL_KEY_ALIASES: dict[str, str] = {
    # names
    "hoten": "text", "hovaten": "text", "tenchuhoso": "text", "nguoinop": "text", "tennguoinop": "text",
    "fullname": "text", "applicantname": "text",
    # identity documents
    "sogiayto": "text", "cccd": "text", "socccd": "text", "cmnd": "text", "socmnd": "text",
    "cancuoc": "text", "idnumber": "text", "sodinhdanh": "text", "hochieu": "text",
    # phones
    "dienthoai": "phone", "sdt": "phone", "phone": "phone", "mobile": "phone", "didong": "phone",
    # e-mails
    "email": "email", "mail": "email", "thudientu": "email",
}

_SURNAMES = frozenset(
    "nguyen tran le pham hoang huynh phan vu vo dang bui do ho ngo duong ly dinh trinh truong lam "  # noqa: SIM905  a word list reads best as one string
    "mai cao luong ta ha kieu quach thai chu lai phung la van tang doan luu trieu tieu mac ton".split())


def fold(text: str) -> str:
    """Lower-case ASCII letters and digits only: ``Chủ_Hồ Sơ`` → ``chuhoso``; đ → d."""
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in text.lower() if ch.isascii() and ch.isalnum())


@lru_cache(maxsize=4096)
def personal_kind(key: str) -> str | None:
    """The normalisation kind when ``key`` names an applicant's personal field, else None."""
    folded = fold(key)
    for pf in APPLICANT_PERSONAL_DATA:
        if folded == fold(pf.field):
            return pf.kind
    return PERSONAL_KEY_ALIASES.get(folded)


def _safe_keys() -> frozenset[str]:
    """Folded names of fields whose values are identifiers, codes or timestamps (kept readable)."""
    names: set[str] = set()
    for c in CONTRACTS.values():
        names.update(c.key_fields)
        names.update(spec.rsplit(".", 1)[-1] for spec in c.timestamp_fields)
        names.update(r.field.rsplit(".", 1)[-1] for r in c.code_fields)
        names.update(r.field for r in c.references)
        names.update(m.field for m in c.matches)
    return frozenset(fold(n) for n in names)


SAFE_KEYS = _safe_keys()

_TOKEN = re.compile(
    r'(?P<dq>"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z))'
    r"|(?P<sq>'[^'\\]*(?:\\.[^'\\]*)*(?:'|\\?\Z))"
    r"|(?P<sep>=>|:=|[:=])"
    r"|(?P<open>[{\[(])"
    r"|(?P<close>[}\])])"
    r"|(?P<end>[,;&|\n\r])"
    r"|(?P<ws>[ \t\f\v]+)"
    r"|(?P<bare>[^\s\"',;&|{}\[\]():=]+)",
    re.S,
)
_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
_DIGITS = re.compile(r"\+?\d(?:[ .\-/()]{0,2}\d){5,}")
_EMAIL_OR_DIGITS = re.compile(r"(?P<token>hmac256:[0-9a-f]{64})|(?P<email>" + _EMAIL.pattern + r")|(?P<digits>"
                              + _DIGITS.pattern + ")")
_WORD = re.compile(r"[^\W\d_]+")
_LITERALS = frozenset({"null", "none", "true", "false", "nan", "", "''", '""'})
_TS = re.compile(r"\d{14}")


def storable_text(text: str) -> str:
    """Text PostgreSQL can store: NUL and lone surrogates escaped visibly."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _unquote(tok: str) -> str:
    if tok[:1] in "\"'":
        inner = tok[1:-1] if len(tok) > 1 and tok[-1] == tok[0] and not tok.endswith("\\" + tok[0]) else tok[1:]
        if tok[0] == '"':
            try:
                return json.loads('"' + inner + '"')
            except ValueError:
                return inner.replace('\\"', '"')
        return inner.replace("\\'", "'")
    return tok


class Redactor:
    """Rewrites unparseable text so that no applicant's personal value is left in it.

    ``safe_values``: values kept even by the fallback (the reference lists' unit and procedure codes).
    """

    def __init__(self, ps: Pseudonymiser, safe_values: Iterable[str] = ()):
        self.ps = ps
        self.safe_values = frozenset(v for v in safe_values if isinstance(v, str))

    # -- the passes -----------------------------------------------------------------------------

    def redact(self, text: str, echoes: dict[str, str] | None = None) -> str:
        found: dict[str, str] = dict(echoes or {})
        out = self._keyed(storable_text(text), found, depth=0)
        return self.echoes(out, found)

    def _hash(self, kind: str, value: str, found: dict[str, str]) -> str:
        token = self.ps.token(kind, value)
        if isinstance(token, str) and token != value:
            for v in {value, value.strip()}:
                if len(v) >= 3:
                    found[v] = token
        return token

    def _keyed(self, text: str, found: dict[str, str], depth: int) -> str:
        toks = [(m.lastgroup, m.group()) for m in _TOKEN.finditer(text)]
        n = len(toks)
        nxt = [n] * (n + 1)  # index of the next non-blank token at or after each position
        for i in range(n - 1, -1, -1):
            nxt[i] = i if toks[i][0] != "ws" else nxt[i + 1]

        def is_key(i: int) -> bool:
            j = nxt[i + 1]
            return toks[i][0] in ("dq", "sq", "bare") and j < n and toks[j][0] == "sep"

        # pieces: (final, text); non-final pieces go through the fallback, adjacent ones together
        out: list[tuple[bool, str]] = []

        def plain(kind: str, tok: str) -> None:
            if kind in ("dq", "sq") and depth < 2 and len(tok) > 2 and (":" in tok or "=" in tok):
                inner = _unquote(tok)  # keyed text inside a string (doubly encoded JSON, a repr)
                red = self._keyed(inner, found, depth + 1)
                if red != inner:
                    q = tok[0]
                    closed = len(tok) > 1 and tok.endswith(q)
                    body = json.dumps(red, ensure_ascii=False)[1:-1] if q == '"' else red.replace("'", "\\'")
                    out.append((True, q + body + (q if closed else "")))
                    return
            if kind in ("dq", "sq", "bare"):
                content = _unquote(tok)
                if content in self.safe_values or (_TS.fullmatch(content) and _timestamp_ok(content)):
                    out.append((True, tok))
                    return
                if kind == "dq" and "\\" in tok:  # JSON escapes (\u1ec5 …) hide names: read them first
                    red = self._fallback(content)
                    if red != content:
                        closed = len(tok) > 1 and tok.endswith('"') and not tok.endswith('\\"')
                        body = json.dumps(red, ensure_ascii=False)[1:-1]
                        out.append((True, '"' + body + ('"' if closed else "")))
                        return
            out.append((kind not in ("dq", "sq", "bare", "ws"), tok))

        i = 0
        while i < n:
            kind, tok = toks[i]
            if not is_key(i):
                plain(kind, tok)
                i += 1
                continue
            name = _unquote(tok)
            pkind = personal_kind(name)
            safe = fold(name) in SAFE_KEYS
            out.append((bool(pkind or safe), tok))
            j = nxt[i + 1]
            out.append((True, "".join(t for _, t in toks[i + 1:j + 1])))  # blanks and the separator
            i = j + 1
            start = nxt[i] if i < n else n
            out.append((True, "".join(t for _, t in toks[i:start])))
            i = start
            if i >= n:
                break
            if toks[i][0] == "open":  # a container value, as a whole
                end, level = i, 0
                while end < n:
                    if toks[end][0] == "open":
                        level += 1
                    elif toks[end][0] == "close":
                        level -= 1
                        if level == 0:
                            break
                    end += 1
                inner = "".join(t for _, t in toks[i:end + 1])
                if pkind:
                    out.append((True, f'"{self._hash(pkind, inner, found)}"'))
                    i = end + 1
                # otherwise its tokens are read on as usual (keys inside are found)
                continue
            end = i
            while end < n and toks[end][0] not in ("end", "open", "close") and not (end > i and is_key(end)):
                end += 1
            while end > i and toks[end - 1][0] == "ws":
                end -= 1
            value = toks[i:end]
            if not value:
                continue
            raw = "".join(t for _, t in value)
            if pkind:
                content = _unquote(raw) if len(value) == 1 else raw
                if content.strip().lower() in _LITERALS:
                    out.append((True, raw))
                else:
                    q = raw[0] if len(value) == 1 and raw[0] in "\"'" else ""
                    closed = bool(q) and len(raw) > 1 and raw.endswith(q)
                    out.append((True, q + self._hash(pkind, content, found) + (q if closed else "")))
            elif safe and all(self._harmless_value(t) for k, t in value if k != "ws"):
                out.append((True, raw))
            else:
                for k, t in value:
                    plain(k, t)
            i = end
        parts: list[str] = []
        pending: list[str] = []
        for final, piece in out:
            if final:
                if pending:
                    parts.append(self._fallback("".join(pending)))
                    pending.clear()
                parts.append(piece)
            else:
                pending.append(piece)
        if pending:
            parts.append(self._fallback("".join(pending)))
        return "".join(parts)

    def _harmless_value(self, tok: str) -> bool:
        """A safe key's value is kept unless it looks like personal data anyway (an e-mail, a name)."""
        content = _unquote(tok)
        return not (_EMAIL.search(content) or self._names(content) != content)

    def _fallback(self, text: str) -> str:
        if not text or text.startswith(PREFIX) or _unquote(text) in self.safe_values:
            return text

        def repl(m: re.Match) -> str:
            if m.lastgroup == "email":
                return self.ps.token("email", m.group())
            if m.lastgroup == "token":
                return m.group()
            run = m.group()
            if _TS.fullmatch(run) and _timestamp_ok(run):
                return run
            return self.ps.token("phone", run)

        if "@" in text or any(ch.isdigit() for ch in text):
            text = _EMAIL_OR_DIGITS.sub(repl, text)
        return self._names(text)

    def _names(self, text: str) -> str:
        words = list(_WORD.finditer(text))
        if len(words) < 2:
            return text
        spans: list[tuple[int, int]] = []
        run: list[re.Match] = []

        def close():
            if len(run) >= 2:
                ws = [w.group() for w in run]
                if any(not w.isascii() for w in ws) or fold(ws[0]) in _SURNAMES:
                    spans.append((run[0].start(), run[-1].end()))
            run.clear()

        for w in words:
            if not w.group()[0].isupper() or w.group().startswith("hmac"):
                close()
                continue
            if run and not (text[run[-1].end():w.start()].isspace() and w.start() - run[-1].end() <= 3):
                close()
            run.append(w)
        close()
        for start, end in reversed(spans):
            text = text[:start] + self.ps.token("text", text[start:end]) + text[end:]
        return text

    def echoes(self, text: str, found: dict[str, str]) -> str:
        """Replace every personal value of ``found`` that reappears in ``text`` (any case; digits only)."""
        if not found:
            return text
        lower = text.lower()
        for original, token in sorted(found.items(), key=lambda kv: -len(kv[0])):
            if original in text:
                text = text.replace(original, token)
                lower = text.lower()
            elif original.lower() in lower:
                text = re.sub(re.escape(original), token, text, flags=re.I)
                lower = text.lower()
            digits = "".join(ch for ch in original if ch.isdigit())
            if len(digits) >= 6 and len(digits) >= len(original.replace(" ", "")) // 2:
                pattern = r"[ .\-/()]{0,2}".join(digits)
                if digits[:4] in text:
                    text = re.sub(pattern, token, text)
                    lower = text.lower()
            nfd = unicodedata.normalize("NFD", original)
            if nfd != original and nfd in text:
                text = text.replace(nfd, token)
                lower = text.lower()
        return text


def _timestamp_ok(value: str) -> bool:
    from cchc.land.validate import timestamp_ok

    return timestamp_ok(value)
