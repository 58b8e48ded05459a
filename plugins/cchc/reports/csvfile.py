"""An official report file as CSV: UTF-8 with a byte-order mark (so that Excel shows Vietnamese),
one header row of the layout's Vietnamese labels, one line per data row, and :func:`read_csv`
that reads it back to the ``kpi`` columns and values.

Every line carries its context (period, as-of date, publication id: the layout's ``csv_only``
columns), so a CSV on its own says what it is. Counts are integers; rates the exact percentage
(the kpi fraction × 100, as many digits as kpi has: ``read_csv`` gives the same fraction back);
dates ISO (YYYY-MM-DD); an empty cell is a NULL.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

from cchc.reports.layouts import Layout

BOM = "\ufeff"
_HUNDRED = Decimal(100)


def _text(kind: str, value) -> str:
    if value is None:
        return ""
    if kind == "rate":
        return format((Decimal(str(value)) * _HUNDRED).normalize(), "f")
    if kind == "int":
        return str(int(value))
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def write_csv(layout: Layout, rows: list[dict]) -> bytes:
    """The CSV's bytes (UTF-8 with BOM, CRLF line ends as Excel writes them)."""
    buf = io.StringIO()
    buf.write(BOM)
    out = csv.writer(buf, lineterminator="\r\n")
    out.writerow([c.label for c in layout.columns])
    for row in rows:
        out.writerow([_text(c.kind, row.get(c.key)) for c in layout.columns])
    return buf.getvalue().encode("utf-8")


def _value(kind: str, text: str):
    if text == "":
        return None
    if kind == "int":
        return int(text)
    if kind == "rate":
        return Decimal(text) / _HUNDRED
    if kind == "date":
        return dt.date.fromisoformat(text)
    return text


def read_csv(layout: Layout, data: bytes) -> list[dict]:
    """The rows of a CSV written by :func:`write_csv`, keyed by kpi column, values typed (rates as
    the kpi fraction). ValueError when the header is not the layout's."""
    text = data.decode("utf-8")
    if not text.startswith(BOM):
        raise ValueError("not a cchc report CSV: no UTF-8 byte-order mark")
    reader = csv.reader(io.StringIO(text[len(BOM):]))
    header = next(reader, None)
    want = [c.label for c in layout.columns]
    if header != want:
        raise ValueError(f"not a {layout.name} CSV: its header is {header!r}, expected {want!r}")
    return [{c.key: _value(c.kind, cell) for c, cell in zip(layout.columns, line, strict=False)}
            for line in reader if line]
