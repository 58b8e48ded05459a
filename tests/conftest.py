"""Shared fixtures: a real PostgreSQL (the embedded server, or CCHC_WAREHOUSE_URL's server).

Each test module that asks for ``warehouse_db`` gets a fresh database, dropped afterwards, so
tests never see each other's data nor the demo warehouse.
"""

from __future__ import annotations

import os
import shutil
import uuid

import pytest

from cchc.transform.dbt_runner import dbt_work_dir
from cchc.warehouse import create_database, drop_database, warehouse_url


@pytest.fixture(scope="session")
def server_url() -> str:
    return warehouse_url()


@pytest.fixture(scope="module")
def warehouse_db(server_url, monkeypatch_module):
    """URL of a fresh, empty database; CCHC_WAREHOUSE_URL points at it for the module."""
    name = f"cchc_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    url = create_database(server_url, name)
    monkeypatch_module.setenv("CCHC_WAREHOUSE_URL", url)
    yield url
    drop_database(server_url, name)
    shutil.rmtree(dbt_work_dir(url), ignore_errors=True)  # the dbt target of that database


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()
