"""The batch ledger: every delivery kept with its status and gate verdict, the version in force per
day, the per-feed current state merged from the batches in force, and what a publication may claim.

- :mod:`cchc.ledger.rules` — the re-delivery rules (pure; the one place they are written);
- :mod:`cchc.ledger.batches` — dispositions in ``raw.load_batches``, gate verdicts, operator reviews;
- :mod:`cchc.ledger.state` — ``state.<system>__<feed>``, merged from the night's batches in force;
- :mod:`cchc.ledger.completeness` — complete_through, missing_days and ``as_of_date``.
"""

from cchc.ledger.batches import LedgerError, list_batches, needing_review, pending_batches, record_gate, review
from cchc.ledger.completeness import Completeness, completeness
from cchc.ledger.rules import DISPOSITIONS, Decision, decide
from cchc.ledger.state import STATE_SCHEMA, MergeStats, refresh_state

__all__ = ["DISPOSITIONS", "STATE_SCHEMA", "Completeness", "Decision", "LedgerError", "MergeStats",
           "completeness", "decide", "list_batches", "needing_review", "pending_batches", "record_gate",
           "refresh_state", "review"]
