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
import hashlib
import json
import logging
import time
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

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
    status       text not null,
    message      text,
    details      jsonb,
    started_at   timestamptz not null default now(),
    finished_at  timestamptz,
    primary key (run_id, step)
);
do $$ begin
    if not exists (select 1 from pg_constraint where conname = 'pipeline_steps_status_v2') then
        alter table ops.pipeline_steps drop constraint if exists pipeline_steps_status_check;
        alter table ops.pipeline_steps add constraint pipeline_steps_status_v2
            check (status in ('running', 'success', 'failed', 'abandoned'));
    end if;
end $$;
"""

class PipelineError(RuntimeError):
    """A step failed. ``retryable=False``: retrying the same inputs cannot help (a failed gate, a
    warehouse that lacks grants, nothing in force): the scheduler fails the task at once."""

    def __init__(self, step: str, reason: str, *, retryable: bool = True):
        super().__init__(f"step '{step}' failed: {reason}")
        self.step, self.reason, self.retryable = step, reason, retryable


def _ops(conn: psycopg.Connection) -> None:
    conn.execute("select pg_advisory_xact_lock(hashtext('cchc.ops.ddl'))")
    conn.execute(OPS_DDL)


@contextmanager
def step(run_id: str, name: str) -> Iterator[dict]:
    """Record a step's start, success (with the details the body puts in the yielded dict) or
    failure (with the reason) in ops.pipeline_steps; re-raise failures as PipelineError. While the
    step works, the run lock's heartbeat is refreshed (cchc.runlock); a failure releases the lock."""
    from cchc.runlock import Heartbeat, release

    details: dict[str, Any] = {}
    url = warehouse_url()
    with connect(url, autocommit=True) as conn:
        _ops(conn)
        conn.execute(
            "insert into ops.pipeline_steps (run_id, step, status) values (%s, %s, 'running') "
            "on conflict (run_id, step) do update set status = 'running', message = null, "
            "details = null, started_at = now(), finished_at = null", (run_id, name))
    t0 = time.monotonic()
    log.info("[%s] %s ...", run_id, name)
    try:
        with Heartbeat(url, run_id):
            yield details
    except Exception as exc:  # noqa: BLE001 - recorded, then re-raised with the step's name
        reason = str(exc) or type(exc).__name__
        with connect(url, autocommit=True) as conn:
            conn.execute(
                "update ops.pipeline_steps set status = 'failed', message = %s, details = %s, "
                "finished_at = now() where run_id = %s and step = %s",
                (reason, json.dumps({"traceback": traceback.format_exc(limit=8), **details}, default=str),
                 run_id, name))
            release(conn, run_id)
        log.error("[%s] %s FAILED after %.1fs: %s", run_id, name, time.monotonic() - t0, reason)
        if isinstance(exc, PipelineError):
            raise
        raise PipelineError(name, reason) from exc
    details["seconds"] = round(time.monotonic() - t0, 2)
    with connect(url, autocommit=True) as conn:
        conn.execute(
            "update ops.pipeline_steps set status = 'success', details = %s, finished_at = now() "
            "where run_id = %s and step = %s", (json.dumps(details, default=str), run_id, name))
    log.info("[%s] %s done in %.1fs", run_id, name, details["seconds"])


def days_between(start: dt.date, end: dt.date) -> list[dt.date]:
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


# -- steps ---------------------------------------------------------------------------------------

def plan_run(*, run_id: str, start: str | None = None, end: str | None = None, source: dict | None = None,
             full_rebuild: bool = False, params: Mapping[str, Any] | None = None,
             trigger_time: dt.datetime | None = None, waited: Mapping[str, str] | None = None) -> dict:
    """Decide the run's days, validate the request, check the warehouse's privileges, take the run
    lock (a second run at the same time is refused here, naming the first), mark steps of killed
    runs abandoned, and reserve a publication id.

    The days: ``start``/``end`` when given (``cchc rebuild``; both None: land nothing, a rebuild).
    A DAG run passes its ``params`` and ``trigger_time`` (:func:`cchc.readiness.trigger_time`)
    instead: the params' ``start``/``end`` when they name days (``cchc run``, a REST trigger with
    conf), else the source day a scheduled run handles, the local day that ended before its trigger
    (:func:`cchc.readiness.run_days`, the one place that rule is written); the source is then the
    params' ``source_dir``/``source_url``. ``waited``: the days the DAG's delivery sensor waited for
    (``{"start", "end"}``); a plan of other days is refused (the sensor and the plan disagree).
    """
    from cchc.publish import next_publication_id
    from cchc.runlock import RunInProgress, acquire
    from cchc.settings import LedgerSettings

    with step(run_id, "plan") as d:
        if params is not None or trigger_time is not None:
            start, end, source = _dag_run_days(params or {}, trigger_time, waited, start=start, end=end,
                                               source=source)
        source = source or {}
        days = days_between(dt.date.fromisoformat(start), dt.date.fromisoformat(end or start)) if start else []
        if days:
            SourceSettings.from_env(**_source_kwargs(source))  # validates
        problems = _privilege_problems()
        if problems:
            raise PipelineError("plan", "the warehouse is not ready for the pipeline:\n"
                                + "\n".join(f"  - {p}" for p in problems), retryable=False)
        with connect() as conn:
            try:
                abandoned = acquire(conn, run_id, stale_seconds=LedgerSettings.from_env().run_lock_stale_seconds)
            except RunInProgress as exc:
                raise PipelineError("plan", str(exc)) from None
            publication_id = next_publication_id(conn)
            conn.commit()
        d.update(days=len(days), start=start, end=end, publication_id=publication_id,
                 full_rebuild=full_rebuild, abandoned_runs=abandoned)
    return {"run_id": run_id, "days": [x.isoformat() for x in days], "publication_id": publication_id,
            "source": _source_kwargs(source), "full_rebuild": bool(full_rebuild)}


def _dag_run_days(params: Mapping[str, Any], trigger_time: dt.datetime | None, waited: Mapping[str, str] | None,
                  *, start: str | None, end: str | None, source: dict | None) -> tuple[str, str, dict]:
    """A DAG run's (start, end, source) from its params and trigger time (see :func:`plan_run`)."""
    from cchc.readiness import run_days

    if start or end:
        raise PipelineError("plan", "give the days either as start/end or as a DAG run's params and "
                            "trigger time, not both", retryable=False)
    try:
        planned = run_days(params, trigger_time)
    except ValueError as exc:
        raise PipelineError("plan", str(exc), retryable=False) from None
    if waited is not None and dict(waited) != planned.as_params():
        raise PipelineError("plan", f"the delivery sensor waited for the days {dict(waited)}, but the run's "
                            f"params and trigger time give {planned.as_params()}", retryable=False)
    source = source or {"source_dir": params.get("source_dir"), "source_url": params.get("source_url")}
    return planned.start.isoformat(), planned.end.isoformat(), source


def _privilege_problems() -> list[str]:
    """What the warehouse's roles lack (cchc.warehouse.roles.check_privileges), if it can tell."""
    try:
        from cchc.warehouse.roles import check_privileges
    except ImportError:
        return []
    return list(check_privileges(warehouse_url()))


def land(plan: dict) -> dict:
    """Land every day of the plan, in order. A refused, held or stale delivery does not stop the
    run: it is recorded in the ledger, the other days land, and the publication says what is
    missing (cchc.ledger.completeness)."""
    from cchc.land.days import land_days
    from cchc.raw import FEEDS, ensure_raw_schema
    from cchc.raw.schema import analyze_partitions

    run_id = plan["run_id"]
    with step(run_id, "extract_and_land") as d:
        if not plan["days"]:
            d.update(skipped="no days to land")
            return {"batch_ids": [], "landed": 0, "rejected": 0, "unchanged_batches": 0, "new_batches": 0,
                    "refused": [], "not_applied": []}
        settings = SourceSettings.from_env(**_source_kwargs(plan["source"]))
        source = settings.open()
        key = pseudonym_key()
        log.info("[%s] sources: %s; pseudonym key id %s", run_id, settings.describe(), key_fingerprint(key))
        systems = sorted({f.system for f in FEEDS})
        absent = [s for s in systems if not source.provides(s)]
        if "reference" in absent:
            raise PipelineError("extract_and_land", f"{settings.describe()} has no 'reference' folder: "
                                "the units and procedures lists are needed to check every record",
                                retryable=False)
        if len(absent) == len(systems) - 1:
            raise PipelineError("extract_and_land", f"{settings.describe()} delivers none of "
                                f"{', '.join(s for s in systems if s != 'reference')}", retryable=False)
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
        not_applied: list[str] = []  # held or stale: recorded, not applied
        landed_days: dict[str, set[dt.date]] = {}  # feed table -> days with a new batch
        days = [dt.date.fromisoformat(day) for day in plan["days"]]
        for i, (day, result, refused) in enumerate(land_days(warehouse_url(), settings, days, feeds=feeds,
                                                             pseudonym_key=key, run_id=run_id), 1):
            refusals += [str(r) for r in refused]
            for b in result.batches:
                if b.status == "landed":
                    landed_days.setdefault(f"{b.system}__{b.feed}", set()).add(b.day)
                    batch_ids.append(b.batch_id)
                    totals["new_batches"] += 1
                    totals["landed"] += b.rows_landed
                    totals["rejected"] += b.rows_rejected
                    if b.disposition in ("held", "stale"):
                        not_applied.append(f"batch {b.batch_id} {b.system}/{b.feed} {b.day}: {b.disposition}: "
                                           f"{b.disposition_reason}")
                elif b.status == "unchanged":
                    totals["unchanged_batches"] += 1
            elapsed = time.monotonic() - t0
            log.info("[%s] landed %s (%d/%d, %.0fs elapsed, ~%.0fs left): %s", run_id, day, i, n,
                     elapsed, elapsed / i * (n - i), result.summary())
        if landed_days:
            t_analyze = time.monotonic()
            with connect(autocommit=True) as conn:
                analyzed = [name for feed in feeds if landed_days.get(feed.table)
                            for name in analyze_partitions(conn, feed, landed_days[feed.table])]
            log.info("[%s] statistics refreshed on %d raw partition(s) in %.1fs", run_id, len(analyzed),
                     time.monotonic() - t_analyze)
        for line in refusals:
            log.error("[%s] REFUSED %s", run_id, line)
        for line in not_applied:
            log.warning("[%s] NOT APPLIED %s (see `cchc batches --review`)", run_id, line)
        d.update(totals, batch_ids=len(batch_ids), refused=refusals, not_applied=not_applied,
                 systems_absent=absent)
    return {"batch_ids": batch_ids, **totals, "refused": refusals, "not_applied": not_applied}


def gate_batches(plan: dict, landed: dict | None = None) -> dict:
    """Run the raw suites on every batch awaiting its gate (whichever run landed it) and store each
    batch's verdict: passed batches come into force, failed ones are blocked and stay blocked until
    a newer delivery or an operator's accept (``cchc batches accept``). Blocking a batch does not
    fail the run: the version in force stays, or the day is missing from the publication."""
    from cchc.ledger import pending_batches, record_gate
    from cchc.quality import RAW_BATCH_SUITES, run_gate

    run_id = plan["run_id"]
    with step(run_id, "gate_batches") as d:
        with connect() as conn:
            pending = pending_batches(conn)
        if not pending:
            d.update(skipped="no batch awaits its gate")
            return {"checks_evaluated": 0, "checks_failed": 0, "report": None, "blocked": []}
        ids = ",".join(str(int(b.batch_id)) for b in pending)
        result = run_gate(warehouse_url(), list(RAW_BATCH_SUITES), schema_map={"raw": "raw"},
                          run_id=run_id, report_dir=state_dir() / "gx",
                          batch_filter=f"batch_id in ({ids})", report_name="gate-batches", data_docs=False)
        failed = _blocked_batches(result, pending)
        with connect() as conn:
            record_gate(conn, run_id, passed=[b.batch_id for b in pending if b.batch_id not in failed],
                        failed=failed)
            conn.commit()
        blocked = [f"batch {b.batch_id} {b.system}/{b.feed} {b.source_day}: {failed[b.batch_id]}"
                   for b in pending if b.batch_id in failed]
        for line in blocked:
            log.error("[%s] BLOCKED %s", run_id, line)
        d.update(batches=len(pending), blocked=blocked, checks_evaluated=result.checks_evaluated,
                 checks_failed=result.checks_failed, report=str(result.report_path))
    return {"checks_evaluated": result.checks_evaluated, "checks_failed": result.checks_failed,
            "report": str(result.report_path), "blocked": blocked}


def _blocked_batches(result, pending) -> dict[int, str]:
    """Batch id → why it failed. A failing check that names the batches of its failing rows blocks
    those; any other failing check of a feed's suite blocks every pending batch of that feed."""
    by_feed: dict[str, list[int]] = {}
    for b in pending:
        by_feed.setdefault(f"raw_{b.system}__{b.feed}", []).append(b.batch_id)
    failed: dict[int, list[str]] = {}
    for suite, checks in result.results_by_suite.items():
        for c in checks:
            if c.success:
                continue
            named = [b for b in c.observed.get("batch_ids", []) if b in by_feed.get(suite, [])]
            for batch_id in named or by_feed.get(suite, []):
                failed.setdefault(batch_id, []).append(f"{c.qualified_name}: {c.message}")
    return {b: "; ".join(reasons)[:2000] for b, reasons in failed.items()}


def build(plan: dict, batch_gate: dict | None = None) -> dict:
    """Build as of the last day every delivered system has complete (never a day it lacks)."""
    from cchc.ledger import completeness
    from cchc.ledger.completeness import inputs_fingerprint
    from cchc.transform import build as dbt_build

    def needing_review(conn_url: str) -> list[dict]:
        from cchc.ledger import needing_review as waiting

        with connect(conn_url) as conn:
            return waiting(conn)

    run_id = plan["run_id"]
    with step(run_id, "dbt_build") as d:
        with connect() as conn:
            c = completeness(conn)
        if c.as_of_date is None:
            raise PipelineError("dbt_build", "no day of any system is in force yet: nothing to build "
                                f"({c.describe()}; see `cchc batches`)", retryable=False)
        complete_through, missing_days = c.as_json()
        notes = completeness_notes(c, plan)
        waiting = needing_review(conn_url=warehouse_url())
        if waiting:
            notes.append(f"{len(waiting)} batch(es) await an operator (held or blocked): "
                         + "; ".join(f"{b['batch_id']} {b['system']}/{b['feed']} {b['source_day']} "
                                     f"{b['disposition']}" for b in waiting[:10])
                         + (" …" if len(waiting) > 10 else "") + " — see `cchc batches --review`")
        for note in notes:
            log.warning("[%s] %s", run_id, note)
        with connect() as conn:
            claims = hashlib.sha256(json.dumps([complete_through, missing_days], sort_keys=True).encode())
            inputs = ":".join((inputs_fingerprint(conn, c.as_of_date), claims.hexdigest()[:16], code_fingerprint()))
            current = _current_publication_inputs(conn)
        built = {"as_of_date": c.as_of_date.isoformat(), "complete_through": complete_through,
                 "missing_days": missing_days, "notes": notes, "inputs": inputs}
        if current and current[1] == inputs and not plan.get("full_rebuild"):
            built["skipped"] = (f"nothing new since publication {current[0]} (same batches in force, same "
                                "completeness, same code): it stands")
            log.info("[%s] %s", run_id, built["skipped"])
            d.update(built)
            return built
        result = dbt_build(warehouse_url(), as_of_date=c.as_of_date, publication_id=plan["publication_id"],
                           run_id=run_id, full_rebuild=plan.get("full_rebuild", False))
        d.update(built, nodes=len(result.results), state=result.state.tables if result.state else None)
    return built


def code_fingerprint() -> str:
    """A hash of everything that shapes a publication besides its inputs: the dbt project
    (cchc.transform.incremental.code_fingerprint) and the expectation suites."""
    from cchc.paths import EXPECTATIONS_DIR
    from cchc.transform.incremental import code_fingerprint as dbt_fingerprint
    from cchc.transform.incremental import files_fingerprint

    suites = files_fingerprint(EXPECTATIONS_DIR, sorted(EXPECTATIONS_DIR.glob("*.yml")))
    return f"{dbt_fingerprint()}.{suites}"


def _current_publication_inputs(conn) -> tuple[int, str] | None:
    """(publication id, inputs fingerprint of the build it came from) of the current publication."""
    if conn.execute("select to_regclass('kpi.publications') is null or to_regclass('ops.pipeline_steps') is null"
                    ).fetchone()[0]:
        return None
    has_current = conn.execute("select count(*) from information_schema.columns where table_schema = 'kpi' "
                               "and table_name = 'publications' and column_name = 'is_current'").fetchone()[0]
    row = conn.execute(
        "select p.publication_id, s.details ->> 'inputs' from kpi.publications p "
        "join ops.pipeline_steps s on s.run_id = p.run_id and s.step = 'dbt_build' "
        + ("where p.is_current " if has_current else "")
        + "order by p.publication_id desc limit 1").fetchone()
    return (row[0], row[1]) if row and row[1] else None


def completeness_notes(c, plan: dict) -> list[str]:
    """What a reader of the run summary and the validation report must know first."""
    notes = []
    if any(c.missing_days.values()):
        notes.append(f"INCOMPLETE: this publication is as of {c.as_of_date}, not {c.horizon}: {c.describe()}. "
                     "Days after a missing day are landed but not counted until it is filled.")
    last = plan["days"][-1] if plan.get("days") else None
    if last and c.as_of_date and c.as_of_date.isoformat() < last and not any(c.missing_days.values()):
        notes.append(f"as of {c.as_of_date}: the run's last day {last} is not complete yet ({c.describe()})")
    return notes


def gate_marts(plan: dict, built: dict | None = None) -> dict:
    from cchc.publish import BUILD_SCHEMA, candidate_tables
    from cchc.quality import run_gate
    from cchc.quality.exclusions import exclusion_counts, excluded_records, publication_gate_suites

    run_id = plan["run_id"]
    with step(run_id, "gate_marts") as d:
        if (built or {}).get("skipped"):
            d.update(skipped=built["skipped"])
            return {"checks_evaluated": 0, "checks_failed": 0, "report": None, "skipped": built["skipped"]}
        with connect() as conn:
            tables = candidate_tables(conn)
            excluded = exclusion_counts(conn)
            named = [str(r) for r in excluded_records(conn, limit=50)]
        d.update(excluded=excluded, excluded_records=named)
        for line in named[:10]:
            log.warning("[%s] left out of the counts: %s", run_id, line)
        suites = publication_gate_suites(tables)
        result = run_gate(warehouse_url(), suites, schema_map={"kpi": BUILD_SCHEMA},
                          run_id=run_id, report_dir=state_dir() / "gx", report_name="gate-publication",
                          notes=(built or {}).get("notes"), data_docs=False)
        d.update(suites=suites, checks_evaluated=result.checks_evaluated,
                 checks_failed=result.checks_failed, report=str(result.report_path))
        if not result.success:
            write_data_docs(run_id)  # what an operator reads first about a blocked publication
            raise PipelineError("gate_marts", _failure_text(result), retryable=False)
    return {"checks_evaluated": result.checks_evaluated, "checks_failed": result.checks_failed,
            "report": str(result.report_path)}


def publish_run(plan: dict, built: dict, batch_gate: dict, mart_gate: dict) -> dict:
    """Publish the audited candidates with what they claim (as_of_date, complete_through,
    missing_days); release the run lock. The batch gate's failed checks concern blocked batches,
    which nothing published reads: a publication's checks_failed is always 0."""
    from cchc.publish import publish
    from cchc.runlock import release

    run_id = plan["run_id"]
    with step(run_id, "publish") as d:
        if built.get("skipped"):
            with connect() as conn:
                current = _current_publication_inputs(conn)
                release(conn, run_id)
                conn.commit()
            d.update(skipped=built["skipped"], publication_id=current[0] if current else None)
            if batch_gate.get("checks_evaluated"):  # the batch gate ran (GX is not imported otherwise)
                d.update(data_docs_seconds=write_data_docs(run_id))
            return {"publication_id": current[0] if current else None, "as_of_date": built["as_of_date"],
                    "rows_published": 0, "missing_days": built["missing_days"], "notes": built.get("notes", []),
                    "skipped": built["skipped"]}
        with connect() as conn:
            pub = publish(
                conn, publication_id=plan["publication_id"],
                as_of_date=dt.date.fromisoformat(built["as_of_date"]), run_id=run_id,
                checks_evaluated=batch_gate["checks_evaluated"] + mart_gate["checks_evaluated"],
                checks_failed=mart_gate["checks_failed"],
                validation_report=mart_gate["report"],
                complete_through=built["complete_through"], missing_days=built["missing_days"])
            release(conn, run_id)
            conn.commit()
        d.update(publication_id=pub.publication_id, rows=pub.rows_published, tables=list(pub.tables),
                 as_of_date=built["as_of_date"], missing_days=built["missing_days"])
        d.update(data_docs_seconds=write_data_docs(run_id))  # after the swap: consumers never wait for them
    from cchc.reports.commands import write_after_run

    bulletin = write_after_run()  # the new publication's bulletin (HTML; never fails the run)
    return {"publication_id": pub.publication_id, "as_of_date": built["as_of_date"],
            "rows_published": pub.rows_published, "missing_days": built["missing_days"],
            "notes": built.get("notes", []), "bulletin": str(bulletin) if bulletin else None}


def run_in_process(*, run_id: str, start: str | None = None, end: str | None = None,
                   source: dict | None = None, full_rebuild: bool = False) -> dict:
    """Every step in this process, in order, without Airflow (``cchc rebuild``; the nightly DAG
    runs the same functions as tasks)."""
    plan = plan_run(start=start, end=end, run_id=run_id, source=source, full_rebuild=full_rebuild)
    landed = land(plan)
    batch_gate = gate_batches(plan, landed)
    built = build(plan, batch_gate)
    mart_gate = gate_marts(plan, built)
    return publish_run(plan, built, batch_gate, mart_gate)


# -- helpers -------------------------------------------------------------------------------------

def write_data_docs(run_id: str) -> float:
    """The GX Data Docs of the run's gates, rendered once the verdicts have done their work (the
    gates defer them: a night's gates are its checks only); returns the seconds it took. Never
    fails the run: the gate reports and ops.validation_results hold every result; a failure is
    logged."""
    from cchc.quality import build_data_docs

    started = time.perf_counter()
    try:
        build_data_docs(state_dir() / "gx", [run_id])
    except Exception:  # noqa: BLE001  (the docs are a view of results kept elsewhere)
        log.exception("[%s] the GX Data Docs could not be built (the gate reports are complete)", run_id)
    return round(time.perf_counter() - started, 2)


def _failure_text(result) -> str:
    head = f"{result.checks_failed} of {result.checks_evaluated} checks failed"
    lines = "\n".join(f"  - {f}" for f in result.failures[:20])
    more = f"\n  … and {len(result.failures) - 20} more" if len(result.failures) > 20 else ""
    return f"{head} (report: {result.report_path}):\n{lines}{more}"


def _source_kwargs(source: dict) -> dict:
    """Only where to read from travels between steps; the token stays in the environment."""
    return {"source_dir": source.get("source_dir"), "source_url": source.get("source_url")}

