"""The landing figure of ``make bench`` alone, repeated: ``python -m benchmarks.landing [--lines N] [--repeat 3]``.

Runs :func:`benchmarks.run.bench_ingest` (land_day of one synthesised night, then a bare COPY and
``pandas.to_sql`` of the very rows it landed into the same table, each in a fresh database) ``--repeat``
times and prints every run's ratios and their medians. The machine may be shared: the ratios of one
run are measured in the same conditions, one right after the other; the medians smooth the rest.
Writes nothing under bench/ (the full bench writes the results).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lines", type=int, default=100_000, help="dossier changes of the night (bench: --ingest-lines)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--json", action="store_true", help="print every run as JSON too")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    for noisy in ("cchc", "great_expectations"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    os.environ.setdefault("CCHC_PSEUDONYM_KEY", "benchmark-key-not-secret")
    from benchmarks.run import bench_ingest
    from cchc.paths import state_dir

    sources = state_dir() / "bench"
    sources.mkdir(parents=True, exist_ok=True)
    runs = []
    for i in range(args.repeat):
        res = bench_ingest(args.lines, sources)
        runs.append(res)
        print(f"run {i + 1}: {res['rows']:,} rows  land {res['land_seconds']:.3f} s  COPY {res['copy_seconds']:.3f} s  "
              f"pandas {res['pandas_seconds']:.3f} s  land/COPY {res['land_over_copy']:.3f}x  "
              f"land/pandas {res['land_over_pandas']:.3f}x", flush=True)
        if args.json:
            print(json.dumps(res, default=str))
    medians = {k: statistics.median(r[k] for r in runs)
               for k in ("land_seconds", "copy_seconds", "pandas_seconds", "land_over_copy", "land_over_pandas")}
    print("median: " + "  ".join(f"{k} {v:.3f}" for k, v in medians.items()))
    return {"runs": runs, "medians": medians}


if __name__ == "__main__":
    main()
