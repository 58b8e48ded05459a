"""Shared fixtures: a real PostgreSQL (the embedded server, or CCHC_WAREHOUSE_URL's server).

Each test module that asks for ``warehouse_db`` gets a fresh database, dropped afterwards, so
tests never see each other's data nor the demo warehouse. The database is created through an
administrator URL (the embedded server's superuser; for an external server CCHC_TEST_ADMIN_URL,
else the warehouse role itself, which then needs CREATEDB) and is owned by the pipeline's role,
a non-superuser: the tests run the pipeline as it runs in production.

The suite runs in parallel workers (pytest-xdist, `make test`, ``--dist loadfile``): each test module
stays on one worker (its module-scoped warehouse is built once), the shared published warehouse is
built once per worker that needs it, and each worker has its own Airflow metadata database.
"""

from __future__ import annotations

import os
import shutil
import uuid

import psycopg
import pytest

from cchc.transform.dbt_runner import dbt_work_dir
from cchc.warehouse import admin_url, create_database, drop_database, url_parts, warehouse_url, with_database
from published_fixture import published_warehouse  # noqa: F401  (registered here: built once per session)


@pytest.fixture(scope="session")
def server_url() -> str:
    """The pipeline role's URL of the server (not a superuser on the embedded server)."""
    return warehouse_url()


@pytest.fixture(scope="session")
def server_admin_url(server_url) -> str:
    """A URL that may create and drop databases on that server."""
    if os.environ.get("CCHC_WAREHOUSE_URL"):
        return os.environ.get("CCHC_TEST_ADMIN_URL") or server_url
    return admin_url()


@pytest.fixture(scope="module")
def warehouse_db(server_url, server_admin_url, monkeypatch_module):
    """URL of a fresh, empty database owned by the pipeline role; CCHC_WAREHOUSE_URL points at it
    for the module."""
    name = f"cchc_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    create_database(server_admin_url, name, owner=url_parts(server_url)["user"])
    url = with_database(server_url, name)
    monkeypatch_module.setenv("CCHC_WAREHOUSE_URL", url)
    yield url
    drop_database(server_admin_url, name)
    shutil.rmtree(dbt_work_dir(url), ignore_errors=True)  # the dbt target of that database


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def pytest_collection_modifyitems(items) -> None:
    """Run the slow modules first: the workers (``--dist loadfile``: a module's tests on one
    worker) then share out the short ones."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: modules stay whole


def worker_suffix() -> str:
    """"" without xdist, "_gw0", "_gw1", ... in its workers."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return f"_{worker}" if worker else ""


AIRFLOW_TEST_DB = "cchc_test_airflow" + worker_suffix()


@pytest.fixture(scope="session")
def airflow_db_url(server_url, server_admin_url) -> str:
    """The pipeline role's URL of an Airflow metadata database shared by the tests that run Airflow,
    owned by that role (as the embedded server's ``airflow`` is). Pass it as CCHC_AIRFLOW_DB_URL:
    a database migrated by another role (the admin URL) would lock the pipeline role out of it."""
    owner = url_parts(server_url)["user"]
    with psycopg.connect(with_database(server_admin_url, "postgres"), autocommit=True) as conn:
        row = conn.execute("select pg_get_userbyid(datdba) from pg_database where datname = %s",
                           (AIRFLOW_TEST_DB,)).fetchone()
        if row and row[0] != owner:  # left by a run that migrated it as another role
            drop_database(server_admin_url, AIRFLOW_TEST_DB)
            row = None
        if not row:
            create_database(server_admin_url, AIRFLOW_TEST_DB, owner=owner)
    return with_database(server_url, AIRFLOW_TEST_DB)


@pytest.fixture(scope="module")
def cchc_env(warehouse_db, airflow_db_url, tmp_path_factory) -> dict:
    """The environment of a `cchc` command run by a test: this module's database, its own
    CCHC_HOME, the tests' Airflow metadata database and a test pseudonymisation key."""
    return {**os.environ, "CCHC_WAREHOUSE_URL": warehouse_db,
            "CCHC_HOME": str(tmp_path_factory.mktemp("cchc_home")),
            "CCHC_AIRFLOW_DB_URL": airflow_db_url, "CCHC_PSEUDONYM_KEY": "test-key-not-secret-0123456789"}
