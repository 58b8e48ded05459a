"""One nightly run at a time, across processes: a lock row with a heartbeat, in the warehouse.

A run spans several processes (one per Airflow task), so a session-level advisory lock cannot hold
it. ``ops.run_lock`` names the run that holds the warehouse; the holder's steps refresh its heartbeat
while they work (:class:`Heartbeat`). Another run's ``plan`` is refused while the lock is held and
its heartbeat is fresh; a lock whose heartbeat is older than ``CCHC_RUN_LOCK_STALE_SECONDS`` belongs
to a run that was killed: it is taken over, and that run's steps left ``running`` are marked
``abandoned``. The lock is released when the run publishes or one of its steps fails.
"""

from __future__ import annotations

import logging
import threading

import psycopg

log = logging.getLogger(__name__)

LOCK_NAME = "nightly"
HEARTBEAT_SECONDS = 20.0

RUN_LOCK_DDL = """
create schema if not exists ops;
create table if not exists ops.run_lock (
    lock_name     text primary key,
    run_id        text,
    acquired_at   timestamptz,
    heartbeat_at  timestamptz,
    released_at   timestamptz
);
"""


class RunInProgress(RuntimeError):
    """Another run holds the warehouse."""


def acquire(conn: psycopg.Connection, run_id: str, *, stale_seconds: float) -> list[str]:
    """Take the lock for ``run_id`` (re-entrant for the same run, e.g. an Airflow retry); returns
    the runs whose steps were marked abandoned. Raises RunInProgress. Commits."""
    abandoned: list[str] = []
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext('cchc.run_lock'))")
        conn.execute(RUN_LOCK_DDL)
        conn.execute("insert into ops.run_lock (lock_name) values (%s) on conflict do nothing", (LOCK_NAME,))
        holder, acquired, heartbeat, released, age = conn.execute(
            "select run_id, acquired_at, heartbeat_at, released_at, extract(epoch from now() - heartbeat_at) "
            "from ops.run_lock where lock_name = %s for update", (LOCK_NAME,)).fetchone()
        if holder and holder != run_id and released is None and age is not None and age < stale_seconds:
            step = conn.execute(
                "select step, started_at from ops.pipeline_steps where run_id = %s "
                "order by started_at desc limit 1", (holder,)).fetchone() if _has_steps(conn) else None
            doing = f", step '{step[0]}' since {step[1]:%Y-%m-%d %H:%M:%S%z}" if step else ""
            raise RunInProgress(
                f"another run is in progress: {holder} (started {acquired:%Y-%m-%d %H:%M:%S%z}{doing}, "
                f"last heartbeat {age:.0f} s ago); this run was not started. Wait for it to finish; "
                f"if it was killed, its lock expires {stale_seconds:.0f} s after its last heartbeat")
        if holder and holder != run_id and released is None:
            log.warning("run %s holds the lock but its heartbeat is %s s old: taking it over", holder,
                        "?" if age is None else f"{age:.0f}")
        conn.execute("update ops.run_lock set run_id = %s, acquired_at = now(), heartbeat_at = now(), "
                     "released_at = null where lock_name = %s", (run_id, LOCK_NAME))
        if _has_steps(conn):
            rows = conn.execute(
                "update ops.pipeline_steps set status = 'abandoned', finished_at = now(), "
                "message = 'abandoned: its run stopped without finishing this step (taken over by ' || %s || ')' "
                "where status = 'running' and run_id <> %s returning run_id, step", (run_id, run_id)).fetchall()
            abandoned = sorted({r[0] for r in rows})
            for r in rows:
                log.warning("marked step %s of run %s abandoned", r[1], r[0])
    return abandoned


def _has_steps(conn) -> bool:
    return conn.execute("select to_regclass('ops.pipeline_steps') is not null").fetchone()[0]


def beat(conn: psycopg.Connection, run_id: str) -> None:
    conn.execute("update ops.run_lock set heartbeat_at = now() where lock_name = %s and run_id = %s "
                 "and released_at is null", (LOCK_NAME, run_id))


def release(conn: psycopg.Connection, run_id: str) -> bool:
    """Release the lock if ``run_id`` holds it. Commits (autocommit connections) or joins the caller's
    transaction."""
    if conn.execute("select to_regclass('ops.run_lock') is null").fetchone()[0]:
        return False
    return conn.execute("update ops.run_lock set released_at = now() where lock_name = %s and run_id = %s "
                        "and released_at is null", (LOCK_NAME, run_id)).rowcount > 0


class Heartbeat:
    """Refresh the lock's heartbeat every few seconds while a step works (a background thread with
    its own connection; a killed process stops beating, so its lock goes stale)."""

    def __init__(self, url: str, run_id: str, every: float | None = None):
        from cchc.settings import LedgerSettings

        # several beats within the stale window, so a live run is never taken for a dead one
        self.every = every or min(HEARTBEAT_SECONDS, LedgerSettings.from_env().run_lock_stale_seconds / 4)
        self.url, self.run_id = url, run_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{run_id}", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as conn:
                    if conn.execute("select to_regclass('ops.run_lock') is not null").fetchone()[0]:
                        beat(conn, self.run_id)
            except psycopg.Error as exc:  # a missed beat is not a failure; the next one may pass
                log.debug("heartbeat of %s failed: %s", self.run_id, exc)
