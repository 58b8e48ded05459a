"""Export folders: ``{root}/{system}/{YYYY-MM-DD}/{feed}.jsonl.gz`` plus ``_manifest.json``.

Each file is gzip-compressed JSON lines (one object per line, UTF-8, LF after every line), written
to a temporary name and renamed into place. The day's ``_manifest.json`` is written last, the same
way, since its presence means "this day is complete"::

    {"files": {"<feed>.jsonl.gz": {"lines": N, "sha256": "<hex>"}}}

``sha256`` is computed over the bytes of the ``.gz`` file exactly as delivered (not over the
decompressed text); ``lines`` is the number of lines of the decompressed file, bad lines included.
Bad lines are content problems, not delivery problems: the manifest always matches the file as
written. Gzip output carries no file name and mtime 0, so the same config gives byte-identical files.

Besides the day folders, ``{root}/_simulator/`` holds the ground truth for tests, outside any day
folder: ``config.json`` (the config used), ``injected.json`` (every bad line, see
:mod:`cchc_demo.simulator.corrupt`) and ``numbering_anomalies.json`` (see
:mod:`cchc_demo.simulator.documents`). Running :func:`generate` again over the same root rewrites the
days of its range and these three files; it deletes nothing else.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import logging
import os
import time
from pathlib import Path

from cchc_demo.simulator.config import FEEDS, FeedInfo, SimulatorConfig
from cchc_demo.simulator.corrupt import Corruptor
from cchc_demo.simulator.documents import DocumentSimulator
from cchc_demo.simulator.dossiers import DossierSimulator
from cchc_demo.simulator.province import procedure_records, unit_records
from cchc_demo.simulator.targets import target_records
from cchc_demo.simulator.timeline import dumps

log = logging.getLogger(__name__)

MANIFEST = "_manifest.json"
GROUND_TRUTH_DIR = "_simulator"


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def gzip_lines(lines: list[bytes]) -> bytes:
    return gzip.compress(b"".join(line + b"\n" for line in lines), compresslevel=6, mtime=0)


def default_generated_at(day: dt.date) -> str:
    """When the simulated exporter produced day D's delivery: 03:10 local time on D + 1."""
    return (day + dt.timedelta(days=1)).isoformat() + "T03:10:00+07:00"


def write_day(root: Path, system: str, day: dt.date, files: dict[str, list[bytes]],
              generated_at: str | None = None) -> dict[str, dict]:
    """Write one system's day folder (files, then the manifest); returns the manifest's entries.

    The manifest carries ``generated_at`` (sources.md, "Re-deliveries"): ``generated_at`` or, by
    default, :func:`default_generated_at` (deterministic, so a regenerated day is byte-identical)."""
    folder = Path(root) / system / day.isoformat()
    entries = {}
    for feed_name, lines in files.items():
        data = gzip_lines(lines)
        name = FEEDS[feed_name].file_name
        write_atomic(folder / name, data)
        entries[name] = {"lines": len(lines), "sha256": hashlib.sha256(data).hexdigest()}
    manifest = {"generated_at": generated_at or default_generated_at(day), "files": entries}
    write_atomic(folder / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8"))
    return entries


def generate(out_dir: Path, cfg: SimulatorConfig | None = None) -> dict:
    """Simulate ``cfg``'s range and write the export folders under ``out_dir``; returns a summary.

    Summary: ``files`` maps "system/feed" to {day: {"valid", "bad", "lines"}}; ``totals`` sums them
    per "system/feed"; ``created`` counts new dossiers and documents per day; ``injected`` counts
    bad lines per kind; ``numbering_anomalies`` per kind.
    """
    cfg = cfg or SimulatorConfig()
    root = Path(out_dir)
    started = time.monotonic()
    onestop = DossierSimulator(cfg) if "onestop" in cfg.systems else None
    edoc = DocumentSimulator(cfg) if "edoc" in cfg.systems else None
    corruptor = Corruptor(cfg)
    reference = {"units": [dumps(r).encode("utf-8") for r in unit_records()],
                 "procedures": [dumps(r).encode("utf-8") for r in procedure_records()]}
    targets: dict[tuple, list[bytes]] = {}  # the targets list changes seldom: encoded once per version

    def targets_of(day: dt.date) -> list[bytes]:
        records = target_records(day)
        version = tuple(dumps(r) for r in records)
        if version not in targets:
            targets[version] = [line.encode("utf-8") for line in version]
        return targets[version]

    def carries_added_feeds(day: dt.date) -> bool:
        return cfg.added_feeds_from is None or day >= cfg.added_feeds_from
    files: dict[str, dict[str, dict]] = {}

    def emit(system: str, day: dt.date, feeds: dict[str, list[str] | list[bytes]]) -> None:
        written = {}
        for name, lines in feeds.items():
            feed: FeedInfo = FEEDS[name]
            if feed.whole:
                written[name] = lines
            else:
                written[name] = corruptor.apply(feed, day, lines)
            files.setdefault(f"{system}/{name}", {})[day.isoformat()] = {
                "valid": len(lines), "bad": len(written[name]) - len(lines), "lines": len(written[name])}
        write_day(root, system, day, written)

    for day in cfg.days():
        parts = []
        if onestop is not None:
            dossiers, steps = onestop.day(day)
            feedback, ratings = onestop.engagement_day(day)
            if carries_added_feeds(day):
                emit("onestop", day, {"dossiers": dossiers, "steps": steps, "feedback": feedback,
                                      "ratings": ratings})
                parts.append(f"{len(dossiers)} dossier snapshots, {len(steps)} steps, {len(feedback)} feedback, "
                             f"{len(ratings)} ratings")
            else:
                emit("onestop", day, {"dossiers": dossiers, "steps": steps})
                parts.append(f"{len(dossiers)} dossier snapshots, {len(steps)} steps")
        if edoc is not None:
            documents = edoc.day(day)
            emit("edoc", day, {"documents": documents})
            parts.append(f"{len(documents)} document snapshots")
        if "reference" in cfg.systems:
            emit("reference", day, {**reference, "targets": targets_of(day)} if carries_added_feeds(day) else reference)
        log.info("simulated %s: %s", day, ", ".join(parts) or "reference lists")

    cut_short = sum(sim.cut_short for sim in (onestop, edoc) if sim is not None)
    engagement_cut = onestop.engagement.cut_short if onestop is not None else 0
    if cut_short:
        log.warning("%d record lives stop where the working-day calendar ends (no notice for %d)", cut_short,
                    cfg.end.year + 1)
    anomalies = edoc.anomalies if edoc is not None else []
    truth = root / GROUND_TRUTH_DIR
    write_atomic(truth / "injected.json", _json(corruptor.injected))
    write_atomic(truth / "numbering_anomalies.json", _json(anomalies))
    write_atomic(truth / "config.json", _json(cfg.to_json()))
    summary = {
        "config": cfg.to_json(),
        "root": str(root),
        "days": len(cfg.days()),
        "files": files,
        "totals": {k: {m: sum(v[m] for v in days.values()) for m in ("valid", "bad", "lines")}
                   for k, days in files.items()},
        "created": {"dossiers": {d.isoformat(): n for d, n in (onestop.created if onestop else {}).items()},
                    "documents": {d.isoformat(): n for d, n in (edoc.created if edoc else {}).items()}},
        "injected": _count(corruptor.injected),
        "numbering_anomalies": _count(anomalies),
        "lives_cut_at_calendar_end": cut_short,
        "feedback_cut_at_calendar_end": engagement_cut,
    }
    log.info("generated %d days into %s in %.1fs: %s", summary["days"], root, time.monotonic() - started,
             {k: v["lines"] for k, v in summary["totals"].items()})
    return summary


def _json(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=1).encode("utf-8")


def _count(items: list[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        out[item["kind"]] = out.get(item["kind"], 0) + 1
    return dict(sorted(out.items()))


def break_manifest(root: Path, system: str, day: dt.date | str, how: str) -> Path:
    """Test helper: spoil a delivered day's manifest. Returns the manifest's path.

    ``how``: ``missing`` deletes ``_manifest.json``; ``count`` adds one to the line count of the
    first file it lists; ``checksum`` replaces that file's sha256 with another valid-looking one.
    """
    day = day if isinstance(day, str) else day.isoformat()
    path = Path(root) / system / day / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"no manifest {path}")
    if how == "missing":
        path.unlink()
        return path
    manifest = json.loads(path.read_bytes())
    name = sorted(manifest["files"])[0]
    entry = manifest["files"][name]
    if how == "count":
        entry["lines"] += 1
    elif how == "checksum":
        entry["sha256"] = hashlib.sha256(entry["sha256"].encode("ascii")).hexdigest()
    else:
        raise ValueError(f"how must be 'missing', 'count' or 'checksum', not {how!r}")
    write_atomic(path, json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8"))
    return path
