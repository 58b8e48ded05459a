"""What a gate run leaves behind: rows in ``ops.validation_results`` and a one-page HTML report."""

from __future__ import annotations

import html
import json
import os
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cchc.warehouse.connection import append_rows

if TYPE_CHECKING:
    from cchc.quality.gate import CheckResult, GateResult

RESULTS_DDL = """
create schema if not exists ops;
create table if not exists ops.validation_results (
    result_id        bigint generated always as identity primary key,
    run_id           text not null,
    suite            text not null,
    expectation      text not null,          -- the check's name in its suite file
    expectation_type text not null,          -- GX snake_case type, or unexpected_rows
    target           text not null,          -- the validated table, e.g. kpi_build.tthc_report
    success          boolean not null,
    observed         jsonb not null,         -- observed value, unexpected count, sample, error
    message          text,                   -- why it failed (null when it passed)
    evaluated_at     timestamptz not null
);
create index if not exists validation_results_run on ops.validation_results (run_id);
"""


def persist_results(url: str, run_id: str, checks: list[CheckResult], evaluated_at: datetime) -> None:
    """Append one row per check to ``ops.validation_results`` (creating the table if missing)."""
    append_rows(
        url, ddl=RESULTS_DDL, table="ops.validation_results",
        columns=["run_id", "suite", "expectation", "expectation_type", "target", "success", "observed",
                 "message", "evaluated_at"],
        casts={"observed": "jsonb"},
        rows=[(run_id, c.suite, c.name, c.type, c.target, c.success,
               json.dumps(c.observed, default=str, ensure_ascii=False), c.message or None, evaluated_at)
              for c in checks],
    )


def render_report(result: GateResult, evaluated_at: datetime) -> None:
    """Write ``result.report_path``: the verdict, every failing check, then every check per suite."""
    path = result.report_path
    path.parent.mkdir(parents=True, exist_ok=True)
    docs = ""
    if result.data_docs_path:
        docs = f' · <a href="{_e(os.path.relpath(result.data_docs_path, path.parent))}">GX Data Docs</a>'
    verdict = "PASSED" if result.success else "FAILED"
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>Quality gate {_e(result.run_id)}: {verdict}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}"
        ".ok{color:#176117}.ko{color:#b00020;font-weight:bold}code{white-space:pre-wrap}</style>",
        "</head><body>",
        f"<h1>Quality gate <span class='{'ok' if result.success else 'ko'}'>{verdict}</span></h1>",
        f"<p>run <code>{_e(result.run_id)}</code> · evaluated {_e(evaluated_at.isoformat())} · "
        f"{result.checks_evaluated} checks, {result.checks_failed} failed · "
        f"{result.duration_seconds:.2f} s{docs}</p>",
    ]
    if result.notes:
        parts.append("<h2 class='ko'>Read this first</h2><ul>")
        parts += [f"<li class='ko'>{_e(n)}</li>" for n in result.notes]
        parts.append("</ul>")
    if result.failures:
        parts.append("<h2>Failing checks</h2><ul>")
        parts += [f"<li class='ko'><code>{_e(f)}</code></li>" for f in result.failures]
        parts.append("</ul>")
    for suite, checks in result.results_by_suite.items():
        target = checks[0].target if checks else ""
        page = result.data_docs_pages.get(suite)
        link = f' · <a href="{_e(os.path.relpath(page, path.parent))}">Data Docs</a>' if page else ""
        parts.append(f"<h2>{_e(suite)} <small>({_e(target)}{link})</small></h2>")
        parts.append("<table><tr><th>check</th><th>type</th><th>result</th><th>observed</th></tr>")
        for c in checks:
            status = "<span class='ok'>ok</span>" if c.success else "<span class='ko'>FAILED</span>"
            about = f"<br><small>{_e(c.description)}</small>" if c.description else ""
            parts.append(
                f"<tr><td>{_e(c.name)}{about}</td><td>{_e(c.type)}</td><td>{status}</td>"
                f"<td><code>{_e(c.message or _short(c.observed))}</code></td></tr>"
            )
        parts.append("</table>")
    parts.append("</body></html>")
    path.write_text("\n".join(parts), encoding="utf-8")


def _short(observed: dict[str, Any]) -> str:
    text = json.dumps(observed, default=str, ensure_ascii=False)
    return text if len(text) <= 200 else text[:199] + "…"


def _e(text: Any) -> str:
    return html.escape(str(text))
