"""The re-delivery rules: which delivery of a (system, feed, day) may replace the version in force.

This module is the one place where the rules of sources.md ("Re-deliveries") are written; it is
pure Python (no database), so each rule is tested on its own (tests/test_ledger_rules.py).

A delivery that lands (it passed its manifest / checksum checks) is compared with the *reference
version* of its (system, feed, day): the batch awaiting its gate, if any, else the batch in force.

1. No reference version: the delivery is the day's first → ``pending`` (it goes to the gate).
2. Both carry ``generated_at``: an older one → ``stale`` (recorded, never applied); the same
   ``generated_at`` with different content → ``held`` (the source contradicts itself).
3. The delivery has no ``generated_at`` (older exporters): ordered by arrival, but since it changes
   a day already landed it is ``held`` for an operator instead of applied.
4. An empty re-delivery of a day whose reference version had records → ``held``: an outage of the
   source must never erase a day.
5. A re-delivery that no longer carries more than ``max_dropped_share`` of the reference version's
   keys → ``held``.
6. Otherwise → ``pending``: it replaces the reference version once it passes the gate. Until then,
   and if the gate blocks it, the version in force stays in force.

An operator may accept a held, blocked or stale batch (``cchc batches accept ID --reason``): it
becomes ``pending`` (held, stale) and goes through the gate again, or, for a blocked batch, comes
into force over the gate's verdict; or reject it (``rejected``). Every decision is kept.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cchc.readiness import LOCAL_TZ

#: every disposition a batch can have, and what it means (README, "The batch ledger")
DISPOSITIONS: dict[str, str] = {
    "pending": "landed, waiting for the batch gate",
    "in_force": "the version of its day that the warehouse is built from",
    "superseded": "was in force (or pending), replaced by a newer version",
    "blocked": "failed the batch gate; never read until a newer delivery or an operator's accept",
    "held": "held for an operator (empty, drops keys, no generated_at, contradicts the source)",
    "stale": "older generated_at than the version in force; recorded, not applied",
    "rejected": "rejected by an operator",
    "refused": "not landed: incomplete day, count or checksum mismatch, missing file",
}

#: what an operator's accept turns each disposition into
ACCEPT_TO: dict[str, str] = {"held": "pending", "stale": "pending", "blocked": "in_force"}
#: dispositions an operator may reject
REJECTABLE: frozenset[str] = frozenset({"held", "stale", "blocked", "pending"})


@dataclass(frozen=True)
class Version:
    """What the rules need to know of a batch."""

    batch_id: int
    disposition: str
    generated_at: dt.datetime | None
    keys: int  # distinct record keys it delivered


@dataclass(frozen=True)
class Decision:
    disposition: str  # pending | held | stale
    reason: str
    replaces: int | None = None  # the reference version's batch id


def decide(*, generated_at: dt.datetime | None, keys: int, dropped_keys: int,
           reference: Version | None, max_dropped_share: float) -> Decision:
    """The disposition of a newly landed delivery (see the module docstring for the rules).

    ``keys``: distinct record keys the delivery carries; ``dropped_keys``: keys of the reference
    version that it no longer carries.
    """
    if reference is None:
        return Decision("pending", "first delivery of the day")
    ref = f"batch {reference.batch_id} ({reference.disposition})"

    def local(when: dt.datetime) -> str:  # the province's time, as the sources write it
        return when.astimezone(LOCAL_TZ).isoformat()

    if generated_at is not None and reference.generated_at is not None:
        if generated_at < reference.generated_at:
            return Decision("stale", f"generated at {local(generated_at)}, before {ref} generated at "
                            f"{local(reference.generated_at)}: recorded, not applied", reference.batch_id)
        if generated_at == reference.generated_at:
            return Decision("held", f"same generated_at ({local(generated_at)}) as {ref} but different "
                            "content: held for an operator", reference.batch_id)
    if generated_at is None:
        return Decision("held", f"no generated_at, and it changes a day already landed ({ref}): "
                        "held for an operator", reference.batch_id)
    if keys == 0 and reference.keys > 0:
        return Decision("held", f"empty re-delivery: it would erase the {reference.keys} records of {ref}; "
                        "held for an operator", reference.batch_id)
    if reference.keys > 0 and dropped_keys / reference.keys > max_dropped_share:
        return Decision("held", f"drops {dropped_keys} of the {reference.keys} keys of {ref} "
                        f"({dropped_keys / reference.keys:.0%}, more than the {max_dropped_share:.0%} allowed): "
                        "held for an operator", reference.batch_id)
    return Decision("pending", f"re-delivery replacing {ref} once it passes the gate", reference.batch_id)
