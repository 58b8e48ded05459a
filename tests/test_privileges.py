"""Least privilege, on real servers: passwords on the embedded server, a non-superuser pipeline
role that lands and builds, BI logins that read kpi and nothing else, and an external server set up
the way a province's DBA would (its own cluster, a non-superuser owner role), reached over TCP and
through a unix socket, with the privilege check naming the grant a DBA gives.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
import sqlalchemy

from cchc.paths import state_dir
from cchc_demo.simulator import SimulatorConfig, generate
from cchc.transform.dbt_runner import dbt_work_dir
from cchc.warehouse import redact_url, url_parts, with_database
from cchc.warehouse.embedded import EmbeddedPostgres, _ensure_searchable, find_bin_dir
from cchc.warehouse.privileges import PIPELINE_SCHEMAS, check_privileges
from cchc.warehouse.roles import READER_GROUP, ensure_reader_group

START, END = dt.date(2025, 6, 2), dt.date(2025, 6, 3)
KEY = b"privileges-test-key"
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cchc(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cchc.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=300)


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("priv_sources")
    generate(root, SimulatorConfig(start=START, end=END, seed=11, dossiers_per_day=15, documents_per_day=8))
    return root


def run_pipeline(url: str, sources: Path, days: list[dt.date], run_id: str, monkeypatch) -> dict:
    """The pipeline's steps in this process (plan with its privilege check, land, batch gate,
    dbt build, publication gate, publish), as the role of ``url``."""
    from cchc import pipeline

    monkeypatch.setenv("CCHC_WAREHOUSE_URL", url)
    monkeypatch.setenv("CCHC_PSEUDONYM_KEY", KEY.decode())
    return pipeline.run_in_process(run_id=run_id, start=days[0].isoformat(), end=days[-1].isoformat(),
                                   source={"source_dir": str(sources)})


def owned_by_others(url: str) -> list[tuple]:
    """Schemas of the pipeline, and relations in them, not owned by the connected role."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select n.nspname, c.relname from pg_namespace n left join pg_class c on c.relnamespace = n.oid "
            "where n.nspname = any(%s) and (n.nspowner <> current_user::regrole "
            "or c.relowner <> current_user::regrole)", (list(PIPELINE_SCHEMAS),)).fetchall()


# -- (a), (b): the embedded server --------------------------------------------------------------
def test_the_embedded_server_refuses_a_missing_or_wrong_password(server_url):
    p = url_parts(server_url)
    assert p["password"]
    base = f"127.0.0.1:{p['port']}/{p['dbname']}"
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        psycopg.connect(f"postgresql://{p['user']}@{base}").close()
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(f"postgresql://{p['user']}:not-the-password@{base}").close()
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(f"postgresql://cchc_admin:not-the-password@{base}").close()
    assert "***" in redact_url(server_url) and p["password"] not in redact_url(server_url)


@pytest.fixture(scope="module")
def built(warehouse_db, sources, monkeypatch_module) -> str:
    run_pipeline(warehouse_db, sources, [START, END], "test-privileges", monkeypatch_module)
    return warehouse_db


def test_the_pipeline_role_is_no_superuser_and_lands_and_builds_as_owner(built):
    with psycopg.connect(built) as conn:
        assert conn.execute("select rolsuper, rolcreaterole from pg_roles "
                            "where rolname = current_user").fetchone() == (False, False)
        assert conn.execute("select count(*) from marts.fct_dossiers").fetchone()[0] > 0
        assert conn.execute("select count(*) from kpi.tthc_report").fetchone()[0] > 0
    assert owned_by_others(built) == []
    assert check_privileges(built, airflow=False) == []


# -- (c): BI logins -----------------------------------------------------------------------------
def test_a_bi_login_reads_kpi_and_nothing_else(built):
    with psycopg.connect(built) as conn:
        ensure_reader_group(conn)  # as publish does
        conn.execute("create table kpi.before_login as select 1 as n")
        marts_table = conn.execute("select table_name from information_schema.tables "
                                   "where table_schema = 'marts' order by 1 limit 1").fetchone()[0]
    env = {"CCHC_WAREHOUSE_URL": built}
    try:
        res = cchc("readers", "add", "bi_test", **env)
        assert res.returncode == 0, res.stderr
        assert "created" in res.stdout
        url = next(line.split("URL:", 1)[1].strip() for line in res.stdout.splitlines() if "URL:" in line)
        assert url_parts(url)["user"] == "bi_test" and url_parts(url)["dbname"] == url_parts(built)["dbname"]
        assert "psql 'postgresql://bi_test:" in res.stdout
        with psycopg.connect(built) as conn:  # created by the pipeline after the login: default privileges
            conn.execute("create view kpi.after_login as select n + 1 as n from kpi.before_login")
        with psycopg.connect(url, autocommit=True) as conn:
            assert conn.execute("select count(*) from kpi.tthc_report").fetchone()[0] > 0  # published
            assert conn.execute("select n from kpi.before_login").fetchone() == (1,)
            assert conn.execute("select n from kpi.after_login").fetchone() == (2,)
            for forbidden in ("select * from raw.load_batches", "select * from ops.dbt_run_results",
                              f"select * from marts.{marts_table}", "select * from state.onestop__dossiers",
                              "create table kpi.mine (x int)", "create view kpi.mine as select 1",
                              "create table public.mine (x int)", "create schema mine",
                              "insert into kpi.before_login values (3)", "drop table kpi.before_login"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(forbidden)
        again = cchc("readers", "add", "bi_test", **env)
        assert again.returncode == 0 and "rotated" in again.stdout, again.stderr
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(url).close()
        assert "bi_test" in cchc("readers", "list", **env).stdout.split()
        refused = cchc("readers", "add", "cchc", **env)
        assert refused.returncode != 0 and "not a usable login name" in refused.stderr
    finally:
        gone = cchc("readers", "remove", "bi_test", **env)
    assert gone.returncode == 0 and "dropped" in gone.stdout, gone.stderr
    assert "bi_test" not in cchc("readers", "list", **env).stdout.split()


# -- (d): an external server, as a province's DBA would set it up -------------------------------
class Cluster:
    """A second PostgreSQL cluster from the same binaries: scram-sha-256 on 127.0.0.1 and a socket."""

    def __init__(self, root: Path):
        self.root, self.port = root, free_port()
        self.data, self.sockets = root / "data", root / "sock"
        self.dba_password = uuid.uuid4().hex
        self._pg = EmbeddedPostgres(root=root, port=self.port)  # only its run-as-non-root helpers
        self.user = self._pg._run_as()
        self.bin = find_bin_dir()

    def start(self) -> None:
        self.sockets.mkdir(parents=True)
        self.data.mkdir()
        pwfile = self.root / "pw"
        pwfile.write_text(self.dba_password + "\n")
        if self.user is not None:
            _ensure_searchable(self.root)
            _ensure_searchable(self.bin)
            for p in (self.root, self.data, self.sockets, pwfile):
                os.chown(p, self.user.pw_uid, self.user.pw_gid)
        res = self._pg._cmd([str(self.bin / "initdb"), "-D", str(self.data), "-U", "dba", "--no-locale",
                             "--auth=scram-sha-256", f"--pwfile={pwfile}", "--encoding=UTF8"], self.user)
        assert res.returncode == 0, res.stderr
        pwfile.unlink()
        opts = (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.sockets} "
                "-c synchronous_commit=off")
        res = self._pg._cmd([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"),
                             "-o", opts, "-w", "start"], self.user)
        assert res.returncode == 0, res.stderr

    def stop(self) -> None:
        self._pg._cmd([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"],
                      self.user)

    def tcp(self, user: str, password: str, db: str) -> str:
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{db}"

    def socket(self, user: str, password: str, db: str) -> str:
        return f"postgresql://{user}:{password}@/{db}?host={self.sockets}&port={self.port}"

    def dba(self, sqls: list[str], db: str = "postgres") -> None:
        with psycopg.connect(self.tcp("dba", self.dba_password, db), autocommit=True) as conn:
            for s in sqls:
                conn.execute(s)


@pytest.fixture(scope="module")
def province():
    root = state_dir() / "test-pg" / f"prov-{uuid.uuid4().hex[:6]}"
    root.mkdir(parents=True)
    cluster = Cluster(root)
    cluster.start()
    # what the README asks of the DBA: an owner role without superuser, CREATEDB or CREATEROLE
    cluster.dba(["create role etl_owner login password 'etl-pw'",
                 "create database warehouse",
                 "grant create, temporary on database warehouse to etl_owner",
                 "create database airflow owner etl_owner",
                 f"create role {READER_GROUP} nologin",
                 "create role weak login password 'weak-pw'"])
    yield cluster
    cluster.stop()
    shutil.rmtree(dbt_work_dir(cluster.tcp("etl_owner", "x", "warehouse")), ignore_errors=True)
    shutil.rmtree(root, ignore_errors=True)


def test_an_external_server_over_tcp_then_through_its_socket(province, sources, monkeypatch):
    tcp = province.tcp("etl_owner", "etl-pw", "warehouse")
    sock = province.socket("etl_owner", "etl-pw", "warehouse")
    assert url_parts(sock)["host"] == str(province.sockets)
    for url in (tcp, sock):
        assert check_privileges(url) == [], url

    first = run_pipeline(tcp, sources, [START], "prov-tcp", monkeypatch)
    second = run_pipeline(sock, sources, [END], "prov-socket", monkeypatch)
    assert first["rows_published"] > 0 and second["rows_published"] > 0
    assert owned_by_others(tcp) == []
    with psycopg.connect(sock) as conn:
        assert conn.execute("select count(distinct source_day) from raw.load_batches").fetchone() == (2,)
        assert conn.execute("select inet_server_addr()").fetchone() == (None,)  # it was the socket
    # the second run's gates went through GX and SQLAlchemy on the socket; so does Airflow's metadata URL
    from cchc.orchestration import metadata_db_url

    engine = sqlalchemy.create_engine(metadata_db_url())
    try:
        with engine.connect() as c:
            assert c.execute(sqlalchemy.text("select current_database(), current_user")).one() == (
                "airflow", "etl_owner")
    finally:
        engine.dispose()
    # the pipeline role may not create login roles there: the command says what the DBA runs
    res = cchc("readers", "add", "bi_ext", CCHC_WAREHOUSE_URL=tcp)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "CREATE ROLE bi_ext LOGIN" in res.stderr and f"GRANT {READER_GROUP} TO bi_ext" in res.stderr


def test_the_privilege_check_names_the_grants_to_give(province):
    weak = province.tcp("weak", "weak-pw", "warehouse")
    problems = check_privileges(weak)
    assert "role weak cannot create schemas in database warehouse: GRANT CREATE ON DATABASE warehouse TO weak" \
        in problems
    assert any(p.startswith("role weak cannot create Airflow's tables in database airflow") for p in problems)
    missing = check_privileges(weak, airflow_url=with_database(weak, "no_such_db"))
    assert any(p.startswith(f"the Airflow metadata database 'no_such_db' does not exist on 127.0.0.1:{province.port}: "
                            "CREATE DATABASE no_such_db OWNER weak") for p in missing)
    nobody = check_privileges(f"postgresql://etl_owner:x@127.0.0.1:{free_port()}/warehouse")
    assert len(nobody) == 1 and "connection refused" in nobody[0]
    wrong = check_privileges(province.tcp("etl_owner", "wrong", "warehouse"))
    assert len(wrong) == 1 and "refused role etl_owner's password" in wrong[0]
    dba = province.tcp("dba", province.dba_password, "warehouse")
    assert check_privileges(dba) == []  # a superuser works: a warning ...
    assert any("is a superuser" in p for p in check_privileges(dba, strict=True))  # ... or, strict, a problem
