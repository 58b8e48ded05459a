"""Can the pipeline's role do its work on a server? Checked up front, answered with the fix.

:func:`check_privileges` connects as the pipeline would and returns one line per problem, each
saying what is wrong and the SQL (or setting) that fixes it, so that a province's DBA gets a list
to act on instead of a traceback at 02:00. It asks only what the pipeline needs:

* connect to its database and to Airflow's metadata database (``airflow``, or CCHC_AIRFLOW_DB_URL);
* create schemas in its database (it creates raw, state, stg, int, marts, ref, kpi_build, kpi, ops
  and a kpi_pub_<n> schema per publication) and temporary tables;
* own the schemas and tables of those names that already exist (dbt replaces its tables);
* create tables in Airflow's database (``airflow db migrate``);
* the group role cchc_reader exists, or the role may create it.

A superuser role works but is not least privilege: a warning (logged; a problem with
``strict=True``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import psycopg

from cchc.constants import PUBLICATION_SCHEMA_PREFIX
from cchc.settings import airflow_db_url_override
from cchc.warehouse.connection import redact_url, url_parts, with_database
from cchc.warehouse.roles import READER_GROUP

log = logging.getLogger(__name__)

#: the schemas the pipeline creates and owns in its database (dbt's target schema "build" and its
#: test-failure schema "audit" too)
PIPELINE_SCHEMAS = ("raw", "state", "stg", "int", "marts", "ref", "kpi_build", "kpi", "ops", "audit",
                    "build")
PUBLICATION_SCHEMA_PATTERN = PUBLICATION_SCHEMA_PREFIX + "%"
AIRFLOW_DATABASE = "airflow"


@dataclass
class PrivilegeReport:
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def check_privileges(url: str, *, airflow: bool = True, airflow_url: str | None = None,
                     strict: bool = False) -> list[str]:
    """Problems that would stop the pipeline on the server of ``url`` (empty: none found).

    ``airflow_url`` is Airflow's metadata database (default CCHC_AIRFLOW_DB_URL, else database
    ``airflow`` next to ``url``); ``airflow=False`` skips it. Warnings are logged; ``strict``
    makes them problems.
    """
    report = inspect_privileges(url, airflow=airflow, airflow_url=airflow_url)
    for w in report.warnings:
        log.warning("%s", w)
    return report.problems + (report.warnings if strict else [])


def inspect_privileges(url: str, *, airflow: bool = True, airflow_url: str | None = None) -> PrivilegeReport:
    report = PrivilegeReport()
    parts = url_parts(url)
    user, db = parts["user"], parts["dbname"]
    try:
        conn = psycopg.connect(url, connect_timeout=10, autocommit=True)
    except psycopg.OperationalError as exc:
        report.problems.append(_connection_problem(exc, parts, "the warehouse database"))
        return report
    with conn:
        su, createrole = conn.execute(
            "select rolsuper, rolcreaterole from pg_roles where rolname = current_user").fetchone()
        if su:
            report.warnings.append(
                f"role {user} is a superuser: the pipeline works, but use a non-superuser owner role "
                f"(see README, External PostgreSQL); a superuser bypasses every privilege check")
        create, temp = conn.execute(
            "select has_database_privilege(current_database(), 'CREATE'), "
            "has_database_privilege(current_database(), 'TEMPORARY')").fetchone()
        if not create:
            report.problems.append(f"role {user} cannot create schemas in database {db}: "
                                   f"GRANT CREATE ON DATABASE {db} TO {user}")
        if not temp:
            report.problems.append(f"role {user} cannot create temporary tables in database {db}: "
                                   f"GRANT TEMPORARY ON DATABASE {db} TO {user}")
        for schema, owner in conn.execute(
                "select nspname, pg_get_userbyid(nspowner) from pg_namespace "
                "where (nspname = any(%s) or nspname like %s) "
                "and not pg_has_role(current_user, nspowner, 'USAGE') order by 1",
                (list(PIPELINE_SCHEMAS), PUBLICATION_SCHEMA_PATTERN)).fetchall():
            report.problems.append(f"schema {schema} in database {db} is owned by {owner}, not {user}: "
                                   f"ALTER SCHEMA {schema} OWNER TO {user}")
        foreign = conn.execute(
            "select pg_get_userbyid(c.relowner), count(*), min(n.nspname || '.' || c.relname) "
            "from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where (n.nspname = any(%s) or n.nspname like %s) and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f') "
            "and not pg_has_role(current_user, c.relowner, 'USAGE') group by 1 order by 1",
            (list(PIPELINE_SCHEMAS), PUBLICATION_SCHEMA_PATTERN)).fetchall()
        for owner, count, example in foreign:
            report.problems.append(
                f"{count} table(s) or view(s) in the pipeline's schemas of database {db} are owned by "
                f"{owner}, not {user} (e.g. {example}): REASSIGN OWNED BY {owner} TO {user} (in database "
                f"{db}, if {owner} owns nothing else there), or ALTER TABLE ... OWNER TO {user}")
        group = conn.execute("select 1 from pg_roles where rolname = %s", (READER_GROUP,)).fetchone()
        if not group and not (su or createrole):
            report.problems.append(f"the group role {READER_GROUP} (read access to schema kpi) does not exist "
                                   f"and role {user} may not create roles: CREATE ROLE {READER_GROUP} NOLOGIN")
    if airflow:
        _check_airflow(report, airflow_url or airflow_db_url_override()
                       or with_database(url, AIRFLOW_DATABASE))
    return report


def check_airflow_privileges(url: str) -> list[str]:
    """Problems with Airflow's metadata database at ``url`` alone (before ``airflow db migrate``)."""
    report = PrivilegeReport()
    _check_airflow(report, url)
    return report.problems


def _check_airflow(report: PrivilegeReport, url: str) -> None:
    parts = url_parts(url)
    user, db = parts["user"], parts["dbname"]
    try:
        conn = psycopg.connect(url, connect_timeout=10, autocommit=True)
    except psycopg.OperationalError as exc:
        report.problems.append(_connection_problem(exc, parts, "the Airflow metadata database"))
        return
    with conn:
        can_create = conn.execute("select has_schema_privilege('public', 'CREATE')").fetchone()[0]
        if not can_create:
            report.problems.append(
                f"role {user} cannot create Airflow's tables in database {db} (schema public): "
                f"ALTER DATABASE {db} OWNER TO {user}, or GRANT CREATE ON SCHEMA public TO {user} in {db}")
        foreign = conn.execute(
            "select pg_get_userbyid(c.relowner), count(*) from pg_class c "
            "join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public' "
            "and c.relkind in ('r', 'p', 'v', 'm', 'S') and not pg_has_role(current_user, c.relowner, 'USAGE') "
            "group by 1 order by 1").fetchall()
        for owner, count in foreign:
            report.problems.append(
                f"{count} table(s) of database {db} (Airflow's metadata) are owned by {owner}, not {user}: "
                f"airflow db migrate cannot alter them; REASSIGN OWNED BY {owner} TO {user} in {db}")


def _where(parts: dict[str, str]) -> str:
    host, port = parts["host"], parts["port"]
    return f"socket {host} (port {port})" if host.startswith("/") else f"{host}:{port}"


def _connection_problem(exc: psycopg.OperationalError, parts: dict[str, str], what: str) -> str:
    text = str(exc).strip()
    low = text.lower()
    user, db, where = parts["user"], parts["dbname"], _where(parts)
    if "does not exist" in low and "database" in low:
        if what.startswith("the Airflow"):
            return (f"the Airflow metadata database '{db}' does not exist on {where}: "
                    f"CREATE DATABASE {db} OWNER {user} (or set CCHC_AIRFLOW_DB_URL to another one)")
        return f"the database {db} does not exist on {where}: CREATE DATABASE {db} OWNER {user}"
    if "role" in low and "does not exist" in low:
        return f"the role {user} does not exist on {where}: CREATE ROLE {user} LOGIN PASSWORD '...'"
    if "password authentication failed" in low or "no password supplied" in low:
        return (f"{where} refused role {user}'s password for {what} ({db}): fix the password in the URL "
                f"(or ALTER ROLE {user} PASSWORD '...')")
    if "permission denied for database" in low or "not permitted to log in" in low:
        return (f"role {user} may not connect to database {db} on {where}: GRANT CONNECT ON DATABASE {db} "
                f"TO {user} (and ALTER ROLE {user} LOGIN)")
    if "no pg_hba.conf entry" in low:
        return (f"{where} has no pg_hba.conf entry letting role {user} connect to {db} from this host: the "
                f"DBA adds one (e.g. 'hostssl {db} {user} <this host>/32 scram-sha-256') and reloads")
    if "connection refused" in low or "no such file or directory" in low:
        return (f"no PostgreSQL server answers at {where} (connection refused) for {what}: start it, or fix "
                f"the host and port of the URL {redact_url(_url_of(parts))}")
    first = text.splitlines()[-1] if text else type(exc).__name__
    return f"cannot connect to {what} ({db} on {where} as {user}): {first}"


def _url_of(parts: dict[str, str]) -> str:
    if parts["host"].startswith("/"):
        return f"postgresql://{parts['user']}@/{parts['dbname']}?host={parts['host']}&port={parts['port']}"
    return f"postgresql://{parts['user']}@{parts['host']}:{parts['port']}/{parts['dbname']}"
