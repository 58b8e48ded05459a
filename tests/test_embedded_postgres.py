"""The embedded PostgreSQL: started on demand, reused while running, clear errors otherwise.

Each test uses its own data folder under the project's state dir (it must be reachable by the
server's system user when the tests run as root) and its own free port.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import tempfile
import uuid
from pathlib import Path

import psycopg
import pytest

from cchc.paths import state_dir
from cchc.warehouse.connection import with_database
from cchc.warehouse.embedded import (
    ADMIN_ROLE,
    PIPELINE_ROLE,
    EmbeddedPostgres,
    EmbeddedPostgresError,
    find_bin_dir,
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def root():
    path = state_dir() / "test-pg" / uuid.uuid4().hex[:8]
    yield path
    server = EmbeddedPostgres(root=path)
    if server.running_port():
        server.stop()
    shutil.rmtree(path, ignore_errors=True)


def test_starts_on_demand_then_reuses_the_running_server(root):
    port = free_port()
    server = EmbeddedPostgres(root=root, port=port)
    url = server.ensure_running()
    assert url.endswith(f":{port}/cchc")
    with psycopg.connect(url) as conn:
        dbs = {r[0] for r in conn.execute("select datname from pg_database")}
    assert {"cchc", "airflow"} <= dbs
    pid = (root / "data" / "postmaster.pid").read_text().split()[0]
    # a second handle with another port setting finds the running server and reuses it
    again = EmbeddedPostgres(root=root, port=free_port()).ensure_running()
    assert again == url
    assert (root / "data" / "postmaster.pid").read_text().split()[0] == pid
    assert server.stop() is True and server.running_port() is None
    assert server.stop() is False
    # and starts again over the same folder, data kept
    assert EmbeddedPostgres(root=root, port=port).ensure_running() == url


def test_a_folder_that_is_not_a_data_folder_is_refused_with_a_clear_message(root):
    (root / "data").mkdir(parents=True)
    (root / "data" / "something").write_text("not postgres")
    with pytest.raises(EmbeddedPostgresError, match="not a PostgreSQL data folder"):
        EmbeddedPostgres(root=root, port=free_port()).ensure_running()


def test_a_taken_port_is_reported_with_what_to_do(root):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        with pytest.raises(EmbeddedPostgresError, match="CCHC_PG_PORT"):
            EmbeddedPostgres(root=root, port=port).ensure_running()


def test_a_wrong_binaries_folder_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("CCHC_PG_BIN", str(tmp_path))
    with pytest.raises(EmbeddedPostgresError, match="CCHC_PG_BIN"):
        find_bin_dir()
    monkeypatch.delenv("CCHC_PG_BIN")
    assert (find_bin_dir() / "pg_ctl").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the server to a system user")
def test_under_root_a_private_parent_folder_is_made_searchable(tmp_path_factory):
    private = Path(tempfile.mkdtemp(prefix="cchc-private-"))  # mode 700, like `mktemp -d`
    assert stat.S_IMODE(private.stat().st_mode) == 0o700
    root = private / "state" / "pg"
    server = EmbeddedPostgres(root=root, port=free_port())
    try:
        url = server.ensure_running()
        with psycopg.connect(url) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
        assert private.stat().st_mode & stat.S_IXOTH
    finally:
        server.stop()
        shutil.rmtree(private, ignore_errors=True)


# -- password authentication ---------------------------------------------------------------------
def test_connections_need_the_password_and_the_pipeline_role_is_not_a_superuser(root):
    server = EmbeddedPostgres(root=root, port=free_port())
    url = server.ensure_running()
    for secret in (server.secret_file(ADMIN_ROLE), server.secret_file(PIPELINE_ROLE)):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert server.password(ADMIN_ROLE) != server.password(PIPELINE_ROLE)
    for role in (PIPELINE_ROLE, ADMIN_ROLE):
        for bad in (f"postgresql://{role}@127.0.0.1:{server.port}/postgres",
                    f"postgresql://{role}:wrong@127.0.0.1:{server.port}/postgres",
                    f"postgresql://{role}@/postgres?host={server.socket_dir}&port={server.port}"):
            with pytest.raises(psycopg.OperationalError, match="password"):
                psycopg.connect(bad).close()
    with psycopg.connect(url) as conn:
        assert conn.execute("select current_user, rolsuper, rolcreaterole from pg_roles "
                            "where rolname = current_user").fetchone() == (PIPELINE_ROLE, False, False)
        owners = dict(conn.execute("select datname, pg_get_userbyid(datdba) from pg_database"))
    assert owners["cchc"] == owners["airflow"] == PIPELINE_ROLE
    with psycopg.connect(server.socket_url()) as conn:  # the unix socket, with the password
        assert conn.execute("select current_user").fetchone() == (PIPELINE_ROLE,)
    with psycopg.connect(server.admin_url()) as conn:  # PUBLIC may not connect to the databases
        open_to_all = {r[0] for r in conn.execute(
            "select datname from pg_database, aclexplode(datacl) a "
            "where a.grantee = 0 and a.privilege_type = 'CONNECT'")}
    assert not open_to_all & {"cchc", "airflow", "postgres"}


def _legacy_folder(root: Path, port: int) -> EmbeddedPostgres:
    """A data folder as the previous version made it: bootstrap superuser ``cchc``, trust auth,
    databases cchc and airflow owned by it, with data; left running."""
    server = EmbeddedPostgres(root=root, port=port)
    user = server._run_as()
    bin_dir = find_bin_dir()
    server.data_dir.mkdir(parents=True)
    if user is not None:
        for p in (root, server.data_dir):
            os.chown(p, user.pw_uid, user.pw_gid)
    res = server._cmd([str(bin_dir / "initdb"), "-D", str(server.data_dir), "-U", "cchc", "--auth=trust",
                       "--encoding=UTF8", "--no-locale"], user)
    assert res.returncode == 0, res.stderr
    server._start(bin_dir, user)
    legacy = f"postgresql://cchc@127.0.0.1:{port}"
    with psycopg.connect(f"{legacy}/postgres", autocommit=True) as conn:
        conn.execute("create database cchc")
        conn.execute("create database airflow")
        conn.execute("create role cchc_reader nologin")
    with psycopg.connect(f"{legacy}/cchc") as conn:
        conn.execute("create schema raw; create table raw.t (id serial primary key, v text)")
        conn.execute("insert into raw.t (v) values ('kept'), ('also kept')")
        conn.execute("create schema kpi; create view kpi.v as select v from raw.t")
        conn.execute("create type raw.mood as enum ('ok'); create domain raw.pos as int check (value > 0)")
        conn.execute("create function raw.f() returns int language sql as 'select 1'")
        conn.execute("create table public.p (x int)")
    with psycopg.connect(f"{legacy}/airflow") as conn:
        conn.execute("create table alembic_version (version_num text)")
    return server


@pytest.mark.parametrize("running", [True, False], ids=["server-running", "server-stopped"])
def test_a_trust_folder_of_the_previous_version_is_migrated_keeping_its_data(root, running):
    port = free_port()
    old = _legacy_folder(root, port)
    if not running:
        old.stop()
    server = EmbeddedPostgres(root=root, port=port)
    url = server.ensure_running()
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(f"postgresql://cchc@127.0.0.1:{port}/cchc").close()
    with psycopg.connect(url) as conn:
        assert conn.execute("select rolsuper from pg_roles where rolname = current_user").fetchone() == (False,)
        assert conn.execute("select v from kpi.v order by 1").fetchall() == [("also kept",), ("kept",)]
        not_mine = conn.execute(
            "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname in ('raw', 'kpi', 'public') and c.relowner <> (select oid from pg_roles "
            "where rolname = current_user)").fetchall()
        assert not_mine == []
        # the pipeline can do what it did before: write, alter and drop its objects
        conn.execute("insert into raw.t (v) values ('new')")
        conn.execute("alter table raw.t add column w raw.pos")
        conn.execute("drop view kpi.v; drop function raw.f(); drop type raw.mood; drop table public.p")
    with psycopg.connect(with_database(url, "airflow")) as conn:
        conn.execute("drop table alembic_version")
    with psycopg.connect(server.admin_url()) as conn:
        assert conn.execute("select rolname, rolsuper from pg_roles where oid = 10").fetchone() == (ADMIN_ROLE, True)
        assert conn.execute("select count(*) from pg_roles where rolname = 'cchc_migrate'").fetchone() == (0,)
    # a second start changes nothing
    server.stop()
    assert EmbeddedPostgres(root=root, port=port).ensure_running() == url
