"""The unit hierarchy that scopes tokens: which units lie under a unit.

The tree is the current publication's ``kpi.units`` (published from ``marts.dim_unit``: every
unit the sources ever listed, with its parent, including units that ceased to exist: a district's
token keeps seeing its former communes' past rows), so tokens are scoped by the same published
hierarchy as the unit-scoped BI logins. It is read by the pipeline role (which sees every unit) in
a read-only transaction; the API reads nothing outside ``kpi`` but its tokens.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import psycopg

SOURCE = "kpi.units"


class UnitsUnavailable(RuntimeError):
    """The hierarchy cannot be read (no build yet)."""


@dataclass(frozen=True)
class UnitTree:
    parent: dict[str, str | None]
    root: str | None
    children: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, parent: dict[str, str | None], root: str | None) -> UnitTree:
        kids: dict[str, list[str]] = defaultdict(list)
        for unit, up in parent.items():
            if up is not None and up != unit:
                kids[up].append(unit)
        return cls(parent, root, {k: tuple(sorted(v)) for k, v in kids.items()})

    def __contains__(self, unit: str) -> bool:
        return unit in self.parent

    def subtree(self, unit: str) -> frozenset[str]:
        """``unit`` and every unit under it (cycle-safe)."""
        seen, todo = {unit}, [unit]
        while todo:
            for child in self.children.get(todo.pop(), ()):
                if child not in seen:
                    seen.add(child)
                    todo.append(child)
        return frozenset(seen)

    def is_root(self, unit: str) -> bool:
        return unit == self.root


def load_units(conn: psycopg.Connection) -> UnitTree:
    """The hierarchy from ``kpi.units``; :class:`UnitsUnavailable` before the first publication that has it."""
    try:
        with conn.transaction():
            rows = conn.execute(f"select unit_id, parent_unit_id, is_province from {SOURCE}").fetchall()
    except psycopg.errors.UndefinedTable:
        raise UnitsUnavailable(f"the unit hierarchy ({SOURCE}) does not exist yet: run the pipeline first") from None
    roots = sorted(u for u, _, is_province in rows if is_province)
    return UnitTree.of({u: p for u, p, _ in rows}, roots[0] if len(roots) == 1 else None)
