"""Which PostgreSQL the project uses, and small helpers around its URL.

``CCHC_WAREHOUSE_URL`` (e.g. ``postgresql://cchc:secret@db:5432/cchc``) selects an external server.
Without it the embedded server under ``$CCHC_HOME/pg`` is started (or reused) on demand.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import psycopg

from cchc.paths import state_dir


class WarehouseError(RuntimeError):
    pass


def embedded_server():
    from cchc.warehouse.embedded import DEFAULT_PORT, EmbeddedPostgres

    return EmbeddedPostgres(root=state_dir() / "pg", port=int(os.environ.get("CCHC_PG_PORT", DEFAULT_PORT)))


def warehouse_url() -> str:
    """The warehouse URL (libpq form), starting the embedded server if needed."""
    url = os.environ.get("CCHC_WAREHOUSE_URL")
    if url:
        return libpq_url(url)
    return embedded_server().ensure_running()


def libpq_url(url: str) -> str:
    """``postgresql+psycopg://...`` → ``postgresql://...`` (what psycopg and libpq accept)."""
    scheme, rest = url.split("://", 1)
    if not scheme.startswith(("postgresql", "postgres")):
        raise WarehouseError(f"not a PostgreSQL URL: {scheme}://…")
    return f"postgresql://{rest}"


def sqlalchemy_url(url: str) -> str:
    return "postgresql+psycopg://" + libpq_url(url).split("://", 1)[1]


def with_database(url: str, database: str) -> str:
    parts = urlsplit(libpq_url(url))
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def url_parts(url: str) -> dict[str, str]:
    """host, port, user, password, dbname of a URL (for dbt's profile and Airflow)."""
    p = urlsplit(libpq_url(url))
    return {
        "host": p.hostname or "127.0.0.1",
        "port": str(p.port or 5432),
        "user": p.username or "postgres",
        "password": p.password or "",
        "dbname": (p.path or "/").lstrip("/") or "postgres",
    }


def connect(url: str | None = None, **kw) -> psycopg.Connection:
    return psycopg.connect(url or warehouse_url(), **kw)


def create_database(url: str, name: str) -> str:
    """Create database ``name`` on the server of ``url`` (dropping a leftover); returns its URL."""
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')
        conn.execute(f'create database "{name}"')
    return with_database(url, name)


def append_rows(url: str, *, ddl: str, table: str, columns: list[str], rows: list[tuple],
                casts: dict[str, str] | None = None) -> None:
    """Create ``table`` with ``ddl`` when missing (serialised by an advisory lock), then append ``rows``.

    Used for the run artifacts kept in the warehouse (ops.*). ``casts`` maps a column to an SQL type
    its parameter is cast to (e.g. ``{"observed": "jsonb"}``).
    """
    casts = casts or {}
    placeholders = ", ".join(f"%s::{casts[c]}" if c in casts else "%s" for c in columns)
    with psycopg.connect(url) as conn:
        conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"cchc.ddl.{table}",))
        conn.execute(ddl)
        with conn.cursor() as cur:
            cur.executemany(f"insert into {table} ({', '.join(columns)}) values ({placeholders})", rows)


def drop_database(url: str, name: str) -> None:
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')
