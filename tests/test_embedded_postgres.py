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
from cchc.warehouse.embedded import EmbeddedPostgres, EmbeddedPostgresError, find_bin_dir


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
