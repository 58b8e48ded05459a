"""Records the build left out of the counts, and the suites that judge how many may be.

The build never fails for one bad source record: a dossier or e-document that cannot be counted
honestly is kept in ``marts.fct_dossiers`` / ``marts.fct_documents`` with a
``report_exclusion_reason`` (rules in ``int_dossiers`` and ``fct_documents``), a warning-level dbt
test stores it in ``audit.*``, and the publication gate decides by threshold:
:data:`EXCLUSION_SUITES` (``expectations/dossier_exclusions.yml``, ``document_exclusions.yml``)
fail when one reason excludes more than a share of a month's records, naming them. Below the
threshold the run publishes, and :func:`excluded_records` lists what was left out (record, reason,
source day, batch) for the run summary.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import psycopg

from cchc.paths import EXPECTATIONS_DIR
from cchc.quality.suites import published_suites

#: Suites of the publication gate that judge the marts rather than a candidate table: run them
#: with the candidates' suites (see :func:`publication_gate_suites`).
EXCLUSION_SUITES: tuple[str, ...] = ("dossier_exclusions", "document_exclusions")

#: Exclusion reasons that are counting rules, not defects of the source: never listed or judged.
NORMAL_REASONS = {"dossier": ("not_received",), "document": ("secret",)}

_SOURCES = {
    # kind: (table, key column)
    "dossier": ("marts.fct_dossiers", "dossier_id"),
    "document": ("marts.fct_documents", "document_id"),
}


@dataclass(frozen=True)
class ExcludedRecord:
    """One source record left out of the counts for a defect."""

    kind: str  # dossier | document
    key: str  # MaHoSo / DocumentId
    reason: str  # report_exclusion_reason
    source_day: dt.date
    batch_id: int

    def __str__(self) -> str:
        return f"{self.kind} {self.key} ({self.reason}; source day {self.source_day}, batch {self.batch_id})"


def publication_gate_suites(tables: list[str], directory=EXPECTATIONS_DIR) -> list[str]:
    """Every suite of the publication gate: the suites of the candidate ``tables``
    (:func:`cchc.quality.published_suites`) and then :data:`EXCLUSION_SUITES`."""
    return [*published_suites(tables, directory), *EXCLUSION_SUITES]


def excluded_records(conn: psycopg.Connection, *, limit: int | None = None) -> list[ExcludedRecord]:
    """The records of ``marts.fct_dossiers`` and ``marts.fct_documents`` left out of the counts
    for a defect, by kind, reason, source day and key (at most ``limit`` of each kind). A table
    that does not exist (e.g. no e-document system) lists nothing."""
    records: list[ExcludedRecord] = []
    for kind, (table, key) in _SOURCES.items():
        if conn.execute("select to_regclass(%s)", (table,)).fetchone()[0] is None:
            continue
        rows = conn.execute(
            f"select {key}, report_exclusion_reason, source_day, batch_id from {table}"
            " where report_exclusion_reason is not null and not (report_exclusion_reason = any(%s))"
            f" order by report_exclusion_reason, source_day, {key}"
            + (" limit %s" if limit is not None else ""),
            (list(NORMAL_REASONS[kind]), *([int(limit)] if limit is not None else [])),
        ).fetchall()
        records += [ExcludedRecord(kind, r[0], r[1], r[2], r[3]) for r in rows]
    return records


def exclusion_counts(conn: psycopg.Connection) -> dict[str, dict[str, int]]:
    """{kind: {reason: records}} of the records left out for a defect (for the run's details)."""
    counts: dict[str, dict[str, int]] = {}
    for kind, (table, _) in _SOURCES.items():
        if conn.execute("select to_regclass(%s)", (table,)).fetchone()[0] is None:
            continue
        rows = conn.execute(
            f"select report_exclusion_reason, count(*) from {table} where report_exclusion_reason is not null"
            " and not (report_exclusion_reason = any(%s)) group by 1 order by 1",
            (list(NORMAL_REASONS[kind]),),
        ).fetchall()
        counts[kind] = {reason: n for reason, n in rows}
    return counts
