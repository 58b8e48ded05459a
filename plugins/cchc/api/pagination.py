"""Keyset pagination: the ``after`` cursor is an opaque position in a table's grain order.

A cursor is URL-safe base64 of ``{"t": table, "p": publication_id, "k": [grain values as text]}``:
the next page starts strictly after that row. It names its publication: a cursor from an earlier
publication is refused (the rows may have changed), so a client never gets a mixture of two
publications stitched across pages.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from decimal import Decimal


class CursorError(ValueError):
    """The ``after`` cursor cannot be used (malformed, for another table, too old)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def _text(value) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (int, Decimal)):
        return str(value)
    raise TypeError(f"a grain value of type {type(value).__name__} cannot go into a cursor")


def encode_cursor(table: str, publication_id: int, key: tuple) -> str:
    raw = json.dumps({"t": table, "p": publication_id, "k": [_text(v) for v in key]},
                     separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, *, table: str, publication_id: int, width: int) -> list[str]:
    """The grain values of the row a page starts after. :class:`CursorError` (400) for anything
    that is not a cursor of this table, 409 for a cursor of another publication."""
    bad = CursorError("malformed cursor in 'after': pass the next_cursor of the previous page unchanged")
    if not cursor or len(cursor) > 4096:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad from None
    if not isinstance(data, dict) or not isinstance(data.get("k"), list) \
            or not isinstance(data.get("p"), int) or isinstance(data.get("p"), bool) \
            or not isinstance(data.get("t"), str):
        raise bad
    if data["t"] != table:
        raise CursorError(f"the cursor in 'after' belongs to {data['t']!r}, not to {table!r}")
    if len(data["k"]) != width or not all(isinstance(v, str) for v in data["k"]):
        raise bad
    if any("\x00" in v for v in data["k"]):
        raise bad
    if data["p"] != publication_id:
        raise CursorError(f"the cursor is from publication {data['p']}, and publication {publication_id} "
                          "is current now: start again without 'after'", status=409)
    return data["k"]
