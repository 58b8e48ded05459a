"""Rendering a page as JSON or CSV, with every number exactly as PostgreSQL holds it.

JSON numbers are written from the database's text of each value (``numeric`` as its decimal digits,
never through a float), so ``on_time_rate`` reads back equal to ``kpi.tthc_report``'s. CSV is UTF-8
(no BOM: this is for programs; the files for Excel are the exports'), one header line of the
view's columns, ``true``/``false`` for booleans, an empty field for NULL, JSON for jsonb and arrays.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from collections.abc import Iterable, Sequence
from decimal import Decimal


def _json_value(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, Decimal):
        return str(v) if v.is_finite() else "null"
    if isinstance(v, float):
        return json.dumps(v) if math.isfinite(v) else "null"
    if isinstance(v, (dt.date, dt.datetime)):
        return '"' + v.isoformat() + '"'
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    return json.dumps(v, ensure_ascii=False, default=str, sort_keys=True)


def json_rows(columns: Sequence[str], rows: Iterable[Sequence]) -> str:
    """``[{col: value, ...}, ...]`` as JSON text."""
    keys = [json.dumps(c) + ":" for c in columns]
    return "[" + ",".join("{" + ",".join(k + _json_value(v) for k, v in zip(keys, row, strict=True)) + "}"
                          for row in rows) + "]"


def json_document(meta: dict, columns: Sequence[str], rows: Sequence[Sequence], rows_key: str = "rows") -> bytes:
    """``meta`` (plain JSON values) with ``rows_key`` holding the rows, as UTF-8 bytes."""
    head = json.dumps(meta, ensure_ascii=False, default=str)[:-1]
    sep = ", " if meta else ""
    return (head + sep + json.dumps(rows_key) + ": " + json_rows(columns, rows) + "}").encode("utf-8")


def json_object(meta: dict, key: str, columns: Sequence[str], row: Sequence) -> bytes:
    """``meta`` with ``key`` holding one row as an object."""
    head = json.dumps(meta, ensure_ascii=False, default=str)[:-1]
    return (head + ", " + json.dumps(key) + ": " + json_rows(columns, [row])[1:-1] + "}").encode("utf-8")


def _csv_value(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Decimal):
        return str(v) if v.is_finite() else ""
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    if isinstance(v, (dict, list)):
        return json.dumps(v, ensure_ascii=False, sort_keys=True, default=str)
    return str(v)


def csv_text(columns: Sequence[str], rows: Iterable[Sequence]) -> bytes:
    out = io.StringIO(newline="")
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(columns)
    for row in rows:
        w.writerow([_csv_value(v) for v in row])
    return out.getvalue().encode("utf-8")
