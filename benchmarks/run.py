"""`make bench`: time and memory of the nightly job's steps at the demo volume and above.

Each scale gets a fresh database on the warehouse server; the steps are the pipeline's own
functions (no Airflow: its fixed cost is measured separately by `cchc run`). Results are printed
and written to $CCHC_HOME/bench/results.json.

    python -m benchmarks.run [--scales 1,4] [--days 61]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import time
import uuid

from cchc.paths import state_dir
from cchc.warehouse import create_database, drop_database, warehouse_url


def timed(label: str, results: dict, fn, *args, **kw):
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    results[label] = round(time.perf_counter() - t0, 2)
    print(f"  {label:<22} {results[label]:>8.2f} s", flush=True)
    return out


def bench_scale(scale: int, days: int) -> dict:
    from cchc import pipeline
    from cchc.simulator import SimulatorConfig, generate

    start = dt.date(2025, 5, 1)
    end = start + dt.timedelta(days=days - 1)
    root = state_dir() / "bench" / f"sources-x{scale}-{days}d"
    res: dict = {"scale": scale, "days": days, "dossiers_per_day": 200 * scale}
    print(f"scale x{scale}: {200 * scale} dossiers/day, {80 * scale} documents/day, {days} days", flush=True)
    cfg = SimulatorConfig(start=start, end=end, seed=1, dossiers_per_day=200 * scale,
                          documents_per_day=80 * scale, bad_rate=0.01)
    if not (root / "_simulator" / "config.json").exists():
        timed("generate", res, generate, root, cfg)
    server = warehouse_url()
    name = f"cchc_bench_{uuid.uuid4().hex[:8]}"
    url = create_database(server, name)
    os.environ["CCHC_WAREHOUSE_URL"] = url
    try:
        plan = pipeline.plan_run(start=start.isoformat(), end=end.isoformat(), run_id=f"bench-{name}",
                                 source={"source_dir": str(root)})
        landed = timed("land (all days)", res, pipeline.land, plan)
        res["rows_landed"], res["rows_rejected"] = landed["landed"], landed["rejected"]
        timed("land again (no-op)", res, pipeline.land, plan)
        batch_gate = timed("gate raw batches", res, pipeline.gate_batches, plan, landed)
        built = timed("dbt build", res, pipeline.build, plan)
        mart_gate = timed("gate publication", res, pipeline.gate_marts, plan)
        pub = timed("publish", res, pipeline.publish_run, plan, built, batch_gate, mart_gate)
        res["rows_published"] = pub["rows_published"]
    finally:
        os.environ.pop("CCHC_WAREHOUSE_URL", None)
        drop_database(server, name)
    res["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return res


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--scales", default="1,4")
    p.add_argument("--days", type=int, default=61)
    args = p.parse_args()
    os.environ.setdefault("CCHC_PSEUDONYM_KEY", "benchmark-key-not-secret")
    results = [bench_scale(int(s), args.days) for s in args.scales.split(",")]
    out = state_dir() / "bench" / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(json.dumps(results, indent=1))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
