"""The common line of a file delivery, validated and written as COPY text in one pass, fast.

:class:`FastPath` takes the line as delivered (bytes) and returns its ``raw`` row in COPY text
(bytes), or None when it is not *certain* that the full path (:meth:`cchc.land.validate.Validator._line`
then :class:`cchc.land.chunks.ChunkWriter`) would land that line unchanged; the caller then runs the
full path, which decides, rejects, explains. The fast path never rejects: every reject, reason and
redaction still comes from the full path, so they are unchanged by construction.

Certain means, all of:

- the line is at most ``max_line_bytes`` long, has at most ``max_depth`` brackets in all (so it cannot
  nest deeper), has no backslash (every string in it is literal), no BOM, no trailing ``\\r``;
- msgspec decodes it, from the bytes, to an object (the full path decodes the same text with the same
  decoder; msgspec refuses any invalid UTF-8, so a line it decodes is valid UTF-8);
- each personal field of the contract is a string (or null / "" / absent), not blank, and its key
  occurs exactly once in the line, as a key, followed by its value literally (the conditions of
  :meth:`~cchc.land.pseudonymise.Pseudonymiser.in_line`); no other key at any depth names personal
  data (:func:`cchc.land.redact.personal_kind`);
- the key fields are set, and :func:`compile_checks`' predicate holds: every check of the contract
  passes on the quick route of :meth:`~cchc.land.validate.Validator._check` (same bounds, same code
  lists and references, same order rules).

Then the row is the full path's row, byte for byte: the line as delivered with only the personal
values replaced by their pseudonyms (spliced into the bytes, no re-serialising), then the echoes of
personal values elsewhere in the line replaced (UTF-8 is self-synchronising: a substring of the text
is exactly a substring of its bytes), then COPY-escaped. ``tests/test_land_fast_path.py`` checks the
equivalence on generated and hand-made lines.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import msgspec

from cchc.contracts import KEY_SEPARATOR, UPDATED_FIELD
from cchc.land.pseudonymise import PREFIX, normalise
from cchc.land.redact import personal_kind

if TYPE_CHECKING:
    from cchc.land.validate import Validator

_BOM = b"\xef\xbb\xbf"
_BLANKS = b" \t\r\n"
_MIN_ECHO = 4  # as Pseudonymiser.record: originals at least this long are replaced where they reappear
_TOKENS_KEPT = 20_000  # pseudonyms remembered per kind (a person seen again within a delivery), at most


def _date_ok(prefix: str) -> bool:
    try:
        dt.date(int(prefix[0:4]), int(prefix[4:6]), int(prefix[6:8]))
    except ValueError:
        return False
    return True


class _Timestamps:
    """``timestamp_ok`` for the fast path: a dict of the dates seen (a day has few) and string
    comparisons for the time; the same answer as :func:`cchc.land.validate.timestamp_ok`."""

    __slots__ = ("dates",)

    def __init__(self):
        self.dates: dict[str, bool] = {}

    def ok(self, value: str) -> bool:
        if len(value) != 14 or not (value.isascii() and value.isdigit()):
            return False
        date = value[:8]
        good = self.dates.get(date)
        if good is None:
            good = _date_ok(date)
            if len(self.dates) < 100_000:
                self.dates[date] = good
        return good and value[8:10] < "24" and value[10:12] < "60" and value[12:14] < "60"


def compile_checks(v: Validator) -> Callable[[dict], bool]:
    """A predicate on a parsed record: True only when :meth:`Validator._check` finds no problem
    (the converse need not hold: False sends the line to the full path).

    It is compiled from the validator's own tables (its timestamp bounds, code lists, order rules,
    references and matches, nothing restated) into one straight-line function, the contract's fields
    and bounds as constants, so a record costs a few dict lookups and comparisons per rule."""
    c = v.contract
    window = v.window
    ts = _Timestamps()
    consts: dict[str, Any] = {"dates": ts.dates, "date_ok": ts.ok, "Mapping": Mapping,
                              "number_problem": _number_problem()}
    body: list[str] = ["def ok(rec):", "    get = rec.get"]

    def const(value: Any) -> str:
        name = f"K{len(consts)}"
        consts[name] = value
        return name

    def stamp(indent: str, bounds: tuple | None) -> list[str]:
        """Lines checking the set timestamp in ``v``, as the quick route of ``_check`` does."""
        out = [f"{indent}if v.__class__ is not str or len(v) != 14 or not (v.isdigit() and v.isascii()):",
               f"{indent}    return False",
               f"{indent}g = dates.get(v[:8])",
               f"{indent}if g is None:",
               f"{indent}    g = date_ok(v[:8] + '000000')",
               f"{indent}if not g or v[8:10] > '23' or v[10:12] > '59' or v[12:14] > '59':",
               f"{indent}    return False"]
        if bounds is not None:
            lowest, highest, anchor = bounds
            out += [f"{indent}if v < {lowest!r} or v > {highest!r}:", f"{indent}    return False"]
            if anchor:
                out += [f"{indent}a = get({anchor!r})",
                        f"{indent}if a.__class__ is str and v < a:", f"{indent}    return False"]
        return out

    nested: dict[str, list[tuple[str, str, Any]]] = {}  # list field → [(kind, sub-field, rule data)]
    for spec, (top, sub) in v.ts_paths:
        bounds = window.bounds.get(spec)
        if sub is None:
            body += [f"    v = get({top!r})", "    if v is not None and v != '':", *stamp("        ", bounds)]
        else:
            nested.setdefault(top, []).append(("ts", sub, bounds))
    for name in c.required_timestamps:
        body += [f"    v = get({name!r})", "    if v is None or v == '':", "        return False"]
    for rule in c.numbers:
        body += [f"    if number_problem({const(rule)}, get({rule.field!r})) is not None:", "        return False"]
    for rule, (top, sub), allowed in v.code_rules:
        if sub is not None:
            nested.setdefault(top, []).append(("code", sub, allowed))
            continue
        codes = const(allowed)
        body += [f"    v = get({top!r})", f"    if not (v.__class__ is str and v in {codes}):"]
        if rule.required:
            body += ["        return False"]
        else:
            body += ["        if v is not None and v != '':", "            return False"]
    for top, checks in nested.items():
        body += [f"    items = get({top!r})", "    if items.__class__ is list and items:",
                 "        for item in items:", "            if not isinstance(item, dict):", "                continue"]
        for kind, sub, data in checks:
            body += [f"            v = item.get({sub!r})", "            if v is not None and v != '':"]
            if kind == "ts":
                body += stamp("                ", data)
            else:
                body += [f"                if v.__class__ is not str or v not in {const(data)}:",
                         "                    return False"]
    for rule in c.date_order:
        indent = "    "
        if rule.when:
            body += [f"    if get({rule.when[0]!r}) == {rule.when[1]!r}:"]
            indent = "        "
        body += [f"{indent}p = None"]
        for name in rule.fields:
            body += [f"{indent}v = get({name!r})", f"{indent}if v is not None and v != '':",
                     f"{indent}    if p is not None and v < p:", f"{indent}        return False", f"{indent}    p = v"]
    if c.snapshot:
        body += [f"    v = get({UPDATED_FIELD!r})",
                 f"    if v.__class__ is not str or not v or not v.startswith({v.day_prefix!r}):",
                 "        return False"]
    for rule in c.references:
        known = const(v.references[rule.reference])
        body += [f"    v = get({rule.field!r})", "    if v is None or v == '':"]
        body += ["        return False"] if rule.required else ["        pass"]
        body += [f"    elif v.__class__ is not str or v not in {known}:", "        return False"]
    for m in c.matches:
        records = const(v.references[m.reference])
        body += [f"    v = get({m.field!r})", f"    w = get({m.via!r})",
                 "    if not (v is None or v == '') and w.__class__ is str:",
                 f"        r = {records}.get(w)",
                 f"        if isinstance(r, Mapping) and v != r.get({m.attribute!r}):", "            return False"]
    body += ["    return True"]
    namespace = dict(consts)
    exec(compile("\n".join(body), f"<checks of {c.feed.name}>", "exec"), namespace)  # noqa: S102  generated above
    ok = namespace["ok"]
    ok.source = "\n".join(body)  # for reading and for the tests
    return ok


def _number_problem():
    from cchc.land.validate import number_problem

    return number_problem


def _escape(data: bytes) -> bytes:
    """COPY text of backslash-free bytes (tab, newline, carriage return escaped)."""
    if b"\t" in data:
        data = data.replace(b"\t", b"\\t")
    if b"\n" in data:
        data = data.replace(b"\n", b"\\n")
    if b"\r" in data:
        data = data.replace(b"\r", b"\\r")
    return data


def _escape_text(value: str) -> bytes:
    """COPY text of a short value (a key, a timestamp), as bytes."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        value = value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value.encode("utf-8")


class FastPath:
    """The fast route of one validator (see the module's doc): ``row(line_no, data)`` → (the row in
    COPY text, ``prefix`` first, as bytes; its record_key) or None."""

    def __init__(self, validator: Validator, prefix: str):
        v = validator
        self.v = v
        self.prefix = prefix.encode("utf-8")
        self.max_bytes = v.limits.max_line_bytes
        self.max_depth = v.limits.max_depth
        self.decode = msgspec.json.Decoder().decode
        self.ps = v.ps
        self.tokens: dict[str, dict[str, bytes]] = {pf.kind: {} for pf in v.personal}
        self.prefix_bytes = PREFIX.encode()
        personal = tuple(v.personal)
        self.personal = tuple((pf.field, pf.kind, f'"{pf.field}"'.encode()) for pf in personal)
        names = frozenset(pf.field for pf in personal)
        checked = {f for f in (*v.key_fields, UPDATED_FIELD)}
        c = v.contract
        checked |= {p.split("[]", 1)[0] for p in c.timestamp_fields}
        checked |= {r.field.split("[]", 1)[0] for r in c.code_fields}
        checked |= {f for r in c.date_order for f in (*r.fields, *(r.when[:1] if r.when else ()))}
        checked |= {r.field for r in c.references} | {r.field for r in c.numbers}
        checked |= {f for m in c.matches for f in (m.field, m.via)}
        checked |= set(c.required_timestamps)
        # the checks read the pseudonymised record; they read the original here, the same when no
        # checked field is personal (none is; if one were, every line takes the full path)
        self.ok = compile_checks(v) if not (names & checked) else None
        self.top_known: set[str] = set(names)  # top-level keys known to be the contract's or not personal
        self.nested_known: set[str] = set()  # deeper keys known not to be personal

    def _token(self, kind: str, value: str, known: dict[str, bytes]) -> bytes:
        """``"pseudonym"`` (quoted, bytes) of a non-blank string: :meth:`Pseudonymiser.token`'s."""
        token = b'"%s%s"' % (self.prefix_bytes, self.ps.hmac_hex(
            normalise(kind, value).encode("utf-8", "surrogatepass")).encode())
        if len(known) >= _TOKENS_KEPT:
            known.clear()
        known[value] = token
        return token

    # -- personal keys elsewhere ----------------------------------------------------------------

    def _learn(self, keys, known: set[str], top: bool) -> bool:
        """Whether none of ``keys`` names personal data (beyond the contract's fields at the top);
        learns the harmless ones."""
        for k in keys:
            if k in known:
                continue
            if k.__class__ is not str or personal_kind(k):
                return False
            if len(known) < 10_000:
                known.add(k)
        return True

    def _clean(self, rec: dict, braces: int) -> bool:
        """What :meth:`Validator._personal_elsewhere` says is False: no personal key beyond the
        contract's top-level fields (alias names at the top, any personal name deeper)."""
        if not rec.keys() <= self.top_known and not self._learn(rec, self.top_known, True):
            return False
        if braces <= 1:  # no '{' but the record's own: no nested object, so no nested key
            return True
        nested = self.nested_known
        stack = [v for v in rec.values() if (v.__class__ is list or v.__class__ is dict) and v]
        while stack:
            node = stack.pop()
            if node.__class__ is dict:
                if not node.keys() <= nested and not self._learn(node, nested, False):
                    return False
                stack.extend(v for v in node.values() if (v.__class__ is list or v.__class__ is dict) and v)
            else:
                stack.extend(v for v in node if (v.__class__ is list or v.__class__ is dict) and v)
        return True

    # -- one line ---------------------------------------------------------------------------------

    def row(self, line_no: int, data: bytes) -> tuple[bytes, str] | None:
        if self.ok is None or data.__class__ is not bytes:
            return None
        try:
            return self._row(line_no, data)
        except Exception:  # never decide on an oddity here: the full path handles and reports it
            return None

    def _row(self, line_no: int, data: bytes) -> tuple[bytes, str] | None:
        if len(data) > self.max_bytes or b"\\" in data or data.endswith(b"\r") or data.startswith(_BOM):
            return None
        braces = data.count(b"{")
        if braces + data.count(b"[") > self.max_depth:
            return None
        rec = self.decode(data)
        if rec.__class__ is not dict:
            return None
        spans: list[tuple[int, int, bytes]] = []
        echoes: dict[bytes, bytes] = {}  # as Pseudonymiser.record's, in UTF-8
        get = rec.get
        tokens = self.tokens
        for name, kind, quoted in self.personal:
            value = get(name)
            n = data.count(quoted)
            if n != 1:
                if n == 0 and (value is None or value == ""):
                    continue  # absent
                return None  # the name twice (or also as a value): not certain which is the key
            pos = data.find(quoted) + len(quoted)
            if data.startswith(b': "', pos):  # the usual layout
                pos += 2
            else:
                while pos < len(data) and data[pos] in _BLANKS:
                    pos += 1
                if data[pos:pos + 1] != b":":
                    return None  # the name used as a value
                pos += 1
                while pos < len(data) and data[pos] in _BLANKS:
                    pos += 1
            if value is None or value == "":
                continue
            if value.__class__ is not str:
                return None
            stripped = value.strip()
            if not stripped:
                return None
            literal = value.encode("utf-8")
            end = pos + len(literal) + 2
            if data[pos] != 34 or not data.startswith(literal, pos + 1) or data[end - 1] != 34:
                return None
            known = tokens[kind]
            token = known.get(value)
            if token is None:
                token = self._token(kind, value, known)
            spans.append((pos, end, token))
            if len(value) >= _MIN_ECHO:
                echoes[literal] = token
            if stripped is not value and len(stripped) >= _MIN_ECHO:
                echoes[stripped.encode("utf-8")] = token
        if not self._clean(rec, braces):
            return None
        v = self.v
        key_parts = []
        for name in v.key_fields:
            value = rec.get(name)
            if value.__class__ is str and value.strip() and name not in v.blank_key_fields:
                key_parts.append(value)
            else:
                return None  # blank-able, integer or missing keys: the full path
        if not self.ok(rec):
            return None
        if spans:
            spans.sort()
            parts, last = [], 0
            for start, end, text in spans:
                parts.append(data[last:start])
                parts.append(text)
                last = end
            parts.append(data[last:])
            payload = b"".join(parts)
            for literal, token in echoes.items():
                if literal in payload:
                    payload = payload.replace(literal, token[1:-1])
        else:
            payload = data
        updated = rec.get(UPDATED_FIELD)
        key = KEY_SEPARATOR.join(key_parts)
        return b"%s%d\t%s\t%s\t%s\n" % (
            self.prefix, line_no, _escape_text(key),
            _escape_text(updated) if updated.__class__ is str and updated else b"\\N", _escape(payload)), key
