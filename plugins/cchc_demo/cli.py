"""What the demo's commands do: ``cchc demo`` (its sources), ``cchc simulate``, ``cchc serve-sources``.

``cchc.cli`` declares the commands and their options and calls these functions through a lazy
import, so that the production CLI and package never load the simulator. An option left out
takes :class:`~cchc_demo.simulator.SimulatorConfig`'s default, except ``--bad-rate``: the demo
injects :data:`DEMO_BAD_RATE` bad lines.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from pathlib import Path

from cchc_demo.simulator import SimulatorConfig, generate, serve

log = logging.getLogger("cchc.demo")

#: share of bad lines the demo's sources carry unless --bad-rate says otherwise
DEMO_BAD_RATE = 0.01
#: the options of ``cchc demo`` and ``cchc simulate`` that are fields of SimulatorConfig
CONFIG_OPTIONS = ("start", "end", "seed", "dossiers_per_day", "bad_rate")


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    """The simulator's config from the command's options (an option not given: the config's default)."""
    given = {name: getattr(args, name) for name in CONFIG_OPTIONS if getattr(args, name, None) is not None}
    given.setdefault("bad_rate", DEMO_BAD_RATE)
    return SimulatorConfig(**given)


def ensure_demo_sources(args: argparse.Namespace, default_out: Path) -> tuple[Path, SimulatorConfig]:
    """Generate the demo province's sources into ``args.out`` (default ``default_out``) unless the
    same config was generated there already; returns the folder and the config."""
    cfg = config_from_args(args)
    out = Path(args.out or default_out).resolve()
    marker = out / "_simulator" / "config.json"
    t0 = time.monotonic()
    if marker.exists() and same_config(marker, cfg):
        log.info("demo sources already generated in %s", out)
    else:
        log.info("generating the demo province's sources %s .. %s into %s", cfg.start, cfg.end, out)
        generate(out, cfg)
        log.info("generated in %.0fs", time.monotonic() - t0)
    return out, cfg


def same_config(marker: Path, cfg: SimulatorConfig) -> bool:
    """Whether the sources whose ``_simulator/config.json`` is ``marker`` were generated with ``cfg``."""
    try:
        saved = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    want = {"start": cfg.start.isoformat(), "end": cfg.end.isoformat(), "seed": cfg.seed,
            "dossiers_per_day": cfg.dossiers_per_day, "bad_rate": cfg.bad_rate}
    # sources written before the feeds of issue 7 existed (no "added_feeds_from" in their config)
    # lack feedback, ratings and targets: generate them again (the other files come out identical)
    return "added_feeds_from" in saved and all(str(saved.get(k)) == str(v) for k, v in want.items())


def cmd_simulate(args: argparse.Namespace) -> int:
    """``cchc simulate``: write the export folders into ``args.out``; prints the generation summary."""
    summary = generate(Path(args.out), config_from_args(args))
    print(json.dumps(summary, default=str, ensure_ascii=False, indent=1)[:4000])
    return 0


def cmd_serve_sources(args: argparse.Namespace) -> int:
    """``cchc serve-sources``: serve an export root through the HTTP API until Ctrl-C
    (bearer token: ``CCHC_SOURCE_TOKEN``, else ``demo-token``)."""
    server = serve(Path(args.root), host=args.host, port=args.port,
                   token=os.environ.get("CCHC_SOURCE_TOKEN", "demo-token"), fault_rate=args.fault_rate)
    print(f"serving {args.root} at {server.url} (Ctrl-C to stop)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.shutdown()
    return 0
