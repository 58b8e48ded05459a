"""The query parameters of a table's endpoint: parsed, checked, and described for OpenAPI.

Each parameter is defined once here (:func:`parameters` lists them for a :class:`Table`); the parser
accepts exactly these and refuses anything else with a 400 naming the parameter and what it
accepts: an unknown or repeated parameter, an unknown ``period_type``, a date that is not
``YYYY-MM-DD``, a range whose start is after its end, a ``limit`` out of range, a value with
control characters. Scope (403/404) is decided later, against the token (:mod:`cchc.api.app`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cchc.api.errors import ApiError
from cchc.api.registry import PERIOD_TYPES, Table

FORMATS = ("json", "csv")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_BOOLS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
MAX_TEXT = 100


@dataclass(frozen=True)
class Query:
    table: Table
    limit: int
    after: str | None = None
    format: str = "json"
    period_type: str | None = None
    period: dt.date | None = None
    period_from: dt.date | None = None
    period_to: dt.date | None = None
    date: dt.date | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    unit: str | None = None
    include_subtree: bool = False
    equals: tuple[tuple[str, str], ...] = field(default=())

    def normalized(self) -> tuple:
        """What the answer depends on besides the publication and the scope (for the ETag)."""
        return (self.table.name, self.limit, self.after, self.format, self.period_type, self.period,
                self.period_from, self.period_to, self.date, self.date_from, self.date_to, self.unit,
                self.include_subtree, self.equals)


def _param(name: str, description: str, schema: dict) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


def parameters(table: Table, *, max_limit: int, default_limit: int) -> list[dict]:
    """The OpenAPI parameter objects of ``table``'s endpoint (the ones :func:`parse` accepts)."""
    date = {"type": "string", "format": "date", "pattern": _DATE.pattern}
    text = {"type": "string", "maxLength": MAX_TEXT}
    out = []
    if table.period_type:
        out.append(_param("period_type", "Period type: " + ", ".join(PERIOD_TYPES) + ".",
                          {"type": "string", "enum": list(PERIOD_TYPES)}))
    if table.period:
        col = table.period
        out += [_param("period", f"Only the period starting on this day ({col}, YYYY-MM-DD).", date),
                _param("period_from", f"Only periods with {col} on or after this day.", date),
                _param("period_to", f"Only periods with {col} on or before this day.", date)]
    if table.date:
        col = table.date
        out += [_param("date", f"Only this day ({col}, YYYY-MM-DD).", date),
                _param("date_from", f"Only days on or after this day ({col}).", date),
                _param("date_to", f"Only days on or before this day ({col}).", date)]
    if table.unit:
        out += [_param("unit", "A unit id (DonViXuLy) inside the token's scope: its rows only, or with "
                               "include_subtree=true also every unit under it. Default: every unit of "
                               "the token's scope. A unit outside the scope is refused with 403.", text),
                _param("include_subtree", "With unit: also the units under it (default false).",
                       {"type": "boolean", "default": False})]
    for col in table.filters:
        out.append(_param(col, f"Only rows whose {col} equals this value"
                          + (" ('*' is the row of all fields of the unit)." if col == "field_code" else "."), text))
    out += [_param("limit", f"Rows per page, 1..{max_limit} (default {default_limit}).",
                   {"type": "integer", "minimum": 1, "maximum": max_limit, "default": default_limit}),
            _param("after", "The next_cursor of the previous page (opaque); rows come in the grain's "
                            "order: " + ", ".join(table.grain) + (" (descending)" if table.descending else "")
                   + ".", {"type": "string", "maxLength": 4096}),
            _param("format", "json (default) or csv; 'Accept: text/csv' asks for csv too.",
                   {"type": "string", "enum": list(FORMATS)})]
    return out


def _date_value(name: str, raw: str) -> dt.date:
    if not _DATE.match(raw):
        raise ApiError(400, f"parameter {name!r}: {raw!r} is not a date (YYYY-MM-DD)")
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, f"parameter {name!r}: {raw!r} is not a date (YYYY-MM-DD)") from None


def _text_value(name: str, raw: str) -> str:
    if not raw:
        raise ApiError(400, f"parameter {name!r} is empty")
    if len(raw) > MAX_TEXT:
        raise ApiError(400, f"parameter {name!r} is longer than {MAX_TEXT} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in raw):
        raise ApiError(400, f"parameter {name!r} contains control characters")
    return raw


def parse(table: Table, items: Sequence[tuple[str, str]], *, accept: str | None, max_limit: int,
          default_limit: int) -> Query:
    """The checked :class:`Query` of ``items`` (the request's query string, in order)."""
    allowed = [p["name"] for p in parameters(table, max_limit=max_limit, default_limit=default_limit)]
    values: dict[str, str] = {}
    for name, value in items:
        if name not in allowed:
            raise ApiError(400, f"unknown parameter {name!r}; {table.path} accepts: {', '.join(allowed)}")
        if name in values:
            raise ApiError(400, f"parameter {name!r} is given more than once")
        values[name] = value
    return _build(table, values, accept, max_limit, default_limit)


def _build(table: Table, v: Mapping[str, str], accept: str | None, max_limit: int, default_limit: int) -> Query:
    kw: dict = {}
    raw_limit = v.get("limit")
    if raw_limit is None:
        kw["limit"] = default_limit
    else:
        if not re.fullmatch(r"\+?\d{1,9}", raw_limit.strip()):
            raise ApiError(400, f"parameter 'limit': {raw_limit!r} is not a whole number (1..{max_limit})")
        kw["limit"] = int(raw_limit)
        if not 1 <= kw["limit"] <= max_limit:
            raise ApiError(400, f"parameter 'limit' must be between 1 and {max_limit}, not {kw['limit']}")
    if "after" in v:
        kw["after"] = _text_value("after", v["after"]) if len(v["after"]) <= 4096 else None
        if kw["after"] is None:
            raise ApiError(400, "parameter 'after' is too long to be a cursor")
    fmt = v.get("format")
    if fmt is None:
        fmt = "csv" if accept and "text/csv" in accept.lower() else "json"
    elif fmt not in FORMATS:
        raise ApiError(400, f"parameter 'format': {fmt!r} is not one of {', '.join(FORMATS)}")
    kw["format"] = fmt
    if "period_type" in v:
        if v["period_type"] not in PERIOD_TYPES:
            raise ApiError(400, f"parameter 'period_type': unknown period type {v['period_type']!r}; "
                                f"one of {', '.join(PERIOD_TYPES)}")
        kw["period_type"] = v["period_type"]
    for name in ("period", "period_from", "period_to", "date", "date_from", "date_to"):
        if name in v:
            kw[name] = _date_value(name, v[name])
    for lo, hi in (("period_from", "period_to"), ("date_from", "date_to")):
        if kw.get(lo) and kw.get(hi) and kw[lo] > kw[hi]:
            raise ApiError(400, f"{lo} {kw[lo]} is after {hi} {kw[hi]}")
    if "unit" in v:
        kw["unit"] = _text_value("unit", v["unit"])
    if "include_subtree" in v:
        flag = _BOOLS.get(v["include_subtree"].strip().lower())
        if flag is None:
            raise ApiError(400, f"parameter 'include_subtree': {v['include_subtree']!r} is not true or false")
        if flag and "unit" not in v:
            raise ApiError(400, "include_subtree=true needs a unit (without one, every unit of the token's "
                                "scope is returned)")
        kw["include_subtree"] = flag
    kw["equals"] = tuple((col, _text_value(col, v[col])) for col in table.filters if col in v)
    return Query(table=table, **kw)
