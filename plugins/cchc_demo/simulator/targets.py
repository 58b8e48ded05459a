"""The reference list ``targets``: the digital-transformation targets assigned per level and year,
with a few unit-specific rows (sources.md: UnitId empty = every unit of the level).

Values are shares 0..1 (0.5 = "over 50 %"). The list of day D holds the years from
:data:`FIRST_YEAR` (or D's year, when earlier) to D's year (a year's targets are assigned on
1 January, the list's NgayCapNhat for them), so it grows on each 1 January; and it is revised
once, on :data:`REVISION_DAY`, when one department's online-dossier target is raised (the history
of the lists keeps both values). One level has no target for one indicator (:data:`NO_TARGET`): its
units are reported "no target", never attained. The list does not depend on the seed, nor on the
simulated range.
"""

from __future__ import annotations

import datetime as dt

FIRST_YEAR = 2024
LEVELS = ("TINH", "SO", "HUYEN", "XA")

#: indicator code -> target per level (TINH, SO, HUYEN, XA); None = no target for that level
LEVEL_TARGETS: dict[str, tuple[float | None, ...]] = {
    "online_procedures_share": (0.8, 0.8, 0.7, 0.6),
    "online_dossiers_share": (0.5, 0.5, 0.4, 0.3),
    "fully_online_dossiers_share": (0.3, 0.3, 0.2, 0.2),
    "procedures_with_online_dossier_share": (0.5, 0.5, 0.5, 0.5),
    "online_payment_share": (0.5, 0.5, 0.4, 0.3),
    "digitised_components_share": (0.8, 0.8, 0.6, 0.5),
    "electronic_results_share": (0.9, 0.9, 0.8, 0.7),
    "satisfaction_share": (0.9, 0.9, 0.9, 0.9),
    "edoc_electronic_share": (0.95, 0.95, 0.9, 0.9),
    "edoc_fully_signed_share": (0.9, 0.9, 0.85, 0.8),
    "edoc_exchange_share": (0.8, 0.8, 0.7, None),  # communes: no target for the exchange axis
}
NO_TARGET = ("XA", "edoc_exchange_share")
INDICATORS: tuple[str, ...] = tuple(LEVEL_TARGETS)

#: (unit id, level, indicator, value): units with a target of their own, every year
UNIT_TARGETS: tuple[tuple[str, str, str, float], ...] = (
    ("000.07.00.H99", "SO", "online_dossiers_share", 0.4),      # land and environment: lower, late unit
    ("000.00.13.H99", "HUYEN", "edoc_electronic_share", 0.7),   # paper-heavy district
    ("000.13.05.H99", "XA", "edoc_electronic_share", 0.6),      # paper-heavy commune
    ("000.30.07.H99", "XA", "edoc_exchange_share", 0.5),        # a commune with its own exchange target
    ("000.03.00.H99", "SO", "online_payment_share", 0.7),       # planning and investment: higher
)
#: from this day the first unit row's target is REVISED_VALUE (a revision of the list)
REVISION_DAY = dt.date(2025, 6, 1)
REVISED = ("000.07.00.H99", "online_dossiers_share", 0.45)


def _updated(day: dt.date) -> str:
    return day.strftime("%Y%m%d") + "000000"


def target_records(day: dt.date) -> list[dict]:
    """The whole targets list delivered for ``day`` (sorted by key)."""
    out = []
    for year in range(min(FIRST_YEAR, day.year), day.year + 1):
        assigned = _updated(dt.date(year, 1, 1))
        for indicator, values in LEVEL_TARGETS.items():
            for level, value in zip(LEVELS, values, strict=True):
                if value is not None:
                    out.append({"UnitId": "", "Level": level, "Year": year, "IndicatorCode": indicator,
                                "TargetValue": value, "NgayCapNhat": assigned})
        for unit_id, level, indicator, value in UNIT_TARGETS:
            updated = assigned
            if (unit_id, indicator) == REVISED[:2] and day >= REVISION_DAY and year >= REVISION_DAY.year:
                value, updated = REVISED[2], _updated(REVISION_DAY)
            out.append({"UnitId": unit_id, "Level": level, "Year": year, "IndicatorCode": indicator,
                        "TargetValue": value, "NgayCapNhat": updated})
    out.sort(key=lambda r: (r["Year"], r["IndicatorCode"], r["Level"], r["UnitId"]))
    return out
