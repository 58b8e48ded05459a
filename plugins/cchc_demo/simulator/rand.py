"""Seeded random streams: each day, dossier or file draws from its own stream.

A stream is named by the seed and a few parts (``stream(seed, "onestop", "2025-05-01")``), so what
one stream draws never shifts another: a day's data do not depend on the range's end, and a
dossier's life does not depend on the dossiers created before it.
"""

from __future__ import annotations

import random


def stream(seed: int, *parts: object) -> random.Random:
    return random.Random(":".join(map(str, (seed, *parts))))


def pick(rng: random.Random, weighted):
    """One value of ``((value, weight), ...)``."""
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights)[0]
