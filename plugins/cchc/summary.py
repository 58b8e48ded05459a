"""What the current publication says, in a few lines (printed at the end of `make run`)."""

from __future__ import annotations

from cchc.paths import state_dir
from cchc.warehouse import connect, warehouse_url
from cchc.warehouse.connection import redact_url


def _pct(value) -> str:
    return "n/a (nothing resolved)" if value is None else f"{float(value) * 100:.2f} %"


def latest_summary() -> str:
    """The current publication (``is_current``; the latest one on a version-1 ``kpi``), or ""."""
    from cchc.publish import current_publication

    with connect() as conn:
        if conn.execute("select to_regclass('kpi.publications')").fetchone()[0] is None:
            return ""
        pub = current_publication(conn)
        if pub is not None:
            pub_id, as_of, published_at, rows, checks, report = (
                pub.publication_id, pub.as_of_date, pub.published_at, pub.rows_published,
                pub.checks_evaluated, pub.validation_report)
        else:
            row = conn.execute(
                "select publication_id, as_of_date, published_at, rows_published, checks_evaluated, "
                "validation_report from kpi.publications order by publication_id desc limit 1").fetchone()
            if row is None:
                return ""
            pub_id, as_of, published_at, rows, checks, report = row
        province = None
        if conn.execute("select to_regclass('marts.dim_unit')").fetchone()[0] is not None:
            province = conn.execute(
                "select unit_id, unit_name from marts.dim_unit where is_province order by unit_id limit 1"
            ).fetchone()
        lines = [
            f"publication {pub_id}: as of {as_of}, published {published_at:%Y-%m-%d %H:%M:%S %Z}, "
            f"{rows} rows, {checks} checks passed",
        ]
        if pub is not None:
            if pub.rolled_back_from is not None:
                lines.append(f"current again after a rollback from publication {pub.rolled_back_from}")
            lines += _completeness_lines(pub)
        if province:
            unit_id, name = province
            month = conn.execute(
                "select period_start, period_end, received_total, resolved_total, resolved_late, "
                "pending_overdue, on_time_rate from kpi.tthc_report where period_type = 'month' "
                "and unit_id = %s and field_code = '*' order by period_start desc limit 1",
                (unit_id,)).fetchone()
            if month:
                start, end, received, resolved, late, overdue, rate = month
                lines.append(
                    f"{name} ({unit_id}), month {start:%Y-%m} ({start} .. {end}): on-time rate "
                    f"{_pct(rate)} — {resolved} resolved of {received} to handle, {late} late, "
                    f"{overdue} pending overdue")
            esign = _esignature_line(conn, unit_id)
            if esign:
                lines.append(esign)
        lines += _service_index_lines(conn)
        lines += _accountability_lines(conn)
        lines += [
            f"warehouse: {redact_url(warehouse_url())}  (schema kpi: tthc_report, dossier_facts_daily, ...; "
            "`cchc db-url` prints it with its password)",
            f"validation report: {report}",
            *_docs_lines(),
            _bulletin_line(pub_id),
            f"run log: table ops.pipeline_steps; dbt artifacts: ops.dbt_run_results; state: {state_dir()}",
        ]
    return "\n".join(lines)


def _bulletin_line(publication_id: int) -> str:
    """Where the bulletin of the publication is (written by `cchc run` / `make run`, `cchc bulletin`)."""
    from cchc.reports.bulletin import bulletin_path
    from cchc.settings import bulletin_dir

    html = bulletin_path(bulletin_dir(), publication_id)
    if not html.exists():
        return f"bulletin: not written for publication {publication_id} (`cchc bulletin` writes it into {html.parent})"
    pdf = html.with_suffix(".pdf")
    return f"bulletin: {html}" + (f" (PDF: {pdf})" if pdf.exists() else " (`cchc bulletin --pdf` prints its PDF)")


def _docs_lines() -> list[str]:
    """Where the engineers' docs are: the gate's GX Data Docs (offline) and the dbt docs."""
    from cchc.transform.docs import default_docs_dir

    site = state_dir() / "gx" / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    dbt_docs = default_docs_dir()
    lines = [f"GX Data Docs: {site}" if site.exists() else "GX Data Docs: none yet (written by every gate)"]
    if (dbt_docs / "static_index.html").exists():
        lines.append(f"dbt docs: {dbt_docs / 'static_index.html'} "
                     "(`cchc docs` refreshes them, `cchc docs --serve` serves them)")
    else:
        lines.append(f"dbt docs: `cchc docs` writes them into {dbt_docs} (`--serve` serves them)")
    return lines


def _completeness_lines(pub) -> list[str]:
    """complete_through and missing days, when the publication recorded them."""
    lines = []
    if pub.complete_through:
        lines.append("complete through: " + ", ".join(
            f"{system} {day}" for system, day in sorted(pub.complete_through.items())))
    if pub.missing_days:
        for system, days in sorted(pub.missing_days.items()):
            shown = ", ".join(days[:10]) + (f", … ({len(days)} in all)" if len(days) > 10 else "")
            lines.append(f"missing days ({system}): {shown}")
    elif pub.missing_days == {}:
        lines.append("missing days: none")
    return lines


def _esignature_line(conn, unit_id: str) -> str | None:
    exists = conn.execute("select to_regclass('kpi.esignature_usage')").fetchone()[0]
    if not exists:
        return None
    row = conn.execute(
        "select period_start, outgoing_documents, fully_signed, fully_signed_rate from kpi.esignature_usage "
        "where period_type = 'month' and unit_id = %s order by period_start desc limit 1", (unit_id,)).fetchone()
    if not row:
        return None
    start, outgoing, signed, rate = row
    return (f"e-documents, month {start:%Y-%m}: {_pct(rate)} of {outgoing} outgoing documents fully "
            f"signed (signer + organisation, both valid): {signed}")


def _exists(conn, relation: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (relation,)).fetchone()[0]


def _service_index_lines(conn, shown: int = 3) -> list[str]:
    """The Decision 766 index of the last month: the province's top and bottom units."""
    if not _exists(conn, "kpi.service_index"):
        return []
    rows = conn.execute(
        "select period_start, unit_id, unit_name, total_score, points_computed_on, rank_in_province "
        "from kpi.service_index where period_type = 'month' and rank_in_province is not null "
        "and period_start = (select max(period_start) from kpi.service_index where period_type = 'month') "
        "order by rank_in_province, unit_id").fetchall()
    if not rows:
        return []

    def unit(row) -> str:
        return f"#{row[5]} {row[2] or row[1]} ({row[1]}) {float(row[3]):.2f}/{float(row[4]):.0f}"

    month = rows[0][0]
    lines = [f"Decision 766 index, month {month:%Y-%m} ({len(rows)} units ranked; score / the points "
             "its sources could support):",
             "  top: " + "; ".join(unit(r) for r in rows[:shown])]
    if len(rows) > shown:
        lines.append("  bottom: " + "; ".join(unit(r) for r in rows[-shown:]))
    return lines


def _accountability_lines(conn) -> list[str]:
    """The units of the last month at or over the criticism threshold (kpi.late_accountability)."""
    if not _exists(conn, "kpi.late_accountability"):
        return []
    month = conn.execute("select max(month) from kpi.late_accountability").fetchone()[0]
    if month is None:
        return []
    rows = conn.execute(
        "select unit_id, unit_name, late_share, verdict, criticisms_last_12_months, late_without_apology "
        "from kpi.late_accountability where month = %s and verdict in ('criticism', 'discipline') "
        "order by late_share desc, unit_id", (month,)).fetchall()
    if not rows:
        return [f"late accountability, month {month:%Y-%m}: no unit at or over the criticism threshold"]
    listed = "; ".join(
        f"{name or unit_id} ({unit_id}) {_pct(share)} late, {verdict}"
        + (f" (criticism months in the last 12: {criticisms})" if criticisms else "")
        + (f", {no_apology} late without an apology" if no_apology else "")
        for unit_id, name, share, verdict, criticisms, no_apology in rows)
    return [f"late accountability, month {month:%Y-%m}: {len(rows)} unit(s) at or over the criticism "
            f"threshold: {listed}"]
