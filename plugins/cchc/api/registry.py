"""The tables the KPI API serves: one entry per ``kpi`` table (published.md), with its grain and filters.

Adding a table to the API is one :class:`Table` entry in :data:`TABLES`: the route, its filters, its
keyset pagination (on the grain, in the grain's order) and its OpenAPI description follow from it.
The entry names only what the published contract promises (the grain and the filter columns);
every other column of the view is returned as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

#: ``period_type`` values of the published interface (published.md, ``kpi.tthc_report``). A table
#: may hold only some of them (dx_indicators has no ``day``): a valid type it lacks gives no rows.
PERIOD_TYPES: tuple[str, ...] = ("day", "week", "month", "quarter", "half_year", "year")


@dataclass(frozen=True)
class Table:
    """One ``kpi`` table served at ``/<path>``.

    - ``grain``: the columns that identify a row (published.md); rows come in this order and the
      ``after`` cursor is a position in it.
    - ``period_type``: the table has a ``period_type`` column (filter ``period_type``).
    - ``period``: the column the filters ``period`` / ``period_from`` / ``period_to`` compare with
      (``period_start``, or ``month`` for monthly tables); None when the table has no period.
    - ``date``: the daily grain's date column (filters ``date`` / ``date_from`` / ``date_to``).
    - ``unit``: the unit column (a token sees only its subtree's rows; filters ``unit`` and
      ``include_subtree``); None for a table without units.
    - ``filters``: other columns filtered by equality (text), e.g. ``field_code``.
    - ``descending``: newest first (the publication list).
    """

    name: str
    summary: str
    grain: tuple[str, ...]
    period_type: bool = False
    period: str | None = None
    date: str | None = None
    unit: str | None = "unit_id"
    filters: tuple[str, ...] = ()
    descending: bool = False

    @property
    def path(self) -> str:
        return "/" + self.name.replace("_", "-")


PUBLICATIONS = Table(
    "publications", "Every publication, newest first (kpi.publications, contract version 2).",
    grain=("publication_id",), unit=None, descending=True)

#: Every ``kpi`` table the API serves, in the order of published.md.
TABLES: tuple[Table, ...] = (
    Table("tthc_report", "The periodic dossier report (Mẫu 06): one row per period, unit and field "
          "(field_code '*' for all fields of the unit); a unit's own dossiers.",
          grain=("period_type", "period_start", "unit_id", "field_code"),
          period_type=True, period="period_start", filters=("field_code",)),
    Table("tthc_report_subtree", "The periodic report of a unit and everything under it, as its chair "
          "signs it (same columns and grain as tthc_report).",
          grain=("period_type", "period_start", "unit_id", "field_code"),
          period_type=True, period="period_start", filters=("field_code",)),
    Table("dossier_facts_daily", "Daily flows and end-of-day backlog per unit and field (the grain BI "
          "tools drill into).",
          grain=("date", "unit_id", "field_code"), date="date", filters=("field_code",)),
    Table("late_dossiers", "The monthly list of late dossiers (one row per month, dossier and rule).",
          grain=("month", "dossier_code", "rule"), period="month", filters=("field_code", "rule")),
    Table("due_date_audit", "Dossiers whose due date in force differs from the statutory due date.",
          grain=("month", "dossier_code"), period="month"),
    Table("due_date_audit_monthly", "Per month and unit: due dates differing from the law, and the "
          "report's late figures beside the same figures under the statutory due date.",
          grain=("month", "unit_id"), period="month"),
    Table("esignature_usage", "E-documents: outgoing, electronic, signed, paper, via the axis, incoming, "
          "acknowledged, and the rates, per period and unit.",
          grain=("period_type", "period_start", "unit_id"), period_type=True, period="period_start"),
    Table("leader_paper_documents", "Documents a unit's leader signed on paper, per month.",
          grain=("month", "unit_id", "document_id"), period="month"),
    Table("service_index", "Decision 766 scores per period and unit: group scores, total, rank in the "
          "province and the ratios behind each score.",
          grain=("period_type", "period_start", "unit_id"), period_type=True, period="period_start"),
    Table("dx_indicators", "Digital-transformation indicators per period, unit, scope (own or subtree) "
          "and indicator: numerator, denominator, value, target, attained.",
          grain=("period_type", "period_start", "unit_id", "scope", "indicator_code"),
          period_type=True, period="period_start", filters=("scope", "indicator_code")),
    Table("late_accountability", "Late share and verdict (ok, criticism, discipline) per month and unit.",
          grain=("month", "unit_id"), period="month", filters=("verdict",)),
)

BY_NAME: dict[str, Table] = {t.name: t for t in (PUBLICATIONS, *TABLES)}
