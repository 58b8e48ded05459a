"""The API's two database connections, both read-only.

* **kpi**: the published numbers, read as a BI login (a member of ``cchc_reader``, the group that
  may read schema ``kpi`` and nothing else: ``cchc readers``' mechanism, not a second one). Either
  ``CCHC_API_READER_URL`` (a login made with ``cchc readers add NAME``), or, by default, the API
  creates its own login ``CCHC_API_LOGIN`` (``cchc_api``) at start, or rotates its password: the
  password lives only in this process's memory. Every request runs in one
  ``REPEATABLE READ READ ONLY`` transaction that first locks the views it reads (ACCESS SHARE), so
  the publication it names and the rows it returns are the same publication even while a publish
  or rollback swaps the views.
* **ops**: the token table and the unit hierarchy (outside ``kpi``), read as the pipeline role in a
  session whose every transaction is read-only (``default_transaction_read_only``).

Connections are kept in small pools; a broken connection is dropped and replaced.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from cchc.api.errors import ApiError
from cchc.warehouse import redact_url

log = logging.getLogger(__name__)


class Pool:
    """A tiny thread-safe pool of psycopg connections (FastAPI runs sync routes in threads)."""

    def __init__(self, url: str, size: int = 4, *, autocommit: bool = False, setup: tuple[str, ...] = ()):
        self.url, self.size, self.autocommit, self.setup = url, size, autocommit, setup
        self._idle: queue.LifoQueue[psycopg.Connection] = queue.LifoQueue()
        self._lock = threading.Lock()

    def _open(self) -> psycopg.Connection:
        conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10,
                               application_name="cchc-api")
        for stmt in self.setup:
            conn.execute(stmt)
        conn.autocommit = self.autocommit
        return conn

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = self._open()
        ok = False
        try:
            yield conn
            ok = True
        finally:
            if conn.closed or conn.broken:
                pass
            elif not ok or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                try:
                    conn.rollback()
                    ok = True
                except psycopg.Error:
                    ok = False
            if ok and not conn.closed and self._idle.qsize() < self.size:
                self._idle.put(conn)
            else:
                conn.close()

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


def reader_url(warehouse: str, *, explicit: str | None, login: str) -> str:
    """The URL the API reads ``kpi`` with: ``explicit`` (CCHC_API_READER_URL) when given, else the
    BI login ``login``, created or given a new password now (``cchc.warehouse.roles.add_reader``)."""
    if explicit:
        return explicit
    from cchc.warehouse.roles import add_reader

    reader = add_reader(login, warehouse)
    log.info("the API reads kpi as BI login %s (%s)", login, "password rotated" if reader.rotated else "created")
    return reader.url


def check_reader(url: str) -> None:
    """Refuse a kpi URL that could read outside ``kpi`` (a misconfigured CCHC_API_READER_URL)."""
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        row = conn.execute(
            "select rolsuper, has_schema_privilege(current_user, 'kpi', 'USAGE'), "
            "exists (select 1 from pg_namespace n where nspname not in ('kpi', 'information_schema', "
            "'pg_catalog', 'pg_toast') and nspname not like 'pg_temp%%' and nspname not like 'pg_toast_temp%%' "
            "and nspname <> 'public' and has_schema_privilege(current_user, n.oid, 'USAGE')) "
            "from pg_roles where rolname = current_user").fetchone()
    superuser, reads_kpi, reads_more = row
    if superuser or reads_more:
        raise RuntimeError(f"the API's kpi connection ({redact_url(url)}) may read more than schema kpi: "
                           "give it a BI login (cchc readers add NAME) in CCHC_API_READER_URL")
    if not reads_kpi:
        raise RuntimeError(f"the API's kpi connection ({redact_url(url)}) may not read schema kpi "
                           "(is it a member of cchc_reader? has anything been published?)")


class Database:
    """The API's connections: ``kpi`` (BI login) and ``ops`` (pipeline role, read-only)."""

    def __init__(self, warehouse: str, kpi: str, size: int = 4):
        self.kpi = Pool(kpi, size)
        self.ops = Pool(warehouse, 2, autocommit=True,
                        setup=("set default_transaction_read_only = on",))

    @classmethod
    def open(cls, warehouse: str, *, reader: str | None, login: str, size: int = 4) -> Database:
        kpi = reader_url(warehouse, explicit=reader, login=login)
        check_reader(kpi)
        return cls(warehouse, kpi, size)

    @contextmanager
    def snapshot(self, views: tuple[str, ...]) -> Iterator[psycopg.Connection]:
        """A connection in a read-only repeatable-read transaction holding ACCESS SHARE on the
        ``kpi`` views named (so no publish swaps them under the transaction's snapshot)."""
        with self.kpi.connection() as conn, conn.transaction():
            conn.execute("set transaction isolation level repeatable read, read only")
            # taken before the snapshot: LOCK does not take one, the first SELECT does
            try:
                with conn.transaction():
                    conn.execute(sql.SQL("lock table {} in access share mode").format(
                        sql.SQL(", ").join(sql.Identifier("kpi", v) for v in views)))
            except psycopg.errors.UndefinedTable:
                if conn.execute("select to_regclass('kpi.publications')").fetchone()[0] is None:
                    raise ApiError(503, "nothing has been published yet") from None
                missing = [v for v in views if conn.execute(
                    "select to_regclass(%s)", (f"kpi.{v}",)).fetchone()[0] is None]
                raise ApiError(404, f"kpi has no table {', '.join(missing)} in the current publication "
                                    "(not published yet)") from None
            yield conn

    def close(self) -> None:
        self.kpi.close()
        self.ops.close()
