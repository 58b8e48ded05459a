"""Which PostgreSQL the project uses, and small helpers around its URL.

``CCHC_WAREHOUSE_URL`` (e.g. ``postgresql://cchc:secret@db:5432/cchc``) selects an external server;
a unix socket is given libpq's way, ``postgresql://cchc@/cchc?host=/run/postgresql`` (a folder as
``host``; ``&port=5433`` when not 5432). Without it the embedded server under ``$CCHC_HOME/pg`` is
started (or reused) on demand, and the URL is its pipeline role's (password included).

URLs carry passwords: print or log them through :func:`redact_url`.
"""

from __future__ import annotations

import getpass
import os
import re
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict

from cchc.paths import state_dir
from cchc.settings import embedded_pg_port, warehouse_url_override


class WarehouseError(RuntimeError):
    pass


def embedded_server():
    from cchc.warehouse.embedded import DEFAULT_PORT, EmbeddedPostgres

    return EmbeddedPostgres(root=state_dir() / "pg", port=embedded_pg_port(DEFAULT_PORT))


def warehouse_url() -> str:
    """The warehouse URL (libpq form), starting the embedded server if needed."""
    url = warehouse_url_override()
    if url:
        return libpq_url(url)
    return embedded_server().ensure_running()


def admin_url(database: str = "postgres") -> str:
    """A superuser URL of the embedded server (creating databases and login roles).

    There is none for an external server (CCHC_WAREHOUSE_URL elsewhere): its DBA keeps that.
    """
    external = warehouse_url_override()
    if external and not is_embedded(external):
        raise WarehouseError(f"no administrator URL for the external warehouse {redact_url(external)}: "
                             "its DBA creates databases and roles")
    server = embedded_server()
    server.ensure_running()
    return server.admin_url(database)


def is_embedded(url: str) -> bool:
    """Does ``url`` point at this project's running embedded server (whatever its database)?"""
    server = embedded_server()
    port = server.running_port()
    if port is None:
        return False
    try:
        parts = url_parts(url)
    except WarehouseError:
        return False
    return parts["port"] == str(port) and parts["host"] in ("127.0.0.1", "localhost", str(server.socket_dir))


_PASSWORD_IN_QUERY = re.compile(r"(?i)(password=)[^&\s]*")
_PASSWORD_IN_CONNINFO = re.compile(r"(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)")


def redact_url(url: str) -> str:
    """``url`` with its password (in the user part or a ``password=`` parameter) replaced by ``***``.

    Also takes a libpq key=value string (``host=... password=...``). Use it wherever a URL is
    printed or logged.
    """
    if "://" not in url:
        return _PASSWORD_IN_CONNINFO.sub(r"\1***", url)
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, hostinfo = netloc.rsplit("@", 1)
        if ":" in userinfo:
            netloc = userinfo.split(":", 1)[0] + ":***@" + hostinfo
    query = _PASSWORD_IN_QUERY.sub(r"\1***", parts.query)
    return (f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")
            + (f"#{parts.fragment}" if parts.fragment else ""))


def libpq_url(url: str) -> str:
    """``postgresql+psycopg://...`` → ``postgresql://...`` (what psycopg and libpq accept)."""
    scheme, rest = url.split("://", 1)
    if not scheme.startswith(("postgresql", "postgres")):
        raise WarehouseError(f"not a PostgreSQL URL: {scheme}://…")
    return f"postgresql://{rest}"


def sqlalchemy_url(url: str) -> str:
    """The URL for SQLAlchemy (GX, Airflow): ``postgresql+psycopg://``; a socket URL stays one
    (SQLAlchemy's psycopg dialect hands ``?host=/dir&port=N`` to libpq)."""
    return "postgresql+psycopg://" + libpq_url(url).split("://", 1)[1]


def with_database(url: str, database: str) -> str:
    parts = urlsplit(libpq_url(url))
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "dbname"],
                      safe="/")
    return urlunsplit((parts.scheme, parts.netloc, "/" + quote(database, safe=""), query, parts.fragment))


def url_parts(url: str) -> dict[str, str]:
    """What libpq makes of a URL: host, port, user, password, dbname, plus any other parameter
    it carries (sslmode ...). For dbt's profile and the checks.

    Parsed by libpq itself, so ``postgresql://u@/db?host=/run/postgresql`` gives host
    ``/run/postgresql`` (a socket folder: dbt-postgres accepts it as host). Missing parts get
    libpq's defaults (PGHOST, PGPORT, PGUSER, PGPASSWORD, then 5432, the OS user, the user's name);
    a URL without any host is refused (libpq would pick a compiled-in socket folder that dbt's own
    libpq may not share).
    """
    try:
        d = {k: str(v) for k, v in conninfo_to_dict(libpq_url(url)).items()}
    except psycopg.ProgrammingError as exc:
        raise WarehouseError(f"not a valid PostgreSQL URL ({redact_url(url)}): {exc}") from None
    host = d.pop("host", None) or os.environ.get("PGHOST") or d.pop("hostaddr", None)
    if not host:
        raise WarehouseError(
            f"the warehouse URL {redact_url(url)} names no host: give a server "
            "(postgresql://user@host:5432/db) or a socket folder (postgresql://user@/db?host=/run/postgresql)")
    user = d.pop("user", None) or os.environ.get("PGUSER") or getpass.getuser()
    parts = {
        "host": host,
        "port": d.pop("port", None) or os.environ.get("PGPORT") or "5432",
        "user": user,
        "password": d.pop("password", None) or os.environ.get("PGPASSWORD") or "",
        "dbname": d.pop("dbname", None) or os.environ.get("PGDATABASE") or user,
    }
    return {**parts, **d}


def connect(url: str | None = None, **kw) -> psycopg.Connection:
    return psycopg.connect(url or warehouse_url(), **kw)


def create_database(url: str, name: str, owner: str | None = None) -> str:
    """Create database ``name`` on the server of ``url`` (dropping a leftover); returns its URL.

    The role of ``url`` needs CREATEDB (the embedded pipeline role has it); ``owner`` (default:
    that role) owns the new database, hence the schemas the pipeline creates in it.
    """
    from psycopg import sql

    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        stmt = sql.SQL("create database {}").format(sql.Identifier(name))
        if owner:
            stmt += sql.SQL(" owner {}").format(sql.Identifier(owner))
        conn.execute(stmt)
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
    from psycopg import sql

    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
