"""What the bench measures besides the pipeline's own step log: machine and versions, peak memory of
this process, of its children (dbt) and of the PostgreSQL server's processes, the batch gate's
inner timings, and reader latencies."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import random
import re
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import logging

import psycopg

log = logging.getLogger("benchmarks")


def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = 0
    try:
        m = re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text())
        ram = int(m.group(1)) * 1024 if m else 0
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "ram_gib": round(ram / 2**30, 1), "cpu_model": cpu,
            "os": platform.platform(), "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}


def versions(url: str) -> dict:
    def dist(name: str) -> str | None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version(name)
        except PackageNotFoundError:
            return None

    with psycopg.connect(url) as conn:
        pg = conn.execute("show server_version").fetchone()[0]
    return {"python": platform.python_version(), "postgresql": pg, "dbt_core": dist("dbt-core"),
            "dbt_postgres": dist("dbt-postgres"), "great_expectations": dist("great_expectations"),
            "airflow": dist("apache-airflow"), "psycopg": dist("psycopg"), "pandas": dist("pandas")}


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).astimezone().isoformat(timespec="seconds")


def rss_self_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class ProcessMemory:
    """Samples, twice a second, the peak RSS (VmHWM) of the PostgreSQL server's processes (the
    postmaster and its children) and of this process's descendants (dbt subprocesses).

    getrusage's RUSAGE_CHILDREN is no good for the children: a forked child counts the parent's
    pages until it execs. RSS counts the shared buffers a backend touched, so the server's sum
    over-counts shared memory. The server is only sampled when it runs on this machine."""

    def __init__(self, url: str, interval: float = 0.5):
        self.interval = interval
        self.server_peak_kib = 0
        self.server_total_kib = 0
        self.children_peak_kib = 0
        self.children_peak_command = ""
        self._stop = threading.Event()
        self._url = url
        self._attempts = 0
        self.postmaster = self._find_postmaster()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _find_postmaster(self) -> int | None:
        """The server's postmaster: the parent of a backend of ours (None when the server is not on
        this machine, or not reachable yet: the sampler tries again)."""
        try:
            with psycopg.connect(self._url, connect_timeout=5) as conn:
                backend = conn.execute("select pg_backend_pid()").fetchone()[0]
            status = Path(f"/proc/{backend}/status").read_text()
            return int(re.search(r"PPid:\s+(\d+)", status).group(1))
        except (OSError, AttributeError, psycopg.Error) as exc:
            log.info("PostgreSQL server not sampled (yet): %s", exc)
            return None

    @staticmethod
    def _children(pid: int) -> list[int]:
        out = []
        with contextlib.suppress(OSError):  # the process or one of its threads has gone meanwhile
            for task in Path(f"/proc/{pid}/task").iterdir():
                with contextlib.suppress(OSError):
                    out += [int(x) for x in (task / "children").read_text().split()]
        return out

    def _descendants(self, pid: int) -> list[int]:
        found, todo = [], self._children(pid)
        while todo:
            child = todo.pop()
            found.append(child)
            todo += self._children(child)
        return found

    @staticmethod
    def _hwm_kib(pid: int) -> int:
        try:
            m = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
        except OSError:
            return 0
        return int(m.group(1)) if m else 0

    def _sample(self) -> None:
        if self.postmaster is None and self._attempts < 20:
            self._attempts += 1
            self.postmaster = self._find_postmaster()
        if self.postmaster:
            sizes = [self._hwm_kib(p) for p in [self.postmaster, *self._children(self.postmaster)]]
            self.server_peak_kib = max(self.server_peak_kib, *sizes, 0)
            self.server_total_kib = max(self.server_total_kib, sum(sizes))
        for pid in self._descendants(os.getpid()):
            hwm = self._hwm_kib(pid)
            if hwm > self.children_peak_kib:
                self.children_peak_kib = hwm
                try:
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    cmd = ""
                self.children_peak_command = " ".join(cmd.split()[:3])

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with contextlib.suppress(OSError):
                self._sample()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)

    def as_json(self) -> dict:
        return {"server_sampled": self.postmaster is not None,
                "server_peak_process_mib": round(self.server_peak_kib / 1024, 1),
                "server_peak_all_processes_mib": round(self.server_total_kib / 1024, 1),
                "children_peak_mib": round(self.children_peak_kib / 1024, 1),
                "children_peak_command": self.children_peak_command}


class GateTimings:
    """Records the inner timings (GX import, context, validation, Data Docs ...) of every run_gate
    call while active, by wrapping cchc.quality.run_gate (the pipeline imports it at call time)."""

    def __init__(self):
        self.calls: list[dict] = []

    def __enter__(self):
        import cchc.quality as quality

        self._quality, self._original = quality, quality.run_gate

        def recording(*args, **kw):
            t0 = time.perf_counter()
            result = self._original(*args, **kw)
            self.calls.append({"report": kw.get("report_name"), "seconds": round(time.perf_counter() - t0, 2),
                               "checks": result.checks_evaluated,
                               "timings": {k: round(v, 2) for k, v in (result.timings or {}).items()}})
            return result

        quality.run_gate = recording
        return self

    def __exit__(self, *exc):
        self._quality.run_gate = self._original


def gx_startup_seconds() -> float:
    """Wall time of a fresh interpreter importing GX and creating an ephemeral context."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import great_expectations as gx; gx.get_context(mode='ephemeral')"],
                   check=True, capture_output=True)
    return round(time.perf_counter() - t0, 2)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def latencies(conn: psycopg.Connection, sql: str, params_fn, repetitions: int, seed: int = 1) -> dict:
    """Run ``sql`` ``repetitions`` times with ``params_fn(rng)`` (prepared, results fetched); ms."""
    rng = random.Random(seed)
    for _ in range(5):  # warm-up (plan cache, buffers)
        conn.execute(sql, params_fn(rng), prepare=True).fetchall()
    times, rows = [], 0
    for _ in range(repetitions):
        p = params_fn(rng)
        t0 = time.perf_counter()
        rows += len(conn.execute(sql, p, prepare=True).fetchall())
        times.append((time.perf_counter() - t0) * 1000)
    return {"repetitions": repetitions, "p50_ms": round(statistics.median(times), 3),
            "p95_ms": round(percentile(times, 0.95), 3), "max_ms": round(max(times), 3),
            "mean_rows": round(rows / repetitions, 1)}


def code_version(repo: Path) -> dict:
    """The commit measured: git's HEAD and whether the tree had uncommitted changes, or the
    snapshot's BENCH_COMMIT file (a `git archive` export has no .git)."""
    marker = repo / "BENCH_COMMIT"
    if marker.exists():
        return {"commit": marker.read_text().strip(), "uncommitted_changes": False, "source": "git archive snapshot"}
    try:
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "uncommitted_changes": None, "source": "unknown"}
    return {"commit": head, "uncommitted_changes": bool(dirty), "source": "working tree"}
