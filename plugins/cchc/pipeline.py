"""The nightly job's steps, as plain functions (the DAG in dags/ only wires them together).

    plan → land (every day of the range, in order) → gate the landed batches → dbt build into the
    hidden schema → gate the publication candidates → publish into ``kpi``

A run over a date range lands every day but builds, audits and publishes once. Every step records
its outcome in ``ops.pipeline_steps`` (the run log kept in the warehouse), so a failure names its step
and reason wherever the run was started from. Values passed between steps are JSON-serialisable
dicts (they travel as Airflow XComs).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import traceback
from contextlib import contextmanager
from typing import Any, Iterator

import psycopg

from cchc.paths import state_dir
from cchc.settings import SourceSettings, key_fingerprint, pseudonym_key
from cchc.warehouse import connect, warehouse_url

log = logging.getLogger("cchc.pipeline")

OPS_DDL = """
create schema if not exists ops;
create table if not exists ops.pipeline_steps (
    run_id       text not null,
    step         text not null,
    status       text not null check (status in ('running', 'success', 'failed')),
    message      text,
    details      jsonb,
    started_at   timestamptz not null default now(),
    finished_at  timestamptz,
    primary key (run_id, step)
);
"""

RAW_BATCH_SUITES = ("raw_reference__units", "raw_reference__procedures", "raw_onestop__dossiers",
                    "raw_onestop__steps", "raw_edoc__documents")


class PipelineError(RuntimeError):
    def __init__(self, step: str, reason: str):
        super().__init__(f"step '{step}' failed: {reason}")
        self.step, self.reason = step, reason


def _ops(conn: psycopg.Connection) -> None:
    conn.execute("select pg_advisory_xact_lock(hashtext('cchc.ops.ddl'))")
    conn.execute(OPS_DDL)


@contextmanager
def step(run_id: str, name: str) -> Iterator[dict]:
    """Record a step's start, success (with the details the body puts in the yielded dict) or
    failure (with the reason) in ops.pipeline_steps; re-raise failures as PipelineError."""
    details: dict[str, Any] = {}
    with connect(autocommit=True) as conn:
        _ops(conn)
        conn.execute(
            "insert into ops.pipeline_steps (run_id, step, status) values (%s, %s, 'running') "
            "on conflict (run_id, step) do update set status = 'running', message = null, "
            "details = null, started_at = now(), finished_at = null", (run_id, name))
    t0 = time.monotonic()
    log.info("[%s] %s ...", run_id, name)
    try:
        yield details
    except Exception as exc:  # noqa: BLE001 - recorded, then re-raised with the step's name
        reason = str(exc) or type(exc).__name__
        with connect(autocommit=True) as conn:
            conn.execute(
                "update ops.pipeline_steps set status = 'failed', message = %s, details = %s, "
                "finished_at = now() where run_id = %s and step = %s",
                (reason, json.dumps({"traceback": traceback.format_exc(limit=8)}), run_id, name))
        log.error("[%s] %s FAILED after %.1fs: %s", run_id, name, time.monotonic() - t0, reason)
        if isinstance(exc, PipelineError):
            raise
        raise PipelineError(name, reason) from exc
    details["seconds"] = round(time.monotonic() - t0, 2)
    with connect(autocommit=True) as conn:
        conn.execute(
            "update ops.pipeline_steps set status = 'success', details = %s, finished_at = now() "
            "where run_id = %s and step = %s", (json.dumps(details, default=str), run_id, name))
    log.info("[%s] %s done in %.1fs", run_id, name, details["seconds"])


def days_between(start: dt.date, end: dt.date) -> list[dt.date]:
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


# -- steps ---------------------------------------------------------------------------------------

def plan_run(*, start: str, end: str, run_id: str, source: dict) -> dict:
    """Validate the request and reserve a publication id."""
    from cchc.publish import next_publication_id

    with step(run_id, "plan") as d:
        days = days_between(dt.date.fromisoformat(start), dt.date.fromisoformat(end))
        SourceSettings.from_env(**_source_kwargs(source))  # validates
        with connect() as conn:
            publication_id = next_publication_id(conn)
            conn.commit()
        d.update(days=len(days), start=start, end=end, publication_id=publication_id)
    return {"run_id": run_id, "days": [x.isoformat() for x in days], "publication_id": publication_id,
            "source": _source_kwargs(source)}


def land(plan: dict) -> dict:
    """Land every day of the plan, in order; fail (after landing what can be landed) on refusals."""
    from cchc.extract import DeliveryRefused
    from cchc.land import land_day
    from cchc.raw import FEEDS, ensure_raw_schema

    run_id = plan["run_id"]
    with step(run_id, "extract_and_land") as d:
        settings = SourceSettings.from_env(**_source_kwargs(plan["source"]))
        source = settings.open()
        key = pseudonym_key()
        log.info("[%s] sources: %s; pseudonym key id %s", run_id, settings.describe(), key_fingerprint(key))
        systems = sorted({f.system for f in FEEDS})
        absent = [s for s in systems if not source.provides(s)]
        if "reference" in absent:
            raise PipelineError("extract_and_land", f"{settings.describe()} has no 'reference' folder: "
                                "the units and procedures lists are needed to check every record")
        if len(absent) == len(systems) - 1:
            raise PipelineError("extract_and_land", f"{settings.describe()} delivers none of "
                                f"{', '.join(s for s in systems if s != 'reference')}")
        for system in absent:
            log.warning("[%s] %s has no '%s' folder: that system is not part of this delivery",
                        run_id, settings.describe(), system)
        feeds = [f for f in FEEDS if f.system not in absent]
        with connect() as conn:
            ensure_raw_schema(conn)
            conn.commit()
        batch_ids: list[int] = []
        totals = {"landed": 0, "rejected": 0, "unchanged_batches": 0, "new_batches": 0}
        n = len(plan["days"])
        t0 = time.monotonic()
        refusals: list[str] = []
        for i, day in enumerate(plan["days"], 1):
            try:
                result = land_day(warehouse_url(), source, dt.date.fromisoformat(day), feeds=feeds,
                                  pseudonym_key=key, run_id=run_id)
            except DeliveryRefused as refused:
                # the day's other files landed; keep going, fail at the end of the step
                refusals.append(str(refused))
                result = refused.result
                if result is None:
                    continue
            for b in result.batches:
                if b.status == "landed":
                    batch_ids.append(b.batch_id)
                    totals["new_batches"] += 1
                    totals["landed"] += b.rows_landed
                    totals["rejected"] += b.rows_rejected
                elif b.status == "unchanged":
                    totals["unchanged_batches"] += 1
            elapsed = time.monotonic() - t0
            log.info("[%s] landed %s (%d/%d, %.0fs elapsed, ~%.0fs left): %s", run_id, day, i, n,
                     elapsed, elapsed / i * (n - i), result.summary())
        d.update(totals, batch_ids=len(batch_ids), refused_days=len(refusals), systems_absent=absent)
        if refusals:
            raise PipelineError("extract_and_land", f"{len(refusals)} day(s) not (fully) landed, "
                                "nothing will be published:\n" + "\n".join(refusals))
    return {"batch_ids": batch_ids, **totals}


def as_of_date(plan: dict) -> str:
    """The last source day included: the plan's end, or a later day already landed."""
    with connect() as conn:
        row = conn.execute(
            "select max(source_day) from raw.load_batches where status = 'landed' "
            "and system = 'onestop'").fetchone()
    latest = row[0].isoformat() if row and row[0] else plan["days"][-1]
    return max(latest, plan["days"][-1])


def gate_batches(plan: dict, landed: dict) -> dict:
    from cchc.quality import run_gate

    run_id = plan["run_id"]
    with step(run_id, "gate_batches") as d:
        if not landed["batch_ids"]:
            d.update(skipped="no new batches")
            return {"checks_evaluated": 0, "checks_failed": 0, "report": None}
        ids = ",".join(str(int(b)) for b in landed["batch_ids"])
        result = run_gate(warehouse_url(), list(RAW_BATCH_SUITES), schema_map={"raw": "raw"},
                          run_id=run_id, report_dir=state_dir() / "gx",
                          batch_filter=f"batch_id in ({ids})", report_name="gate-batches")
        d.update(checks_evaluated=result.checks_evaluated, checks_failed=result.checks_failed,
                 report=str(result.report_path))
        if not result.success:
            raise PipelineError("gate_batches", _failure_text(result))
    return {"checks_evaluated": result.checks_evaluated, "checks_failed": result.checks_failed,
            "report": str(result.report_path)}


def build(plan: dict) -> dict:
    from cchc.transform import build as dbt_build

    run_id = plan["run_id"]
    with step(run_id, "dbt_build") as d:
        as_of = as_of_date(plan)
        result = dbt_build(warehouse_url(), as_of_date=as_of,
                           publication_id=plan["publication_id"], run_id=run_id)
        d.update(as_of_date=as_of, nodes=len(result.results))
    return {"as_of_date": as_of}


def gate_marts(plan: dict) -> dict:
    from cchc.publish import BUILD_SCHEMA
    from cchc.quality import published_suites, run_gate

    run_id = plan["run_id"]
    with step(run_id, "gate_marts") as d:
        with connect() as conn:
            from cchc.publish import candidate_tables
            tables = candidate_tables(conn)
        suites = published_suites(tables)
        result = run_gate(warehouse_url(), suites, schema_map={"kpi": BUILD_SCHEMA},
                          run_id=run_id, report_dir=state_dir() / "gx", report_name="gate-publication")
        d.update(suites=suites, checks_evaluated=result.checks_evaluated,
                 checks_failed=result.checks_failed, report=str(result.report_path))
        if not result.success:
            raise PipelineError("gate_marts", _failure_text(result))
    return {"checks_evaluated": result.checks_evaluated, "checks_failed": result.checks_failed,
            "report": str(result.report_path)}


def publish_run(plan: dict, built: dict, batch_gate: dict, mart_gate: dict) -> dict:
    from cchc.publish import publish

    run_id = plan["run_id"]
    with step(run_id, "publish") as d:
        with connect() as conn:
            pub = publish(
                conn, publication_id=plan["publication_id"],
                as_of_date=dt.date.fromisoformat(built["as_of_date"]), run_id=run_id,
                checks_evaluated=batch_gate["checks_evaluated"] + mart_gate["checks_evaluated"],
                checks_failed=batch_gate["checks_failed"] + mart_gate["checks_failed"],
                validation_report=mart_gate["report"])
        d.update(publication_id=pub.publication_id, rows=pub.rows_published, tables=list(pub.tables))
    return {"publication_id": pub.publication_id, "as_of_date": built["as_of_date"],
            "rows_published": pub.rows_published}


# -- helpers -------------------------------------------------------------------------------------

def _failure_text(result) -> str:
    head = f"{result.checks_failed} of {result.checks_evaluated} checks failed"
    lines = "\n".join(f"  - {f}" for f in result.failures[:20])
    more = f"\n  … and {len(result.failures) - 20} more" if len(result.failures) > 20 else ""
    return f"{head} (report: {result.report_path}):\n{lines}{more}"


def _source_kwargs(source: dict) -> dict:
    """Only where to read from travels between steps; the token stays in the environment."""
    return {"source_dir": source.get("source_dir"), "source_url": source.get("source_url")}

