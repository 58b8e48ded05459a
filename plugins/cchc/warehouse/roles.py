"""Who may read the warehouse: the group role ``cchc_reader`` and the BI logins in it.

``cchc_reader`` (NOLOGIN) has USAGE on schema ``kpi`` and SELECT on its tables and views, and
nothing else; default privileges make every table or view the pipeline role later creates in
``kpi`` readable by it too. A BI tool logs in as a LOGIN role that is a member of the group
(``cchc readers add NAME``), so it sees exactly the published numbers: not raw, not the marts,
not ops, and it cannot create anything.

A login may be **unit-scoped** (``cchc readers add NAME --unit U``): it then sees, in every ``kpi``
view that has a ``unit_id``, only the rows of U and the units under it. The scope is a row of
``ops.reader_scopes`` (login → unit); the publish step writes every such view with the predicate
of :func:`unit_scope_predicate` (a ``security_barrier`` view: the filter runs before any function
of the reader's query), which takes the subtree from the ``units`` table of the same publication
(``kpi.units``). The filter keys on ``session_user`` — the role that logged in, which ``SET ROLE``
cannot change — so a scoped login that switches to ``cchc_reader`` still sees only its subtree. A
publication without a ``units`` table shows a scoped login no rows (fail closed); a login without a
scope row sees every unit.

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

from cchc.constants import PUBLISHED_SCHEMA
from cchc.warehouse.connection import WarehouseError, admin_url, is_embedded, url_parts, warehouse_url

log = logging.getLogger(__name__)

READER_GROUP = "cchc_reader"
#: login → the unit whose subtree it sees (absent: every unit)
SCOPES_TABLE = "ops.reader_scopes"
#: the column of a kpi table that names its unit, and the published table of the unit hierarchy
UNIT_COLUMN = "unit_id"
UNITS_TABLE = "units"
SCOPES_DDL = f"""
create schema if not exists ops;
create table if not exists {SCOPES_TABLE} (
    login       text primary key,
    unit_id     text not null,
    granted_at  timestamptz not null default now(),
    granted_by  text not null
);
comment on table {SCOPES_TABLE} is
    'Unit-scoped BI logins (cchc readers add NAME --unit U): the login sees only U and its subtree '
    'in every kpi view with a unit_id.';
"""
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


def ensure_scopes_table(conn: psycopg.Connection) -> None:
    """``ops.reader_scopes`` exists (idempotent; the caller's transaction; the pipeline role)."""
    if conn.execute("select to_regclass(%s)", (SCOPES_TABLE,)).fetchone()[0] is None:
        conn.execute("select pg_advisory_xact_lock(hashtext('cchc.kpi.ddl'))")
        conn.execute(SCOPES_DDL)


def unit_scope_predicate(units_schema: str | None, alias: str = "t") -> sql.Composed:
    """The row filter of a ``kpi`` view over a table with a ``unit_id`` (``alias`` names the table).

    True for every row when the logged-in role (``session_user``) has no scope; else only for the
    rows whose unit is the scope's unit or under it in ``<units_schema>.units`` (the hierarchy of
    the same publication; ``union`` makes a cycle in the parent links harmless). ``units_schema``
    None (a publication without the table): a scoped login sees nothing.
    """
    unscoped = sql.SQL("not exists (select 1 from {} s where s.login = session_user)").format(
        sql.SQL(SCOPES_TABLE))
    if units_schema is None:
        return unscoped
    return sql.SQL(
        "({unscoped} or {alias}.{col} in ("
        "with recursive scope(unit_id) as ("
        "select s.unit_id from {scopes} s where s.login = session_user "
        "union select u.unit_id from {units} u join scope on u.parent_unit_id = scope.unit_id) "
        "select scope.unit_id from scope))").format(
            unscoped=unscoped, alias=sql.Identifier(alias), col=sql.Identifier(UNIT_COLUMN),
            scopes=sql.SQL(SCOPES_TABLE), units=sql.Identifier(units_schema, UNITS_TABLE))


@dataclass(frozen=True)
class ReaderLogin:
    name: str
    password: str
    url: str
    rotated: bool  # True when the role existed and its password was replaced
    unit: str | None = None  # the unit whose subtree it sees; None: every unit

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


def _operator() -> str:
    from cchc.settings import operator_name

    return operator_name()


def _set_scope(conn: psycopg.Connection, name: str, unit: str | None, all_units: bool) -> tuple[str | None, str | None]:
    """Record the login's scope before the login can read anything; returns (scope now, scope before).

    ``unit`` must be a unit of the current publication's ``kpi.units``. Neither ``unit`` nor
    ``all_units``: the scope stays as it is (rotating a password never widens what a login sees).
    """
    with conn.transaction():
        ensure_scopes_table(conn)
        row = conn.execute(f"select unit_id from {SCOPES_TABLE} where login = %s", (name,)).fetchone()
        before = row[0] if row else None
        if unit is not None:
            if conn.execute("select to_regclass(%s)", (f"{PUBLISHED_SCHEMA}.{UNITS_TABLE}",)).fetchone()[0] is None:
                raise WarehouseError(f"cannot scope {name} to unit {unit!r}: no publication has published "
                                     f"{PUBLISHED_SCHEMA}.{UNITS_TABLE} yet (run the pipeline first)")
            found = conn.execute(f"select unit_name from {PUBLISHED_SCHEMA}.{UNITS_TABLE} where unit_id = %s",
                                 (unit,)).fetchone()
            if found is None:
                raise WarehouseError(
                    f"unknown unit {unit!r}: not in {PUBLISHED_SCHEMA}.{UNITS_TABLE} of the current publication "
                    f"(select unit_id, unit_name, unit_level from {PUBLISHED_SCHEMA}.{UNITS_TABLE}); "
                    "nothing was changed")
            conn.execute(
                f"insert into {SCOPES_TABLE} (login, unit_id, granted_by) values (%s, %s, %s) "
                "on conflict (login) do update set unit_id = excluded.unit_id, granted_at = now(), "
                "granted_by = excluded.granted_by", (name, unit, _operator()))
            return unit, before
        if all_units:
            conn.execute(f"delete from {SCOPES_TABLE} where login = %s", (name,))
            return None, before
        return before, before


def add_reader(name: str, url: str | None = None, *, unit: str | None = None,
               all_units: bool = False) -> ReaderLogin:
    """Create the BI login ``name`` (a member of cchc_reader) with a generated password, or rotate
    the password of that login when it exists. Returns how to connect.

    ``unit``: the login sees only that unit and its subtree in every ``kpi`` table with a unit
    (the unit must be in the current ``kpi.units``); ``all_units``: it sees every unit. Neither:
    a new login sees every unit and an existing one keeps its scope. The scope is recorded before
    the role is created or its password changed, so a login is never wider than asked, even for a
    moment; when the role cannot be managed from here (:class:`RoleError`), the scope stays
    recorded for the login the DBA creates.

    ``url`` is the pipeline's warehouse URL (default :func:`warehouse_url`); the login gets the
    same server and database. Raises :class:`RoleError` (with the DBA's SQL) when roles cannot be
    managed from here, and refuses a name that belongs to a role which is not a BI login.
    """
    _check_name(name)
    if unit is not None and all_units:
        raise WarehouseError("give either a unit (--unit) or every unit (--all-units), not both")
    if unit is not None and not str(unit).strip():
        raise WarehouseError("--unit needs a unit id (kpi.units.unit_id)")
    url = url or warehouse_url()
    with psycopg.connect(_manager_url(url)) as conn:  # refuse a foreign role before touching its scope
        state = _membership(conn, name)
        if state is not None and not all(state):
            raise WarehouseError(f"role {name} exists and is not a BI login (a plain LOGIN role whose "
                                 f"only membership is {READER_GROUP}): choose another name")
    with psycopg.connect(url) as conn:
        ensure_reader_group(conn)
        scope, scope_before = _set_scope(conn, name, unit.strip() if unit else None, all_units)
    try:
        login = _create_or_rotate(name, url)
    except RoleError:
        raise  # the DBA creates the login: its scope is already there
    except Exception:
        if state is None and scope_before is None and scope is not None:
            with psycopg.connect(url) as conn, conn.transaction():  # no login: no scope left behind
                conn.execute(f"delete from {SCOPES_TABLE} where login = %s", (name,))
        raise
    log.info("BI login %s sees %s", name, f"unit {scope} and its subtree" if scope else "every unit")
    return ReaderLogin(login.name, login.password, login.url, login.rotated, scope)


def _create_or_rotate(name: str, url: str) -> ReaderLogin:
    """The role part of :func:`add_reader`."""
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


def reader_scopes(conn: psycopg.Connection) -> dict[str, str]:
    """login → the unit whose subtree it sees (logins absent see every unit)."""
    if conn.execute("select to_regclass(%s)", (SCOPES_TABLE,)).fetchone()[0] is None:
        return {}
    return dict(conn.execute(f"select login, unit_id from {SCOPES_TABLE}").fetchall())


def list_readers(url: str | None = None) -> list[dict]:
    """The members of cchc_reader: name, can_login, valid_until, unit (None: every unit)."""
    with psycopg.connect(url or warehouse_url()) as conn:
        rows = conn.execute(
            "select r.rolname, r.rolcanlogin, r.rolvaliduntil from pg_auth_members m "
            "join pg_roles g on g.oid = m.roleid join pg_roles r on r.oid = m.member "
            "where g.rolname = %s order by r.rolname", (READER_GROUP,)).fetchall()
        scopes = reader_scopes(conn)
    return [{"name": n, "can_login": c, "valid_until": v, "unit": scopes.get(n)} for n, c, v in rows]


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
    with psycopg.connect(url) as conn, conn.transaction():  # after the role is gone, never before
        if conn.execute("select to_regclass(%s)", (SCOPES_TABLE,)).fetchone()[0] is not None:
            conn.execute(f"delete from {SCOPES_TABLE} where login = %s", (name,))
    log.info("dropped BI login %s", name)
    return True


def check_privileges(url: str, **kw) -> list[str]:
    """See :func:`cchc.warehouse.privileges.check_privileges` (re-exported here for callers)."""
    from cchc.warehouse.privileges import check_privileges as check

    return check(url, **kw)
