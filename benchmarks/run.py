"""`make bench`: the figures of issue 6 beside their targets, in bench/results.md and bench/results.json.

Every measurement runs in its own fresh database on the warehouse server (dropped afterwards) and
through the pipeline's own functions (cchc.pipeline.run_in_process: plan, extract and land, batch
gate, ledger state + dbt build, publication gate, publish; no Airflow — its start-up is a separate,
fixed cost):

* history at two sizes, synthesised in bulk inside the warehouse (benchmarks/synth.py: the same raw
  tables, batches in force in raw.load_batches), published once (the first build), then a night of
  ``--night-changes`` dossier changes delivered as export files, extract to publish, with the time of
  every step (ops.pipeline_steps) and the gates' share; then the same night again (nothing new);
* a year's backfill: the simulator's sources for 365 days, from an empty warehouse to published;
* ingest: the land step against a bare COPY and against pandas.to_sql of the same rows into the same
  table;
* readers: p95 of three queries at 1,000 units and five years of periods (synthesised into a copy
  of the published tthc_report table with its indexes);
* dbt's parse with changing ``--vars`` (before) and with the run parameters in ops.dbt_run_params
  (after); Great Expectations' start-up;
* peak RSS of this process, of its children (dbt) and of the PostgreSQL server's processes.

    python -m benchmarks.run [--sizes 100000,200000] [--history-days 180] [--night-changes 10000]
                             [--backfill-days 365] [--backfill-per-day 100] [--ingest-lines 40000]
                             [--reader-units 1000] [--reader-repetitions 300] [--grow days|rate] [--out bench]

Targets are at a province's scale (5 million dossiers of history); where the bench measures at a
smaller size, the results extrapolate linearly from its two sizes and say so.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import logging
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import psycopg

from benchmarks import measure, synth

log = logging.getLogger("benchmarks")

REPO = Path(__file__).resolve().parent.parent

#: key -> (label, target text, comparison, target value, unit). Every figure the issue sets a target for.
TARGETS: dict[str, tuple[str, str, str, float, str]] = {
    "nightly_at_5m_seconds": ("nightly run (one day of changes) on 5 million dossiers of history",
                              "≤ 60 s", "<=", 60.0, "s"),
    "nightly_10m_over_5m": ("nightly on twice the history ÷ nightly on the history", "≤ 1.2", "<=", 1.2, "x"),
    "nightly_size_a_seconds": ("nightly run, measured at size A", "≤ 60 s (target at 5M dossiers)", "<=", 60.0, "s"),
    "nightly_size_b_seconds": ("nightly run, measured at size B", "≤ 60 s (target at 5M dossiers)", "<=", 60.0, "s"),
    "nightly_b_over_a": ("nightly at size B ÷ nightly at size A (B = 2 × A)", "≤ 1.2", "<=", 1.2, "x"),
    "gate_share_size_a": ("share of the nightly spent in the two gates, size A", "≤ 15 %", "<=", 0.15, "share"),
    "gate_share_size_b": ("share of the nightly spent in the two gates, size B", "≤ 15 %", "<=", 0.15, "share"),
    "nothing_new_size_a_seconds": ("nightly with nothing new, size A", "≤ 15 s", "<=", 15.0, "s"),
    "nothing_new_size_b_seconds": ("nightly with nothing new, size B", "≤ 15 s", "<=", 15.0, "s"),
    "backfill_year_1_5m_seconds": ("year backfill of 1.5 million dossiers, empty to published",
                                   "≤ 20 min", "<=", 1200.0, "s"),
    "landing_over_copy": ("landing throughput ÷ bare COPY of the same rows", "≥ 0.7", ">=", 0.7, "x"),
    "landing_over_pandas": ("landing throughput ÷ pandas.to_sql of the same rows", "> 1", ">", 1.0, "x"),
    "reader_p95_unit_month_ms": ("reader p95: one unit and month (kpi.tthc_report)", "≤ 10 ms", "<=", 10.0, "ms"),
    "reader_p95_month_ranking_ms": ("reader p95: a month's ranking of units", "≤ 10 ms", "<=", 10.0, "ms"),
    "reader_p95_unit_year_trend_ms": ("reader p95: a unit's year trend", "≤ 10 ms", "<=", 10.0, "ms"),
    "peak_rss_bench_process_mib": ("peak RSS of the bench process (pipeline steps in process)",
                                   "≤ 2 GiB", "<=", 2048.0, "MiB"),
    "peak_rss_children_mib": ("peak RSS of the largest child process (dbt)", "≤ 2 GiB", "<=", 2048.0, "MiB"),
    "peak_rss_postgres_process_mib": ("peak RSS of any PostgreSQL server process (sampled)",
                                      "≤ 2 GiB", "<=", 2048.0, "MiB"),
}


# -- databases -----------------------------------------------------------------------------------

@contextlib.contextmanager
def fresh_database(label: str):
    """A new database owned by the pipeline role, CCHC_WAREHOUSE_URL pointing at it; dropped after."""
    from cchc.transform.dbt_runner import dbt_work_dir
    from cchc.warehouse import admin_url, create_database, drop_database, url_parts, warehouse_url, with_database

    previous = os.environ.get("CCHC_WAREHOUSE_URL")
    server = warehouse_url()
    admin = (os.environ.get("CCHC_BENCH_ADMIN_URL") or os.environ.get("CCHC_TEST_ADMIN_URL") or server) \
        if previous else admin_url()
    name = f"cchc_bench_{label}_{uuid.uuid4().hex[:6]}"
    create_database(admin, name, owner=url_parts(server)["user"])
    url = with_database(server, name)
    os.environ["CCHC_WAREHOUSE_URL"] = url
    try:
        yield url
    finally:
        if previous is None:
            os.environ.pop("CCHC_WAREHOUSE_URL", None)
        else:
            os.environ["CCHC_WAREHOUSE_URL"] = previous
        drop_database(admin, name)
        shutil.rmtree(dbt_work_dir(url), ignore_errors=True)


def step_seconds(url: str, run_id: str) -> dict[str, float]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("select step, (details ->> 'seconds')::float from ops.pipeline_steps where run_id = %s "
                            "order by started_at", (run_id,)).fetchall()
    return {step: round(seconds or 0.0, 2) for step, seconds in rows}


def timed_run(url: str, run_id: str, **kw) -> dict:
    """run_in_process with wall time, the step split and the gates' inner timings."""
    from cchc import pipeline

    with measure.GateTimings() as gates:
        t0 = time.perf_counter()
        out = pipeline.run_in_process(run_id=run_id, **kw)
        wall = round(time.perf_counter() - t0, 2)
    steps = step_seconds(url, run_id)
    gate = steps.get("gate_batches", 0.0) + steps.get("gate_marts", 0.0)
    return {"run_id": run_id, "seconds": wall, "steps": steps, "gate_seconds": round(gate, 2),
            "gate_share": round(gate / wall, 3) if wall else None, "gate_calls": gates.calls,
            "publication_id": out.get("publication_id"), "as_of_date": out.get("as_of_date"),
            "rows_published": out.get("rows_published"), "skipped": out.get("skipped")}


def materializations(url: str) -> dict[str, list[str]]:
    """Models of the project by materialization (the dbt manifest of the database's last run)."""
    from cchc.transform.dbt_runner import dbt_work_dir

    path = dbt_work_dir(url) / "target" / "manifest.json"
    if not path.exists():
        return {}
    out: dict[str, list[str]] = {}
    for node in json.loads(path.read_text()).get("nodes", {}).values():
        if node.get("resource_type") == "model":
            out.setdefault(node["config"]["materialized"], []).append(node["name"])
    return {k: sorted(v) for k, v in sorted(out.items())}


def dbt_log_text(url: str) -> str:
    from cchc.transform.dbt_runner import dbt_work_dir

    path = dbt_work_dir(url) / "logs" / "dbt.log"
    return path.read_text(errors="replace") if path.exists() else ""


FULL_PARSE_MARKERS = ("Unable to do partial parsing", "Partial parse save file not found", "Starting full parse")


def full_parse_reasons(log_text: str) -> list[str]:
    """dbt's log lines that say it parsed the whole project (and why)."""
    return sorted({line.split("]", 1)[-1].strip()[:300] for line in log_text.splitlines()
                   if any(m in line for m in FULL_PARSE_MARKERS)})


# -- history and nightly -------------------------------------------------------------------------

def bench_history(label: str, dossiers: int, history_days: int, night_changes: int, night: dt.date,
                  sources_root: Path, readers: dict | None = None, parse: bool = True) -> dict:
    """One size: synthesise, publish the history, one night, the same night again; with ``readers``
    ({units, years, repetitions}) also the dbt parse and reader benches on this database."""
    working_share = 5 / 7 + (2 / 7) / 20
    per_day = max(1, round(dossiers / (history_days * working_share)))
    first_day = night - dt.timedelta(days=history_days)
    res: dict = {"label": label, "target_dossiers": dossiers, "history_days": history_days,
                 "dossiers_per_working_day": per_day}
    log.info("size %s: %d dossiers over %d days (%d per working day), night %s with %d changes",
             label, dossiers, history_days, per_day, night, night_changes)
    with fresh_database(label) as url:
        t0 = time.perf_counter()
        res["history"] = synth.synthesise_history(url, first_day, history_days, per_day)
        res["synthesis_seconds"] = round(time.perf_counter() - t0, 2)
        log.info("  synthesised %s in %.1fs", res["history"], res["synthesis_seconds"])
        res["first_build"] = timed_run(url, f"bench-{label}-history")  # no days to land: build + publish
        log.info("  first build and publication of the history: %.1fs %s", res["first_build"]["seconds"],
                 res["first_build"]["steps"])
        root = sources_root / f"night-{label}"
        t0 = time.perf_counter()
        res["night_delivery"] = synth.write_night(url, root, night, night_changes)
        res["night_delivery"]["write_seconds"] = round(time.perf_counter() - t0, 2)
        log_before = len(dbt_log_text(url))
        res["nightly"] = timed_run(url, f"bench-{label}-night", start=night.isoformat(), end=night.isoformat(),
                                   source={"source_dir": str(root)})
        reasons = full_parse_reasons(dbt_log_text(url)[log_before:])
        res["nightly"]["dbt_full_parse"] = bool(reasons)
        res["nightly"]["dbt_full_parse_reasons"] = reasons
        with psycopg.connect(url) as conn:
            res["nightly"]["rows_landed"] = conn.execute(
                "select coalesce(sum(rows_landed), 0) from raw.load_batches where run_id = %s",
                (res["nightly"]["run_id"],)).fetchone()[0]
            res["nightly"]["state_merge"] = conn.execute(
                "select json_object_agg(table_name, json_build_object('mode', mode, 'keys', keys_changed, "
                "'rows', rows_now, 'seconds', seconds)) from (select distinct on (table_name) * from state.merges "
                "order by table_name, merged_at desc) m").fetchone()[0]
            res["dossiers_in_state"] = conn.execute("select count(*) from state.onestop__dossiers").fetchone()[0]
            res["nightly"]["slowest_nodes"] = [
                {"node": r[0], "seconds": round(r[1] or 0, 2), "rows": r[2]} for r in conn.execute(
                    "select unique_id, execution_time, rows_affected from ops.dbt_run_results where run_id = %s "
                    "order by execution_time desc nulls last limit 8", (res["nightly"]["run_id"],))]
        res["materializations"] = materializations(url)
        log.info("  nightly: %.1fs %s (gates %.0f%%)", res["nightly"]["seconds"], res["nightly"]["steps"],
                 100 * (res["nightly"]["gate_share"] or 0))
        res["nothing_new"] = timed_run(url, f"bench-{label}-again", start=night.isoformat(), end=night.isoformat(),
                                       source={"source_dir": str(root)})
        log.info("  nothing new: %.1fs %s", res["nothing_new"]["seconds"], res["nothing_new"]["steps"])
        if readers is not None:
            if parse:
                res["parse"] = bench_parse(url)
            res["readers"] = bench_readers(url, readers["units"], readers["years"], readers["repetitions"])
    return res


# -- dbt parse -----------------------------------------------------------------------------------

def bench_parse(url: str) -> dict:
    """`dbt parse` when --vars change every night (the run parameters as vars: before) and when they
    stay the same (the parameters in ops.dbt_run_params: after)."""
    from cchc.paths import DBT_PROJECT_DIR
    from cchc.transform.dbt_runner import dbt_env, dbt_executable, dbt_work_dir

    work = dbt_work_dir(url)

    def parse(vars: dict) -> tuple[float, bool]:
        cmd = [str(dbt_executable()), "parse", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir",
               str(DBT_PROJECT_DIR), "--target-path", str(work / "target"), "--log-path", str(work / "logs"),
               "--vars", json.dumps(vars, sort_keys=True)]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=dbt_env(url), cwd=DBT_PROJECT_DIR, capture_output=True, text=True)
        seconds = round(time.perf_counter() - t0, 2)
        if proc.returncode:
            raise RuntimeError(f"dbt parse failed: {proc.stdout[-2000:]}{proc.stderr[-2000:]}")
        return seconds, any(m in proc.stdout + proc.stderr for m in FULL_PARSE_MARKERS)

    constant = {"cchc_run_params": str(work)}
    parse({"as_of_date": "2024-01-01", "publication_id": 1, "run_id": "a"})
    before, before_full = parse({"as_of_date": "2024-01-02", "publication_id": 2, "run_id": "b"})
    parse(constant)
    after, after_full = parse(constant)
    return {"vars_change_seconds": before, "vars_change_full_parse": before_full,
            "params_table_seconds": after, "params_table_full_parse": after_full,
            "saved_seconds": round(before - after, 2)}


# -- readers -------------------------------------------------------------------------------------

READER_COLUMNS = ("received_total", "received_online", "received_direct_postal", "carried_over", "resolved_total",
                  "resolved_early", "resolved_on_time", "resolved_late", "resolved_withdrawn_or_stopped",
                  "pending_total", "pending_on_time", "pending_overdue")


def bench_readers(url: str, units: int, years: int, repetitions: int) -> dict:
    """A copy of the current publication's tthc_report table (same columns and indexes) filled with
    ``units`` units × ``years`` years of day, month, quarter, half-year and year periods ('*' rows
    for days; '*' and four fields for the longer periods), read through a view as kpi's views read
    the publication schema."""
    first = dt.date(2020, 1, 1)
    last = dt.date(first.year + years - 1, 12, 31)
    with psycopg.connect(url, autocommit=True) as conn:
        schema = conn.execute("select 'kpi_pub_' || publication_id from kpi.publications "
                              "where is_current").fetchone()[0]
        columns = [r[0] for r in conn.execute(
            "select column_name from information_schema.columns where table_schema = %s and table_name = 'tthc_report' "
            "order by ordinal_position", (schema,))]
        conn.execute("drop schema if exists bench_readers cascade; create schema bench_readers")
        conn.execute(f"create table bench_readers.tthc_report (like {schema}.tthc_report including all)")
        indexes = [r[0] for r in conn.execute("select indexdef from pg_indexes where schemaname = 'bench_readers'")]
        value = {c: "((u * 7 + extract(doy from s)::int * 3 + length(f)) % 50)::bigint" for c in READER_COLUMNS}
        value["on_time_rate"] = "(((u * 13 + extract(doy from s)::int) % 101) / 100.0)::numeric"
        value.update(period_type="pt", period_start="s", period_end="e", unit_id="'U' || lpad(u::text, 4, '0')",
                     unit_name="'Đơn vị ' || u", field_code="f", publication_id="0")
        select = ", ".join(value.get(c, "null") for c in columns)
        t0 = time.perf_counter()
        conn.execute(f"""
            insert into bench_readers.tthc_report ({', '.join(columns)})
            with periods(pt, s, e) as (
                select 'day', d::date, d::date from generate_series(date '{first}', date '{last}', interval '1 day') d
                union all select 'month', d::date, (d + interval '1 month - 1 day')::date
                          from generate_series(date '{first}', date '{last}', interval '1 month') d
                union all select 'quarter', d::date, (d + interval '3 months - 1 day')::date
                          from generate_series(date '{first}', date '{last}', interval '3 months') d
                union all select 'half_year', d::date, (d + interval '6 months - 1 day')::date
                          from generate_series(date '{first}', date '{last}', interval '6 months') d
                union all select 'year', d::date, (d + interval '1 year - 1 day')::date
                          from generate_series(date '{first}', date '{last}', interval '1 year') d
            ),
            fields(f, every_period) as (values ('*', true), ('DD', false), ('HT', false), ('CT', false), ('LD', false))
            select {select}
            from generate_series(1, {units}) u cross join periods p cross join fields
            where fields.every_period or p.pt <> 'day'""")
        conn.execute("analyze bench_readers.tthc_report")
        rows = conn.execute("select count(*) from bench_readers.tthc_report").fetchone()[0]
        fill_seconds = round(time.perf_counter() - t0, 1)
        conn.execute(f"create view bench_readers.tthc_report_view as select {', '.join(columns)} "
                     "from bench_readers.tthc_report")
        months = [dt.date(y, m, 1) for y in range(first.year, last.year + 1) for m in range(1, 13)]
        unit_ids = [f"U{u:04d}" for u in range(1, units + 1)]
        v = "bench_readers.tthc_report_view"
        queries = {
            "unit_month": (f"select * from {v} where period_type = 'month' and period_start = %s and unit_id = %s",
                           lambda r: (r.choice(months), r.choice(unit_ids))),
            "month_ranking": (f"select unit_id, unit_name, on_time_rate, rank() over (order by on_time_rate desc "
                              f"nulls last) from {v} where period_type = 'month' and period_start = %s "
                              "and field_code = '*' order by 4, unit_id", lambda r: (r.choice(months),)),
            "unit_year_trend": (f"select period_start, received_total, resolved_total, on_time_rate from {v} "
                                "where unit_id = %s and period_type = 'month' and field_code = '*' "
                                "and period_start >= %s and period_start < %s order by period_start",
                                lambda r: (r.choice(unit_ids), *_year(r.choice(range(first.year, last.year + 1))))),
        }
        out = {"units": units, "years": years, "rows": rows, "fill_seconds": fill_seconds, "indexes": indexes,
               "source": "synthesised into a copy of the published tthc_report table (not built by dbt)"}
        for name, (sql, params) in queries.items():
            out[name] = measure.latencies(conn, sql, params, repetitions)
            out[name]["plan"] = _plan(conn, sql, params)
        # what the unit-first index buys the trend query
        unit_first = [i for i in indexes if "(unit_id, period_type, period_start)" in i]
        if unit_first:
            name = unit_first[0].split(" INDEX ", 1)[1].split(" ON ", 1)[0]
            conn.execute(f"drop index bench_readers.{name}")
            sql, params = queries["unit_year_trend"]
            out["unit_year_trend_without_unit_first_index"] = measure.latencies(conn, sql, params, repetitions)
        conn.execute("drop schema bench_readers cascade")
    return out


def _year(y: int) -> tuple[dt.date, dt.date]:
    return dt.date(y, 1, 1), dt.date(y + 1, 1, 1)


def _plan(conn, sql: str, params) -> str:
    import random

    rows = conn.execute("explain " + sql, params(random.Random(0))).fetchall()
    return " / ".join(r[0].strip() for r in rows[:3])


# -- backfill ------------------------------------------------------------------------------------

def bench_backfill(days: int, per_day: int, sources_root: Path) -> dict:
    from cchc_demo.simulator import SimulatorConfig, generate

    start = dt.date(2024, 1, 1)
    end = start + dt.timedelta(days=days - 1)
    root = sources_root / f"backfill-{days}d-{per_day}"
    res: dict = {"days": days, "dossiers_per_day": per_day, "start": start.isoformat(), "end": end.isoformat()}
    cfg = SimulatorConfig(start=start, end=end, seed=1, dossiers_per_day=per_day,
                          documents_per_day=max(1, round(per_day * 0.4)), bad_rate=0.0)
    t0 = time.perf_counter()
    shutil.rmtree(root, ignore_errors=True)
    generate(root, cfg)
    res["simulate_seconds"] = round(time.perf_counter() - t0, 1)
    log.info("backfill: simulated %d days at %d dossiers/day in %.1fs", days, per_day, res["simulate_seconds"])
    with fresh_database("backfill") as url:
        res["run"] = timed_run(url, "bench-backfill", start=start.isoformat(), end=end.isoformat(),
                               source={"source_dir": str(root)})
        with psycopg.connect(url) as conn:
            res["dossiers"], res["documents"] = conn.execute(
                "select (select count(*) from state.onestop__dossiers), (select count(*) from state.edoc__documents)"
            ).fetchone()
            res["rows_landed"] = conn.execute(
                "select coalesce(sum(rows_landed), 0) from raw.load_batches").fetchone()[0]
    log.info("backfill: %.1fs for %d dossiers %s", res["run"]["seconds"], res["dossiers"], res["run"]["steps"])
    return res


# -- ingest --------------------------------------------------------------------------------------

def bench_ingest(lines: int, sources_root: Path) -> dict:
    """Land one day of ``lines`` dossier changes (and their steps) through land_day; then a bare COPY
    and pandas.to_sql of the very rows it landed into the same table."""
    import pandas as pd
    import sqlalchemy
    from sqlalchemy.dialects.postgresql import JSONB

    from cchc.land import land_day
    from cchc.settings import SourceSettings, pseudonym_key
    from cchc.warehouse.connection import sqlalchemy_url

    day = dt.date(2024, 7, 3)
    root = sources_root / f"ingest-{lines}"
    shutil.rmtree(root, ignore_errors=True)
    res: dict = {"day": day.isoformat()}
    with fresh_database("ingest") as url:
        with psycopg.connect(url) as conn:
            from cchc.raw import ensure_raw_schema

            ensure_raw_schema(conn)
            synth.create_world(conn, day)
            conn.commit()
        res["delivery"] = synth.write_night(url, root, day, lines)
        source = SourceSettings.from_env(source_dir=str(root)).open()
        t0 = time.perf_counter()
        result = land_day(url, source, day, feeds=["units", "procedures", "dossiers", "steps"],
                          pseudonym_key=pseudonym_key(), run_id="bench-ingest")
        res["land_day_seconds"] = round(time.perf_counter() - t0, 2)
        feeds = {}
        for b in result.batches:
            feeds[b.feed] = {"rows": b.rows_landed, "seconds": round(b.seconds, 3), "batch_id": b.batch_id}
        res["land_batches"] = feeds
        d = feeds["dossiers"]
        with psycopg.connect(url) as conn:
            rows = conn.execute("select source_day, line_no, record_key, updated_at_src, payload::text "
                                "from raw.onestop__dossiers where batch_id = %s order by line_no", (d["batch_id"],)
                                ).fetchall()

            def scratch_batch(label: str) -> int:
                return conn.execute(
                    "insert into raw.load_batches (system, feed, source_day, delivery, source_uri, status, run_id, "
                    "disposition, disposition_reason) values ('onestop', 'dossiers', %s, 'file', %s, 'landed', "
                    "'bench-ingest', 'rejected', 'bench: comparison of loaders') returning batch_id",
                    (day, f"bench:{label}")).fetchone()[0]

            copy_batch = scratch_batch("copy")
            conn.commit()
            t0 = time.perf_counter()
            with conn.cursor() as cur, cur.copy("copy raw.onestop__dossiers (batch_id, source_day, line_no, "
                                                "record_key, updated_at_src, payload) from stdin") as cp:
                for r in rows:
                    cp.write_row((copy_batch, *r))
            conn.commit()
            copy_seconds = time.perf_counter() - t0
            pandas_batch = scratch_batch("pandas")
            conn.commit()
        frame = pd.DataFrame([(pandas_batch, r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows],
                             columns=["batch_id", "source_day", "line_no", "record_key", "updated_at_src", "payload"])
        engine = sqlalchemy.create_engine(sqlalchemy_url(url))
        t0 = time.perf_counter()
        frame.to_sql("onestop__dossiers", engine, schema="raw", if_exists="append", index=False,
                     dtype={"payload": JSONB})
        pandas_seconds = time.perf_counter() - t0
        engine.dispose()
        with psycopg.connect(url) as conn:
            counts = conn.execute("select batch_id, count(*) from raw.onestop__dossiers where batch_id in (%s, %s) "
                                  "group by 1", (copy_batch, pandas_batch)).fetchall()
        n = d["rows"]
        land_rate = n / d["seconds"]
        copy_rate = n / copy_seconds
        pandas_rate = n / pandas_seconds
        res.update(rows=n, copied=dict(counts), land_seconds=d["seconds"], copy_seconds=round(copy_seconds, 3),
                   pandas_seconds=round(pandas_seconds, 3), land_rows_per_s=round(land_rate),
                   copy_rows_per_s=round(copy_rate), pandas_rows_per_s=round(pandas_rate),
                   land_over_copy=round(land_rate / copy_rate, 3), land_over_pandas=round(land_rate / pandas_rate, 3))
    log.info("ingest: land %.0f rows/s, COPY %.0f rows/s, pandas.to_sql %.0f rows/s", land_rate, copy_rate,
             pandas_rate)
    return res


# -- results -------------------------------------------------------------------------------------

def figure(key: str, value: float | None, note: str = "", measured_at: str = "") -> dict:
    label, target, cmp, goal, unit = TARGETS[key]
    met = None
    by = None
    if value is not None:
        met = {"<=": value <= goal, ">=": value >= goal, ">": value > goal}[cmp]
        if not met:
            gap = abs(value - goal)
            gap_text = f"{gap:,.0f}" if gap >= 100 else f"{gap:.3g}"
            by = f"{gap_text} {unit} {'over' if cmp == '<=' else 'short'} ({value / goal:.2f}× the target)"
    return {"key": key, "label": label, "value": value, "unit": unit, "target": target, "target_value": goal,
            "comparison": cmp, "met": met, "missed_by": by, "measured_at": measured_at, "note": note}


def land_fit(sparse: dict, dense: dict) -> dict:
    """Landing + batch gate seconds = days x per_day + rows x per_row, through two backfills.

    A negative coefficient (noise larger than one of the costs) is set to zero and the other
    refitted through the point with more of it, and the fit says so."""
    def cost(bf: dict) -> float:
        steps = bf["run"]["steps"]
        return steps.get("extract_and_land", 0.0) + steps.get("gate_batches", 0.0)

    (d1, r1, t1), (d2, r2, t2) = ((b["days"], b["rows_landed"], cost(b)) for b in (sparse, dense))
    det = d1 * r2 - d2 * r1
    per_day = (t1 * r2 - t2 * r1) / det if det else 0.0
    per_row = (d1 * t2 - d2 * t1) / det if det else t2 / r2
    method = "exact through both backfills"
    if per_day < 0:
        per_day, per_row, method = 0.0, t2 / r2, "per-day cost fitted negative: all of the dense backfill per row"
    elif per_row < 0:
        per_day, per_row, method = t1 / d1, 0.0, "per-row cost fitted negative: all of the year backfill per day"
    return {"per_day_s": round(per_day, 4), "per_row_us": round(per_row * 1e6, 2), "method": method,
            "points": [{"days": d, "rows": r, "seconds": round(t, 2)} for d, r, t in ((d1, r1, t1), (d2, r2, t2))]}


def derive(results: dict) -> list[dict]:
    a, b = results["sizes"]
    na, nb = a["dossiers_in_state"], b["dossiers_in_state"]
    ta, tb = a["nightly"]["seconds"], b["nightly"]["seconds"]
    slope = (tb - ta) / (nb - na) * 1000 if nb != na else 0.0  # s per 1,000 dossiers of history
    if slope > 0:
        at_5m = ta + slope * (5_000_000 - na) / 1000
        at_10m = ta + slope * (10_000_000 - na) / 1000
    else:  # the larger history ran faster: noise swamps growth, a line through them says nothing
        at_5m = at_10m = None
    results["extrapolation"] = {"nightly_seconds_per_1000_dossiers": round(slope, 4),
                                "nightly_at_5m_seconds": None if at_5m is None else round(at_5m, 1),
                                "nightly_at_10m_seconds": None if at_10m is None else round(at_10m, 1),
                                "method": "linear through the two measured sizes (none when the slope is not "
                                          "positive: the sizes are too small or too close for one)"}
    # The year backfill at 1.5 million dossiers, by step. Landing and the batch gate cost per day
    # (manifests, batches, partitions, the gate's queries) and per row landed: the two measured
    # backfills (many days of few rows, few days of many rows) give both, and a province-year is
    # 365 days of 1.5 million dossiers' rows (rows per dossier as in the year backfill). The first
    # full dbt build grows with the history (the line through the two sizes' first builds); the
    # publication gate and publish are taken as measured (they follow units x periods).
    bf, dense = results["backfill"], results["backfill_dense"]
    fit = land_fit(bf, dense)
    rows_per_dossier = bf["rows_landed"] / bf["dossiers"]
    rows_1_5m = rows_per_dossier * 1_500_000
    land_1_5m = fit["per_day_s"] * bf["days"] + fit["per_row_us"] * rows_1_5m / 1e6
    steps = bf["run"]["steps"]
    per_1000 = bf["run"]["seconds"] / bf["dossiers"] * 1000
    fa, fb = a["first_build"]["steps"]["dbt_build"], b["first_build"]["steps"]["dbt_build"]
    build_slope = (fb - fa) / (nb - na) * 1000 if nb != na else 0.0
    build_1_5m = fb + max(build_slope, 0.0) * (1_500_000 - nb) / 1000
    fixed = sum(steps.get(k, 0.0) for k in ("plan", "gate_marts", "publish"))
    bf_1_5m = land_1_5m + build_1_5m + fixed
    results["extrapolation"].update(
        backfill_seconds_per_1000_dossiers=round(per_1000, 3),
        backfill_land_fit=fit,
        backfill_rows_per_dossier=round(rows_per_dossier, 2),
        backfill_land_and_gate_seconds_at_1_5m=round(land_1_5m, 1),
        backfill_first_build_seconds_at_1_5m=round(build_1_5m, 1),
        backfill_linear_whole_run_seconds=round(per_1000 * 1500, 1),
        backfill_method="landing + batch gate = days x per-day cost + rows x per-row cost (fitted through the "
                        "two measured backfills) over 365 days and 1.5M dossiers' rows, + first dbt build "
                        "extrapolated through the two sizes' first builds + publication gate and publish as "
                        "measured")
    ing, rd = results["ingest"], results["readers"]
    size = f"{na:,} / {nb:,} dossiers"
    ext = f"extrapolated linearly from {size} ({slope:.3f} s per 1,000 dossiers of history)"
    nightly_note = f"{results['parameters']['night_changes']:,} dossier changes"
    return [
        figure("nightly_at_5m_seconds", None if at_5m is None else round(at_5m, 1), ext, "extrapolated"),
        figure("nightly_10m_over_5m", round(at_10m / at_5m, 3) if at_5m and at_5m > 0 else None, ext,
               "extrapolated"),
        figure("nightly_size_a_seconds", ta, nightly_note, f"{na:,} dossiers"),
        figure("nightly_size_b_seconds", tb, nightly_note, f"{nb:,} dossiers"),
        figure("nightly_b_over_a", round(tb / ta, 3), "history B is twice A", size),
        figure("gate_share_size_a", a["nightly"]["gate_share"], "batch gate + publication gate", f"{na:,} dossiers"),
        figure("gate_share_size_b", b["nightly"]["gate_share"], "batch gate + publication gate", f"{nb:,} dossiers"),
        figure("nothing_new_size_a_seconds", a["nothing_new"]["seconds"], "same delivery again", f"{na:,} dossiers"),
        figure("nothing_new_size_b_seconds", b["nothing_new"]["seconds"], "same delivery again", f"{nb:,} dossiers"),
        figure("backfill_year_1_5m_seconds", round(bf_1_5m, 1),
               f"measured {bf['run']['seconds']:.0f} s for {bf['dossiers']:,} dossiers ({bf['days']} days) and "
               f"{dense['run']['seconds']:.0f} s for {dense['dossiers']:,} ({dense['days']} days); landing + batch "
               f"gate {fit['per_day_s']:.3f} s a day + {fit['per_row_us']:.1f} µs a row = {land_1_5m:.0f} s for "
               f"{rows_1_5m / 1e6:.1f}M rows over {bf['days']} days, first dbt build at 1.5M {build_1_5m:.0f} s "
               f"(through the first builds at {na:,} / {nb:,}), publication gate and publish {fixed:.0f} s",
               "extrapolated"),
        figure("landing_over_copy", ing["land_over_copy"],
               f"{ing['rows']:,} dossier rows: land {ing['land_rows_per_s']:,}/s, COPY {ing['copy_rows_per_s']:,}/s",
               f"{ing['rows']:,} rows"),
        figure("landing_over_pandas", ing["land_over_pandas"],
               f"pandas.to_sql {ing['pandas_rows_per_s']:,}/s", f"{ing['rows']:,} rows"),
        figure("reader_p95_unit_month_ms", rd["unit_month"]["p95_ms"], f"{rd['rows']:,} rows",
               f"{rd['units']:,} units"),
        figure("reader_p95_month_ranking_ms", rd["month_ranking"]["p95_ms"], "", f"{rd['units']:,} units"),
        figure("reader_p95_unit_year_trend_ms", rd["unit_year_trend"]["p95_ms"],
               "without the unit-first index: "
               f"{rd.get('unit_year_trend_without_unit_first_index', {}).get('p95_ms', 'n/a')} ms",
               f"{rd['units']:,} units"),
        figure("peak_rss_bench_process_mib", results["memory"]["bench_process_mib"], "", "whole bench"),
        figure("peak_rss_children_mib", results["memory"]["children_peak_mib"],
               results["memory"]["children_peak_command"], "whole bench"),
        figure("peak_rss_postgres_process_mib",
               results["memory"]["server_peak_process_mib"] if results["memory"]["server_sampled"] else None,
               "RSS includes the shared buffers a backend touched", "whole bench"
               if results["memory"]["server_sampled"] else "not sampled (the server is not on this machine)"),
    ]


def write_results(results: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str, ensure_ascii=False) + "\n")
    (out / "results.md").write_text(markdown(results))


def _fmt(value, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "share":
        return f"{value * 100:.0f} %"
    if unit == "s" and value >= 120:
        return f"{value:,.0f} s ({value / 60:.1f} min)"
    if unit == "x":
        return f"{value:.2f}×"
    return f"{value:,.0f} {unit}" if abs(value) >= 100 else f"{value:.3g} {unit}"


def readme_table(results: dict) -> str:
    lines = ["| figure | measured at | value | target | met |", "|---|---|---|---|---|"]
    for f in results["figures"]:
        met = "n/a" if f["met"] is None else ("yes" if f["met"] else f"**no** ({f['missed_by']})")
        lines.append(f"| {f['label']} | {f['measured_at']} | {_fmt(f['value'], f['unit'])} | {f['target']} | {met} |")
    return "\n".join(lines)


def markdown(results: dict) -> str:
    m, v, p = results["machine"], results["versions"], results["parameters"]
    out = [f"# Benchmark results ({results['date']})", "",
           f"Machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['ram_gib']} GiB RAM, {m['os']}; load average at "
           f"start {m['load_average_at_start']} (the machine is shared).",
           f"Versions: Python {v['python']}, PostgreSQL {v['postgresql']}, dbt-core {v['dbt_core']} "
           f"(dbt-postgres {v['dbt_postgres']}), Great Expectations {v['great_expectations']}, "
           f"Airflow {v['airflow']} (not started by the bench), psycopg {v['psycopg']}, pandas {v['pandas']}.",
           f"Code: commit {results['code']['commit']} ({results['code']['source']}"
           + (", with uncommitted changes" if results["code"]["uncommitted_changes"] else "") + ").",
           f"Parameters: {json.dumps(p)}. Bench wall time {results['bench_seconds']:.0f} s.", "",
           "## Figures and targets", "", readme_table(results), ""]
    out += ["## Nightly runs (seconds per step, ops.pipeline_steps)", "",
            "| run | history dossiers | total | " + " | ".join(STEP_ORDER) + " | gates' share |",
            "|---|---|---|" + "---|" * len(STEP_ORDER) + "---|"]
    for s in results["sizes"]:
        for name in ("first_build", "nightly", "nothing_new"):
            r = s[name]
            out.append(f"| {s['label']} {name} | {s['dossiers_in_state']:,} | {r['seconds']:.1f} | "
                       + " | ".join(f"{r['steps'].get(k, 0):.1f}" for k in STEP_ORDER)
                       + f" | {100 * (r['gate_share'] or 0):.0f} % |")
    for key in ("backfill", "backfill_dense"):
        b, bf = results[key], results[key]["run"]
        out.append(f"| backfill {b['days']} days × {b['dossiers_per_day']:,}/day | {b['dossiers']:,} | "
                   f"{bf['seconds']:.1f} | " + " | ".join(f"{bf['steps'].get(k, 0):.1f}" for k in STEP_ORDER)
                   + f" | {100 * (bf['gate_share'] or 0):.0f} % |")
    out += ["", "Gate internals (cchc.quality.run_gate timings, seconds):", ""]
    for s in results["sizes"]:
        for call in s["nightly"]["gate_calls"]:
            out.append(f"- {s['label']} nightly, {call['report']}: {call['seconds']} s for {call['checks']} checks "
                       f"({', '.join(f'{k} {v}' for k, v in call['timings'].items())})")
    out.append("- a fresh interpreter importing GX and creating an ephemeral context: "
               f"{results['gx_startup_seconds']} s")
    parse = results["sizes"][0].get("parse", {})
    if parse:
        out += ["", "## dbt parse", "",
                "- `dbt parse` when `--vars` change (run parameters as vars, before): "
                f"{parse['vars_change_seconds']} s (full parse: {parse['vars_change_full_parse']})",
                "- `dbt parse` with the run parameters in ops.dbt_run_params (after): "
                f"{parse['params_table_seconds']} s (full parse: {parse['params_table_full_parse']})",
                "- nightly dbt builds re-parsed the whole project: "
                + ", ".join(f"{s['label']} {s['nightly']['dbt_full_parse']}"
                            + (f" ({'; '.join(s['nightly']['dbt_full_parse_reasons'])})"
                               if s['nightly']['dbt_full_parse'] else "") for s in results["sizes"])]
    rd = results["readers"]
    out += ["", "## Readers", "", f"{rd['source']}: {rd['rows']:,} rows ({rd['units']:,} units × {rd['years']} years). "
            f"Indexes: {'; '.join(rd['indexes'])}.", ""]
    for q in ("unit_month", "month_ranking", "unit_year_trend", "unit_year_trend_without_unit_first_index"):
        if q in rd:
            out.append(f"- {q}: p50 {rd[q]['p50_ms']} ms, p95 {rd[q]['p95_ms']} ms, max {rd[q]['max_ms']} ms "
                       f"({rd[q]['repetitions']} runs, {rd[q]['mean_rows']} rows)"
                       + (f"; plan: {rd[q]['plan']}" if rd[q].get("plan") else ""))
    ing = results["ingest"]
    out += ["", "## Ingest", "",
            f"{ing['rows']:,} dossier rows of one day: land step {ing['land_seconds']} s "
            f"({ing['land_rows_per_s']:,} rows/s; read, parse, check, pseudonymise, COPY), bare COPY of the same rows "
            f"{ing['copy_seconds']} s ({ing['copy_rows_per_s']:,} rows/s), pandas.to_sql {ing['pandas_seconds']} s "
            f"({ing['pandas_rows_per_s']:,} rows/s)."]
    mem = results["memory"]
    out += ["", "## Memory", "",
            f"Peak RSS: bench process {mem['bench_process_mib']} MiB (every pipeline step runs in it; getrusage), "
            f"largest child {mem['children_peak_mib']} MiB ({mem['children_peak_command']}), PostgreSQL: largest "
            f"process {mem['server_peak_process_mib']} MiB, all server processes together "
            f"{mem['server_peak_all_processes_mib']} MiB (VmHWM sampled every 0.5 s from /proc; RSS counts the shared "
            "buffers a backend touched; the backends are the server's processes, not the bench's)."]
    out += ["", "## Notes", ""] + [f"- {n}" for n in results["notes"]] + [""]
    return "\n".join(out)


STEP_ORDER = ("plan", "extract_and_land", "gate_batches", "dbt_build", "gate_marts", "publish")


def notes(results: dict) -> list[str]:
    a, b = results["sizes"]
    ex = results["extrapolation"]
    out = [
        f"History is synthesised in the warehouse (benchmarks/synth.py) at {a['dossiers_in_state']:,} and "
        f"{b['dossiers_in_state']:,} dossiers over {a['history_days']} and {b['history_days']} days "
        f"(--grow {results['parameters'].get('grow', 'rate')}), not at the targets' 5 and 10 million "
        "(a first build at that size would not fit a bench run). The 5M/10M figures are linear extrapolations "
        f"({ex['nightly_seconds_per_1000_dossiers']} s of nightly per 1,000 dossiers of history).",
        "Models by materialization: " + "; ".join(f"{k} {len(v)}" for k, v in a.get("materializations", {}).items())
        + (f" (incremental: {', '.join(a['materializations'].get('incremental', []))})"
           if a.get("materializations", {}).get("incremental") else "") + ".",
        "The nightly's slowest dbt nodes at size B: " + "; ".join(
            f"{n['node'].split('.')[-1] if n['node'].startswith('model.') else n['node']} {n['seconds']} s"
            for n in b["nightly"].get("slowest_nodes", [])[:6]) + ".",
        f"The night delivers {results['parameters']['night_changes']:,} dossier lines (receptions of the day plus "
        "earlier dossiers finishing that day), their steps and documents, as export files through the real "
        "pipeline (extract, land, batch gate, ledger state merge, dbt build, publication gate, publish).",
        f"Year backfill measured with the simulator twice, {results['backfill']['days']} days at "
        f"{results['backfill']['dossiers_per_day']} dossiers per day ({results['backfill']['dossiers']:,} dossiers, "
        f"{results['backfill']['rows_landed']:,} rows landed) and {results['backfill_dense']['days']} days at "
        f"{results['backfill_dense']['dossiers_per_day']:,} ({results['backfill_dense']['dossiers']:,} dossiers, "
        f"{results['backfill_dense']['rows_landed']:,} rows), extrapolated to 1.5 million by step: "
        f"{ex['backfill_method']} (fit {ex['backfill_land_fit']['method']}: "
        f"{ex['backfill_land_fit']['per_day_s']} s a day, {ex['backfill_land_fit']['per_row_us']} µs a row, "
        f"{ex['backfill_rows_per_dossier']} rows per dossier → {ex['backfill_land_and_gate_seconds_at_1_5m']} s; "
        f"first build at 1.5M {ex['backfill_first_build_seconds_at_1_5m']} s; a line through the year backfill's "
        f"whole run, its per-day costs multiplied by the dossiers, would say "
        f"{ex['backfill_linear_whole_run_seconds']} s).",
        "Reader figures query a copy of the published tthc_report table (same columns and indexes, through a view) "
        "filled directly with synthetic rows, not built by dbt.",
        "Peak RSS of the bench process covers every pipeline step of every size (they run in this process); "
        "PostgreSQL backends are separate processes, sampled from /proc.",
    ]
    for s in results["sizes"]:
        calls = s["nightly"]["gate_calls"]
        gx = sum(c["timings"].get("import_gx", 0) + c["timings"].get("configure", 0) for c in calls)
        if s["nightly"]["gate_seconds"]:
            out.append(f"{s['label']}: the gates took {s['nightly']['gate_seconds']} s of the nightly's "
                       f"{s['nightly']['seconds']} s; GX context configuration {gx:.1f} s of it. GX was already "
                       "imported by the bench process (the first build's gate paid it); a nightly in a fresh "
                       f"process (cchc run) also pays GX's start-up, {results['gx_startup_seconds']} s here.")
    return out


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="100000,200000", help="dossiers of history, two sizes (the second 2x)")
    p.add_argument("--history-days", type=int, default=180)
    p.add_argument("--night-changes", type=int, default=10000)
    p.add_argument("--backfill-days", type=int, default=365)
    p.add_argument("--backfill-per-day", type=int, default=100)
    p.add_argument("--backfill-dense", default="45x2500",
                   help="a second, dense backfill DAYSxPER_DAY: with the year backfill it separates landing's "
                        "per-day cost from its per-row cost (the two-point fit the 1.5M figure uses)")
    p.add_argument("--ingest-lines", type=int, default=40000)
    p.add_argument("--grow", choices=("days", "rate"), default="days",
                   help="size B over a longer history at A's daily rate (days, default) or over A's days "
                        "at a higher rate (rate)")
    p.add_argument("--reader-units", type=int, default=1000)
    p.add_argument("--reader-years", type=int, default=5)
    p.add_argument("--reader-repetitions", type=int, default=300)
    p.add_argument("--no-parse", action="store_true", help="skip the dbt parse before/after timing")
    p.add_argument("--out", default=str(REPO / "bench"))
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("cchc", "great_expectations"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    os.environ.setdefault("CCHC_PSEUDONYM_KEY", "benchmark-key-not-secret")
    from cchc.paths import state_dir
    from cchc.warehouse import warehouse_url

    started = time.perf_counter()
    sources = state_dir() / "bench"
    sources.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    if len(sizes) != 2:
        raise SystemExit("--sizes takes two sizes, e.g. 100000,200000")
    night = dt.date(2024, 7, 3)  # a Wednesday
    results: dict = {"date": measure.now_iso(), "code": measure.code_version(REPO), "machine": measure.machine(),
                     "versions": measure.versions(warehouse_url()),
                     "parameters": {k: getattr(args, k) for k in vars(args) if k != "out"}}
    with measure.ProcessMemory(warehouse_url()) as memory:
        readers = {"units": args.reader_units, "years": args.reader_years, "repetitions": args.reader_repetitions}
        results["sizes"] = [
            bench_history("A", sizes[0], args.history_days, args.night_changes, night, sources, readers=readers,
                          parse=not args.no_parse),
            bench_history("B", sizes[1], history_days_of_b(args, sizes), args.night_changes, night, sources),
        ]
        results["readers"] = results["sizes"][0].pop("readers")
        results["ingest"] = bench_ingest(args.ingest_lines, sources)
        results["backfill"] = bench_backfill(args.backfill_days, args.backfill_per_day, sources)
        dense_days, dense_per_day = (int(x) for x in args.backfill_dense.lower().split("x"))
        results["backfill_dense"] = bench_backfill(dense_days, dense_per_day, sources)
    results["gx_startup_seconds"] = measure.gx_startup_seconds()
    results["memory"] = {"bench_process_mib": measure.rss_self_mib(), **memory.as_json()}
    results["bench_seconds"] = round(time.perf_counter() - started, 1)
    results["figures"] = derive(results)
    results["notes"] = notes(results)
    write_results(results, Path(args.out))
    print(readme_table(results))
    print(f"written to {args.out}/results.md and results.json")
    return results


def history_days_of_b(args, sizes: list[int]) -> int:
    """Size B's history: as many days as A's (``--grow rate``: twice the dossiers a day) or as many
    times A's days as B is times A (``--grow days``: the same dossiers a day over a longer history,
    which is how a province's history grows; the periodic tables grow with it)."""
    if args.grow == "days":
        return round(args.history_days * sizes[1] / sizes[0])
    return args.history_days


if __name__ == "__main__":
    main()
