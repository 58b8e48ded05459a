"""One published demo warehouse shared by the consumer tests (API, exports, bulletin, BI logins).

Built once per test run, whatever the number of pytest-xdist workers, through the real pipeline
(``cchc.pipeline.run_in_process``: land, batch gate, dbt build, publication gate, publish) over a
month and a half of simulated sources, into a template database; every module that asks for
``published_warehouse`` gets its own copy of it (``CREATE DATABASE ... TEMPLATE``, seconds), so
every consumer reads the same published ``kpi`` and no module can see what another one did to its
copy.

The first worker that needs the warehouse builds it while holding a file lock in the run's base
temporary folder (shared by the workers); the others wait on the lock and then only copy. The
template is dropped at the end of the run (``drop_published_template``, called by the
controller's ``pytest_sessionfinish`` in conftest.py).

What a copy must carry to behave as the freshly built database: its rows (the ledger, ``ops``,
``state`` and every published schema are inside the database), its database-level grants
(``CREATE DATABASE`` does not copy them: the publish step grants CONNECT to the reader group) and
the dbt work folder of the database (``dbt_work_dir`` is per database name: the manifest and
partial-parse state of the build).

Registered in conftest.py (importing it into a test module would make a fixture per module): a
test asks for ``published_warehouse`` by name.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from cchc_demo.simulator import SimulatorConfig, generate
from cchc.transform.dbt_runner import dbt_work_dir
from cchc.warehouse import create_database, drop_database, url_parts, with_database

START, END = dt.date(2025, 5, 1), dt.date(2025, 6, 15)
KEY = "consumer-tests-key-0123456789"
#: in the run's shared folder: what the builder wrote (the template's name and the publication)
BUILT = "published_warehouse.json"
LOCK = "published_warehouse.lock"

log = logging.getLogger(__name__)


def run_folder(tmp_path_factory) -> Path:
    """The folder all processes of this test run share: the controller's base temporary folder
    (an xdist worker's is a sub-folder of it), or the base folder itself without xdist."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextmanager
def locked(path: Path):
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_template(server_url: str, server_admin_url: str, folder: Path) -> dict:
    """Generate the sources and publish them into a new database; the description written to BUILT."""
    from cchc import pipeline

    name = f"cchc_published_tpl_{uuid.uuid4().hex[:10]}"
    create_database(server_admin_url, name, owner=url_parts(server_url)["user"])
    url = with_database(server_url, name)
    built = {"template": name, "url": url}
    (folder / f"{name}.template").write_text(json.dumps(built))  # dropped at the end, built or not
    root = folder / "published_sources"
    shutil.rmtree(root, ignore_errors=True)
    generate(root, SimulatorConfig(start=START, end=END, seed=11, dossiers_per_day=40, documents_per_day=15,
                                   bad_rate=0.02))
    bulletins = folder / "published_bulletin"
    bulletins.mkdir(exist_ok=True)
    mp = pytest.MonkeyPatch()
    mp.setenv("CCHC_WAREHOUSE_URL", url)
    mp.setenv("CCHC_PSEUDONYM_KEY", KEY)
    mp.setenv("CCHC_BULLETIN_DIR", str(bulletins))  # the run's own, not CCHC_HOME's
    try:
        out = pipeline.run_in_process(run_id=f"consumers-{uuid.uuid4().hex[:6]}", start=START.isoformat(),
                                      end=END.isoformat(), source={"source_dir": str(root)})
    finally:
        mp.undo()
    assert out["publication_id"], out
    built.update(publication_id=out["publication_id"], as_of_date=out["as_of_date"], bulletin=out.get("bulletin"))
    (folder / BUILT).write_text(json.dumps(built))
    return built


def copy_database(server_admin_url: str, template: str, name: str, owner: str) -> None:
    """``name`` as a copy of ``template`` (rows, schemas, owner) with the template's database-level
    grants, which CREATE DATABASE does not copy."""
    with psycopg.connect(with_database(server_admin_url, "postgres"), autocommit=True) as conn:
        # no session may be connected to a template while it is copied (the builder's are closed;
        # a leftover idle one of a pool is ended)
        conn.execute("select pg_terminate_backend(pid) from pg_stat_activity where datname = %s "
                     "and pid <> pg_backend_pid()", (template,))
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("create database {} template {} owner {}").format(
            sql.Identifier(name), sql.Identifier(template), sql.Identifier(owner)))
        grants = conn.execute(
            "select case when a.grantee = 0 then 'public' else pg_get_userbyid(a.grantee) end, a.privilege_type "
            "from pg_database d, aclexplode(d.datacl) a where d.datname = %s and a.grantee <> d.datdba",
            (template,)).fetchall()
        for grantee, privilege in grants:
            conn.execute(sql.SQL("grant {} on database {} to {}").format(
                sql.SQL(privilege), sql.Identifier(name),
                sql.SQL("public") if grantee == "public" else sql.Identifier(grantee)))
        revoked = conn.execute("select datacl is not null and not exists (select 1 from aclexplode(datacl) a "
                               "where a.grantee = 0 and a.privilege_type = 'CONNECT') "
                               "from pg_database where datname = %s", (template,)).fetchone()[0]
        if revoked:  # the template's PUBLIC lost CONNECT: so does the copy's
            conn.execute(sql.SQL("revoke connect, temporary on database {} from public").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def published_template(server_url, server_admin_url, tmp_path_factory) -> dict:
    """The built template's description, built by the first process of the run that asks."""
    folder = run_folder(tmp_path_factory)
    with locked(folder / LOCK):
        path = folder / BUILT
        if path.is_file():
            log.info("published warehouse already built in this run: %s", path)
            return json.loads(path.read_text())
        log.info("building the published warehouse of this run (%s)", path)
        return build_template(server_url, server_admin_url, folder)


@pytest.fixture(scope="module")
def published_warehouse(published_template, server_url, server_admin_url) -> dict:
    """{"url": the pipeline role's URL of this module's copy, "publication_id", "as_of_date",
    "start", "end", "bulletin": the HTML the publish step wrote} of a database holding one
    publication of the simulated province."""
    tpl = published_template
    name = f"cchc_published_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    copy_database(server_admin_url, tpl["template"], name, owner=url_parts(server_url)["user"])
    url = with_database(server_url, name)
    source_work, work = dbt_work_dir(tpl["url"]), dbt_work_dir(url)
    if source_work.is_dir():
        shutil.copytree(source_work, work, dirs_exist_ok=True)
    yield {"url": url, "publication_id": tpl["publication_id"], "as_of_date": tpl["as_of_date"],
           "start": START, "end": END, "bulletin": tpl["bulletin"]}
    drop_database(server_admin_url, name)
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(work.with_name(work.name + "-docs"), ignore_errors=True)


def drop_published_template(folder: Path, server_admin_url: str) -> None:
    """Drop the template databases this run created (built, or left by a build that failed) and
    their dbt folders: the end of the run."""
    for path in folder.glob("*.template"):
        built = json.loads(path.read_text())
        drop_database(server_admin_url, built["template"])
        shutil.rmtree(dbt_work_dir(built["url"]), ignore_errors=True)
        path.unlink()
