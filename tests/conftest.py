"""Shared fixtures: a real PostgreSQL (the embedded server, or CCHC_WAREHOUSE_URL's server).

Each test module that asks for ``warehouse_db`` gets a fresh database, dropped afterwards, so
tests never see each other's data nor the demo warehouse. The database is created through an
administrator URL (the embedded server's superuser; for an external server CCHC_TEST_ADMIN_URL,
else the warehouse role itself, which then needs CREATEDB) and is owned by the pipeline's role,
a non-superuser: the tests run the pipeline as it runs in production.

The suite runs in parallel workers (pytest-xdist, `make test`, ``--dist loadfile``): each test module
stays on one worker (its module-scoped warehouse is built once), the modules are handed out longest
first, the shared published warehouse is built once per run (by the first worker that needs it;
each module reads its own copy, see published_fixture.py), and each worker has its own Airflow
metadata database.
"""

from __future__ import annotations

import os
import shutil
import uuid

import psycopg
import pytest

from cchc.transform.dbt_runner import dbt_work_dir
from cchc.warehouse import admin_url, create_database, drop_database, url_parts, warehouse_url, with_database
from published_fixture import drop_published_template, published_template, published_warehouse  # noqa: F401


@pytest.fixture(scope="session")
def server_url() -> str:
    """The pipeline role's URL of the server (not a superuser on the embedded server)."""
    return warehouse_url()


def admin_url_for_tests() -> str:
    """A URL that may create and drop databases on the tests' server."""
    if os.environ.get("CCHC_WAREHOUSE_URL"):
        return os.environ.get("CCHC_TEST_ADMIN_URL") or warehouse_url()
    return admin_url()


@pytest.fixture(scope="session")
def server_admin_url(server_url) -> str:
    """A URL that may create and drop databases on that server."""
    return admin_url_for_tests()


def pytest_sessionfinish(session) -> None:
    """The end of the run (the controller, after every xdist worker): drop the shared published
    warehouse's template (published_fixture.py), if this run built one."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None or factory._basetemp is None:  # no temporary folder: nothing was built
        return
    if any(factory.getbasetemp().glob("*.template")):
        drop_published_template(factory.getbasetemp(), admin_url_for_tests())


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


# Seconds a module takes on the 2-core CI machine in a `make test` run (setup + calls, from
# ``--durations``), for the order only: the modules are handed out longest first, so the two
# workers end together instead of one running a long module alone at the end. A module not
# listed counts as ``DEFAULT_MODULE_SECONDS``, after the listed ones; the "slow" marker still puts
# a slow module that is missing here before every fast one.
MODULE_SECONDS = {
    "test_faults.py": 520, "test_reliability.py": 420, "test_incremental_build.py": 300,
    "test_pipeline_e2e.py": 280, "test_bench_smoke.py": 240, "test_incremental_months.py": 170,
    "test_privileges.py": 130, "test_scheduler.py": 130, "test_dbt_run_params.py": 90, "test_rule_macros.py": 70,
    "test_indicators_simulated.py": 80, "test_rejects_no_pii.py": 80, "test_indicators_targets.py": 70,
    "test_feedback_pipeline.py": 60, "test_reorganisation_demo.py": 60, "test_due_date_audit_simulated.py": 50,
    "test_api.py": 50, "test_gate_queries.py": 40,
}
DEFAULT_MODULE_SECONDS = 10


def module_seconds(item) -> float:
    known = MODULE_SECONDS.get(item.path.name)
    if known is not None:
        return known
    return DEFAULT_MODULE_SECONDS * (3 if item.get_closest_marker("slow") else 1)


def pytest_collection_modifyitems(items) -> None:
    """Longest modules first (``MODULE_SECONDS``), each module's tests together and in their order:
    with ``--dist loadfile`` (a module's tests on one worker) the scheduler below hands the
    modules out in this order, and the short ones fill in at the end."""
    first = {}
    for n, item in enumerate(items):
        first.setdefault(item.path, n)
    items.sort(key=lambda item: (-module_seconds(item), first[item.path]))  # stable within a module


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadfile`` in the collection's order (pytest-xdist would reorder the modules by
    their number of tests, which puts a long module of two tests last), and a worker is given its
    next module only when its current one is down to its last test (xdist's default is two, which
    takes a second long module early when the first has few tests)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class LongestFirst(LoadFileScheduling):
        def _reschedule(self, node) -> None:
            if node.shutting_down:
                return
            if not self.workqueue:
                node.shutdown()
                return
            if self._pending_of(self.assigned_work[node]) > 1:
                return
            self._assign_work_unit(node)

    config.option.loadscopereorder = False
    return LongestFirst(config, log)


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
