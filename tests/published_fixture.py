"""One published demo warehouse shared by the consumer tests (API, exports, bulletin, BI logins).

Built once per test session (once per xdist worker that needs it) through the real pipeline
(``cchc.pipeline.run_in_process``: land, batch gate, dbt build, publication gate, publish) over a
month and a half of simulated sources, so
every consumer reads the same published ``kpi``. Read-only by convention: a test that must change
the warehouse builds its own (``warehouse_db``).

Registered in conftest.py (importing it into a test module would make a fixture per module): a
test asks for ``published_warehouse`` by name.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid

import pytest

from cchc_demo.simulator import SimulatorConfig, generate
from cchc.transform.dbt_runner import dbt_work_dir
from cchc.warehouse import create_database, drop_database, url_parts, with_database

START, END = dt.date(2025, 5, 1), dt.date(2025, 6, 15)
KEY = "consumer-tests-key-0123456789"


@pytest.fixture(scope="session")
def published_warehouse(server_url, server_admin_url, tmp_path_factory) -> dict:
    """{"url": the pipeline role's URL of the database, "publication_id", "as_of_date",
    "start", "end", "bulletin": the HTML the publish step wrote} of a database holding one
    publication of the simulated province."""
    from cchc import pipeline

    name = f"cchc_published_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    create_database(server_admin_url, name, owner=url_parts(server_url)["user"])
    url = with_database(server_url, name)
    root = tmp_path_factory.mktemp("published_sources")
    generate(root, SimulatorConfig(start=START, end=END, seed=11, dossiers_per_day=40, documents_per_day=15,
                                   bad_rate=0.02))
    mp = pytest.MonkeyPatch()
    mp.setenv("CCHC_WAREHOUSE_URL", url)
    mp.setenv("CCHC_PSEUDONYM_KEY", KEY)
    mp.setenv("CCHC_BULLETIN_DIR", str(tmp_path_factory.mktemp("published_bulletin")))  # not shared
    try:
        out = pipeline.run_in_process(run_id=f"consumers-{uuid.uuid4().hex[:6]}", start=START.isoformat(),
                                      end=END.isoformat(), source={"source_dir": str(root)})
    finally:
        mp.undo()
    assert out["publication_id"], out
    yield {"url": url, "publication_id": out["publication_id"], "as_of_date": out["as_of_date"],
           "start": START, "end": END, "bulletin": out.get("bulletin")}
    drop_database(server_admin_url, name)
    shutil.rmtree(dbt_work_dir(url), ignore_errors=True)
