"""The names consumers read in `kpi` keep their columns and types from one version of the code to
the next (published.md; README "Versions"). The publish step refuses a candidate that drops a
column or changes a type (cchc.publish: "not view-compatible"), but only on a warehouse that already
has the previous interface, i.e. in a province, on its next night. This test finds such a change
here first: the demo province's published interface (every view and table of `kpi`, each column
with its type, in order) equals tests/published_interface.json. A new column or name is a
deliberate change of the interface: add it to that file (and to published.md or README
"Versions"); a changed type or a lost column is a new name, never an edit."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg

EXPECTED = Path(__file__).with_name("published_interface.json")


def published_interface(url: str) -> dict[str, list[list[str]]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("select table_name, column_name, data_type from information_schema.columns "
                            "where table_schema = 'kpi' order by table_name, ordinal_position").fetchall()
    interface: dict[str, list[list[str]]] = {}
    for table, column, data_type in rows:
        interface.setdefault(table, []).append([column, data_type])
    return interface


def test_the_published_interface_is_the_one_consumers_rely_on(published_warehouse):
    expected = json.loads(EXPECTED.read_text(encoding="utf-8"))
    actual = published_interface(published_warehouse["url"])
    assert sorted(actual) == sorted(expected), "kpi names gained or lost: update published_interface.json deliberately"
    changed = {}
    for name, columns in expected.items():
        kept = actual[name][:len(columns)]
        if kept != columns:
            changed[name] = [(want, got) for want, got in zip(columns, kept, strict=False) if want != got] or "columns lost"
    assert changed == {}, f"published columns changed type, order or name (consumers' views break): {changed}"
    gained = {name: actual[name][len(columns):] for name, columns in expected.items() if len(actual[name]) > len(columns)}
    assert gained == {}, f"new published columns: add them to published_interface.json and document them: {gained}"
