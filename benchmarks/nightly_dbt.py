"""The dbt cost of one more night: land a simulated history, build it, land one more day, build
again (incrementally when the models allow), and time each build.

    python -m benchmarks.nightly_dbt [--scale 1] [--days 61]

The simulated sources (cchc_demo.simulator, 200 x scale dossiers a day) are landed with the loader;
their batches are brought into force without the GX batch gate (record_gate), so only the ledger's
state merge and dbt are timed. Prints a JSON line with: dossiers, keys changed by the last night,
the build times (state merge and dbt) of the history night and of the last night, and of a full
rebuild at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
import uuid

import psycopg


def main() -> None:
    from cchc.extract import FileSource
    from cchc.land import land_day
    from cchc.ledger import list_batches, record_gate
    from cchc.paths import state_dir
    from cchc_demo.simulator import SimulatorConfig, generate
    from cchc.transform import build
    from cchc.warehouse import create_database, drop_database, warehouse_url

    p = argparse.ArgumentParser()
    p.add_argument("--scale", type=int, default=1)
    p.add_argument("--days", type=int, default=61)
    p.add_argument("--keep", action="store_true", help="keep the database (prints its URL)")
    p.add_argument("--project-dir", help="another copy of dbt_project (e.g. an older version, to compare)")
    args = p.parse_args()
    if args.project_dir:
        from pathlib import Path

        import cchc.transform.dbt_runner as runner

        runner.DBT_PROJECT_DIR = Path(args.project_dir).resolve()
    os.environ.setdefault("CCHC_PSEUDONYM_KEY", "benchmark-key-not-secret")
    start = dt.date(2025, 5, 1)
    end = start + dt.timedelta(days=args.days - 1)
    root = state_dir() / "bench" / f"sources-x{args.scale}-{args.days}d"
    if not (root / "_simulator" / "config.json").exists():
        generate(root, SimulatorConfig(start=start, end=end, seed=1, dossiers_per_day=200 * args.scale,
                                       documents_per_day=80 * args.scale, bad_rate=0.01))
    server = warehouse_url()
    name = f"cchc_nightly_{uuid.uuid4().hex[:8]}"
    url = create_database(server, name)
    key = os.environ["CCHC_PSEUDONYM_KEY"].encode()
    out: dict = {"scale": args.scale, "days": args.days}

    def land(day):
        land_day(url, FileSource(root), day, pseudonym_key=key, run_id="bench-nightly")
        with psycopg.connect(url) as conn:
            pending = [r["batch_id"] for r in list_batches(conn, dispositions=["pending"], limit=100000)]
            record_gate(conn, "bench-nightly", passed=pending, failed={})
            conn.commit()

    def timed_build(label, day, **kw):
        t0 = time.perf_counter()
        result = build(url, as_of_date=day, publication_id=1, run_id=f"bench-{label}", **kw)
        total = time.perf_counter() - t0
        state = sum(t["seconds"] for t in result.state.tables.values())
        with psycopg.connect(url) as conn:
            sums = dict(conn.execute(
                "select resource_type, round(sum(execution_time)::numeric, 2) from ops.dbt_run_results "
                "where run_id = %s group by 1", (f"bench-{label}",)).fetchall())
        out[label] = {"total_s": round(total, 2), "state_s": round(state, 2), "dbt_s": round(total - state, 2),
                      "models_s": float(sums.get("model", 0)), "tests_s": float(sums.get("test", 0)),
                      "keys_changed": {k: v["keys"] for k, v in result.state.tables.items() if v["keys"]}}
        print(label, out[label], flush=True)

    try:
        for i in range(args.days - 1):
            land(start + dt.timedelta(days=i))
        timed_build("history", end - dt.timedelta(days=1))
        land(end)
        timed_build("night", end)
        with psycopg.connect(url) as conn:
            out["dossiers"] = conn.execute("select count(*) from marts.fct_dossiers").fetchone()[0]
            out["documents"] = conn.execute("select count(*) from marts.fct_documents").fetchone()[0]
            rows = conn.execute(
                "select unique_id, execution_time, rows_affected from ops.dbt_run_results "
                "where run_id = 'bench-night' and resource_type = 'model' order by execution_time desc limit 12"
            ).fetchall()
            out["night_models"] = [[u.split(".")[-1], round(t, 2), n] for u, t, n in rows]
        # a night changing 1 % of the dossiers (a new version of each, delivered for the next day)
        extra = end + dt.timedelta(days=1)
        with psycopg.connect(url) as conn:
            batch = conn.execute(
                "insert into raw.load_batches (system, feed, source_day, delivery, source_uri, lines_read, "
                "rows_landed, status, run_id, finished_at) values ('onestop', 'dossiers', %s, 'file', "
                "'bench://one-percent', 0, 0, 'landed', 'bench-nightly', now()) returning batch_id",
                (extra,)).fetchone()[0]
            n = conn.execute(
                "insert into raw.onestop__dossiers "
                "(batch_id, source_day, line_no, record_key, updated_at_src, payload) "
                "select %s, %s, row_number() over (order by record_key), record_key, updated_at_src, payload "
                "from state.onestop__dossiers where abs(hashtext(record_key)) %% 100 = 0", (batch, extra)).rowcount
            conn.execute("update raw.load_batches set lines_read = %s, rows_landed = %s where batch_id = %s",
                         (n, n, batch))
            conn.commit()
        timed_build("night_1pct", extra)
        timed_build("full_rebuild", extra, full_rebuild=True)
    finally:
        if args.keep:
            print("kept", url)
        else:
            drop_database(server, name)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
