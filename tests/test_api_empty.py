"""The KPI API over a warehouse with nothing published yet: clear 503s, no 500, and no token can be
issued before the unit hierarchy exists."""

from __future__ import annotations

import psycopg
import pytest
from fastapi.testclient import TestClient

from cchc.api.app import create_app
from cchc.api.db import Database
from cchc.api.tokens import DDL, token_hash
from cchc.settings import ApiSettings

LOGIN = "cchc_api_test_empty"
TOKEN = "cchc_0123456789ab_" + "s" * 43


@pytest.fixture(scope="module")
def client(warehouse_db):
    from cchc.warehouse.roles import remove_reader

    with psycopg.connect(warehouse_db, autocommit=True) as conn:  # a token, but no build, no publication
        conn.execute(DDL)
        conn.execute("insert into ops.api_tokens (token_id, token_sha256, scope_unit_id, label) "
                     "values ('0123456789ab', %s, 'X', 'test')", (token_hash(TOKEN),))
    db = Database.open(warehouse_db, reader=None, login=LOGIN)
    with TestClient(create_app(db, ApiSettings()), raise_server_exceptions=False) as c:
        yield c
    db.close()
    remove_reader(LOGIN, warehouse_db)


def test_nothing_published_is_a_503_with_a_message(client):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert client.get("/tthc-report").status_code == 401
    for path in ("/publications/current", "/publications", "/tthc-report", "/tthc-report?unit=X"):
        r = client.get(path, headers=auth)
        assert r.status_code == 503, (path, r.text)
        assert r.json()["detail"] in ("nothing has been published yet",
                                      "the unit hierarchy (kpi.units) does not exist yet: run the pipeline first")
    assert client.get("/health").json() == {"status": "ok", "publication_id": None}


def test_no_token_before_the_first_build(warehouse_db, capsys):
    from cchc.cli import main

    assert main(["api-tokens", "issue", "--province", "--label", "x"]) == 2  # CCHC_WAREHOUSE_URL: warehouse_db
    assert "does not exist yet: run the pipeline first" in capsys.readouterr().err
