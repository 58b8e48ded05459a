"""Who may read the warehouse: the group role ``cchc_reader`` and the BI logins in it.

``cchc_reader`` (NOLOGIN) has USAGE on schema ``kpi`` and SELECT on its tables and views, and
nothing else; default privileges make every table or view the pipeline role later creates in
``kpi`` readable by it too. A BI tool logs in as a LOGIN role that is a member of the group
(``cchc readers add NAME``), so it sees exactly the published numbers: not raw, not the marts,
not ops, and it cannot create anything.

On the embedded server the group is created at setup and login roles are managed through its
superuser. On an external server the pipeline role manages them when it has CREATEROLE (and, for
a group its DBA created, ADMIN OPTION on it); otherwise :class:`RoleError` carries the SQL the DBA
runs instead.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from cchc.warehouse.connection import WarehouseError, admin_url, is_embedded, url_parts, warehouse_url

log = logging.getLogger(__name__)

READER_GROUP = "cchc_reader"
PUBLISHED_SCHEMA = "kpi"
#: names a BI login may not take (the project's own roles and PostgreSQL's)
RESERVED_ROLES = frozenset({"cchc", "cchc_admin", READER_GROUP, "postgres", "public", "cchc_migrate"})
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class RoleError(WarehouseError):
    """A role cannot be managed from here; ``dba_sql`` is what a DBA runs instead (may be empty)."""

    def __init__(self, message: str, dba_sql: str = ""):
        super().__init__(message + (f"\nAsk the DBA to run:\n{dba_sql}" if dba_sql else ""))
        self.dba_sql = dba_sql


def ensure_reader_group(conn: psycopg.Connection) -> None:
    """The group ``cchc_reader`` exists and reads schema ``kpi`` (its present and future tables and
    views), and nothing else is granted here.

    Run it as the pipeline role (the owner of ``kpi``; the default privileges are set for the
    current role). Works without CREATEROLE when the group exists; creates it otherwise, or raises
    :class:`RoleError` with the DBA's SQL. Creates schema ``kpi`` when missing. Idempotent, and
    serialised with the publish step's DDL by the same advisory lock.
    """
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext('cchc.kpi.ddl'))")
        group, schema = sql.Identifier(READER_GROUP), sql.Identifier(PUBLISHED_SCHEMA)
        if not conn.execute("select 1 from pg_roles where rolname = %s", (READER_GROUP,)).fetchone():
            user = conn.execute("select current_user").fetchone()[0]
            try:
                with conn.transaction():
                    conn.execute(sql.SQL("create role {} nologin").format(group))
            except psycopg.errors.DuplicateObject:
                pass  # created concurrently (from another database of the same server)
            except psycopg.errors.InsufficientPrivilege:
                raise RoleError(
                    f"the group role {READER_GROUP} does not exist and role {user} may not create roles",
                    f"CREATE ROLE {READER_GROUP} NOLOGIN;") from None
        if not conn.execute("select 1 from pg_namespace where nspname = %s", (PUBLISHED_SCHEMA,)).fetchone():
            conn.execute(sql.SQL("create schema {}").format(schema))
        conn.execute(sql.SQL("grant usage on schema {} to {}").format(schema, group))
        conn.execute(sql.SQL("grant select on all tables in schema {} to {}").format(schema, group))
        conn.execute(sql.SQL("alter default privileges in schema {} grant select on tables to {}")
                     .format(schema, group))
        owns_db = conn.execute("select pg_has_role(current_user, datdba, 'USAGE') from pg_database "
                               "where datname = current_database()").fetchone()[0]
        if owns_db:  # the embedded server revokes CONNECT from PUBLIC; the group gets it back
            conn.execute(sql.SQL("grant connect on database {} to {}").format(
                sql.Identifier(conn.info.dbname), group))


@dataclass(frozen=True)
class ReaderLogin:
    name: str
    password: str
    url: str
    rotated: bool  # True when the role existed and its password was replaced

    @property
    def psql(self) -> str:
        return f"psql '{self.url}'"


def _check_name(name: str) -> None:
    if not _NAME.match(name) or name in RESERVED_ROLES or name.startswith("pg_"):
        raise WarehouseError(
            f"not a usable login name: {name!r} (lower-case letters, digits and _, starting with a "
            f"letter or _, at most 63; not pg_* nor one of {', '.join(sorted(RESERVED_ROLES))})")


def _manager_url(url: str) -> str:
    """Where roles are managed from: the embedded server's superuser, else the pipeline role."""
    return admin_url(url_parts(url)["dbname"]) if is_embedded(url) else url


def _reader_url(url: str, name: str, password: str) -> str:
    """``url`` (the pipeline's: same server, database and parameters) for the login ``name``."""
    parts = urlsplit(url)
    hostinfo = parts.netloc.rsplit("@", 1)[-1]
    netloc = f"{quote(name, safe='')}:{quote(password, safe='')}@{hostinfo}"
    query = "&".join(p for p in parts.query.split("&") if p and not p.lower().startswith(("user=", "password=")))
    return urlunsplit(("postgresql", netloc, parts.path, query, parts.fragment))


def _membership(conn: psycopg.Connection, name: str) -> tuple[bool, bool] | None:
    """(is a member of the group, is a plain login) of role ``name``; None when it does not exist."""
    row = conn.execute(
        "select exists (select 1 from pg_auth_members m join pg_roles g on g.oid = m.roleid "
        "               where m.member = r.oid and g.rolname = %s), "
        "       r.rolcanlogin and not (r.rolsuper or r.rolcreaterole or r.rolcreatedb or r.rolreplication "
        "                              or r.rolbypassrls) "
        "       and not exists (select 1 from pg_auth_members m join pg_roles g on g.oid = m.roleid "
        "                       where m.member = r.oid and g.rolname <> %s) "
        "from pg_roles r where r.rolname = %s", (READER_GROUP, READER_GROUP, name)).fetchone()
    return None if row is None else (row[0], row[1])


def add_reader(name: str, url: str | None = None) -> ReaderLogin:
    """Create the BI login ``name`` (a member of cchc_reader) with a generated password, or rotate
    the password of that login when it exists. Returns how to connect.

    ``url`` is the pipeline's warehouse URL (default :func:`warehouse_url`); the login gets the
    same server and database. Raises :class:`RoleError` (with the DBA's SQL) when roles cannot be
    managed from here, and refuses a name that belongs to a role which is not a BI login.
    """
    _check_name(name)
    url = url or warehouse_url()
    with psycopg.connect(url) as conn:
        ensure_reader_group(conn)
    password = secrets.token_urlsafe(24)
    role, group = sql.Identifier(name), sql.Identifier(READER_GROUP)
    dba_sql = (f"CREATE ROLE {name} LOGIN PASSWORD '<a strong password>';\n"
               f"GRANT {READER_GROUP} TO {name};")
    with psycopg.connect(_manager_url(url), autocommit=True) as conn:
        me = conn.execute("select current_user").fetchone()[0]
        verifier = sql.Literal(conn.pgconn.encrypt_password(password.encode(), name.encode(),
                                                            b"scram-sha-256").decode())
        state = _membership(conn, name)
        if state is not None and not all(state):
            raise WarehouseError(f"role {name} exists and is not a BI login (a plain LOGIN role whose "
                                 f"only membership is {READER_GROUP}): choose another name")
        try:
            if state is None:
                conn.execute(sql.SQL("create role {} login nosuperuser nocreatedb nocreaterole inherit "
                                     "password {}").format(role, verifier))
            else:
                conn.execute(sql.SQL("alter role {} login password {}").format(role, verifier))
            conn.execute(sql.SQL("grant {} to {}").format(group, role))
        except psycopg.errors.InsufficientPrivilege as exc:
            if state is not None:
                dba_sql = f"ALTER ROLE {name} PASSWORD '<a strong password>';"
            raise RoleError(f"role {me} may not manage login roles ({str(exc).strip()})", dba_sql) from None
    log.info("%s BI login %s (member of %s)", "rotated the password of" if state else "created", name, READER_GROUP)
    return ReaderLogin(name, password, _reader_url(url, name, password), rotated=state is not None)


def list_readers(url: str | None = None) -> list[dict]:
    """The members of cchc_reader: name, can_login, valid_until."""
    with psycopg.connect(url or warehouse_url()) as conn:
        rows = conn.execute(
            "select r.rolname, r.rolcanlogin, r.rolvaliduntil from pg_auth_members m "
            "join pg_roles g on g.oid = m.roleid join pg_roles r on r.oid = m.member "
            "where g.rolname = %s order by r.rolname", (READER_GROUP,)).fetchall()
    return [{"name": n, "can_login": c, "valid_until": v} for n, c, v in rows]


def remove_reader(name: str, url: str | None = None) -> bool:
    """Drop the BI login ``name`` and end its sessions; False when there is no such role.

    Refuses a role that is not a BI login (never drops the project's or anyone else's roles).
    """
    _check_name(name)
    url = url or warehouse_url()
    with psycopg.connect(_manager_url(url), autocommit=True) as conn:
        state = _membership(conn, name)
        if state is None:
            return False
        if not all(state):
            raise WarehouseError(f"role {name} is not a BI login (a member of {READER_GROUP}); not dropping it")
        me = conn.execute("select current_user").fetchone()[0]
        pids = [r[0] for r in conn.execute("select pid from pg_stat_activity where usename = %s", (name,))]
        try:
            conn.execute(sql.SQL("drop role {}").format(sql.Identifier(name)))
        except psycopg.errors.InsufficientPrivilege as exc:
            raise RoleError(f"role {me} may not drop roles ({str(exc).strip()})", f"DROP ROLE {name};") from None
        except psycopg.errors.DependentObjectsStillExist as exc:
            raise WarehouseError(f"role {name} still has privileges or objects ({str(exc).strip()}): "
                                 f"run DROP OWNED BY {name} in each database it was granted in, then retry") from None
        try:
            for pid in pids:
                conn.execute("select pg_terminate_backend(%s)", (pid,))
        except psycopg.Error:  # its open sessions end when they disconnect
            log.warning("could not end the open sessions of %s", name)
    log.info("dropped BI login %s", name)
    return True


def check_privileges(url: str, **kw) -> list[str]:
    """See :func:`cchc.warehouse.privileges.check_privileges` (re-exported here for callers)."""
    from cchc.warehouse.privileges import check_privileges as check

    return check(url, **kw)
