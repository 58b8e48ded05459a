"""The KPI API against the published simulated province (``published_warehouse``, read-only).

Real PostgreSQL, real publication, the real app (FastAPI's TestClient, in-process) reading ``kpi``
as a BI login: auth failures, unit scopes, bad parameters, keyset pagination, ETags, CSV = JSON,
numbers = the ``kpi`` tables read directly, the OpenAPI description, the commands, and a
hypothesis search over the parameters that finds no 500.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings, strategies as st

from cchc.api.app import create_app
from cchc.api.db import Database, check_reader
from cchc.api.pagination import encode_cursor
from cchc.api.registry import PUBLICATIONS, TABLES
from cchc.api.tokens import issue_token, list_tokens, revoke_token, token_hash
from cchc.settings import ApiSettings

ROOT = Path(__file__).resolve().parents[1]
LOGIN = "cchc_api_test"
MAX_LIMIT = 500


@pytest.fixture(scope="module")
def wh(published_warehouse):  # noqa: F811
    return published_warehouse


@pytest.fixture(scope="module")
def units(wh) -> dict:
    """A district with at least two communes that have rows in kpi.tthc_report, and the province."""
    with psycopg.connect(wh["url"]) as conn:
        province = conn.execute("select unit_id from marts.dim_unit where is_province").fetchone()[0]
        rows = conn.execute(
            "select d.unit_id, array_agg(c.unit_id order by c.unit_id) from marts.dim_unit d "
            "join marts.dim_unit c on c.parent_unit_id = d.unit_id "
            "where d.unit_level = 'HUYEN' and c.unit_id in (select unit_id from kpi.tthc_report) "
            "group by d.unit_id having count(*) >= 2 order by 1").fetchall()
    district, communes = rows[0]
    return {"province": province, "district": district, "commune": communes[0], "sibling": communes[1],
            "other_district": rows[1][0] if len(rows) > 1 else None}


@pytest.fixture(scope="module")
def tokens(wh, units) -> dict:
    with psycopg.connect(wh["url"], autocommit=True) as conn:
        out = {name: issue_token(conn, scope_unit_id=units[name], label=f"test {name}")[0]
               for name in ("province", "district", "commune")}
        revoked, info = issue_token(conn, scope_unit_id=units["province"], label="test revoked")
        out["revoked_before_use"] = revoked
        revoke_token(conn, info.token_id, by="test")
    return out


@pytest.fixture(scope="module")
def client(wh, tokens):
    from cchc.warehouse.roles import remove_reader

    db = Database.open(wh["url"], reader=None, login=LOGIN)
    app = create_app(db, ApiSettings(default_limit=100, max_limit=MAX_LIMIT, units_ttl_seconds=60))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
    db.close()
    remove_reader(LOGIN, wh["url"])


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def direct(wh, query: str, args=()) -> tuple[list[str], list[tuple]]:
    """The kpi table read directly (as the pipeline role)."""
    with psycopg.connect(wh["url"]) as conn, conn.cursor() as cur:
        cur.execute(query, args)
        return [d.name for d in cur.description], cur.fetchall()


def all_pages(client, path: str, params: dict, token: str) -> list[dict]:
    rows, after, pages = [], None, 0
    while True:
        r = client.get(path, params={**params, **({"after": after} if after else {})}, headers=auth(token))
        assert r.status_code == 200, r.text
        body = json.loads(r.text, parse_float=Decimal)
        rows += body["rows"]
        after, pages = body["next_cursor"], pages + 1
        assert r.headers.get("X-Next-Cursor") == after
        if after is None:
            return rows
        assert pages < 1000


def as_json_value(v):
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    return v


def published_tables(client, token) -> list:
    out = []
    for t in TABLES:
        r = client.get(t.path, params={"limit": 1}, headers=auth(token))
        if r.status_code == 200:
            out.append(t)
        else:
            assert r.status_code == 404 and "not published" in r.json()["detail"], (t.name, r.text)
    return out


# -- auth ----------------------------------------------------------------------------------------

def test_missing_bad_and_revoked_tokens_get_401(wh, client, tokens):
    r = client.get("/tthc-report")
    assert r.status_code == 401 and "bearer token is required" in r.json()["detail"]
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    for bad in ("nonsense", "cchc_000000000000_" + "x" * 43, tokens["province"] + "x",
                tokens["province"][:-1]):
        r = client.get("/tthc-report", headers=auth(bad))
        assert r.status_code == 401 and r.json()["detail"] == "the bearer token is unknown or revoked", bad
    assert client.get("/tthc-report", headers={"Authorization": "Basic dXNlcjpwdw=="}).status_code == 401
    assert client.get("/tthc-report", headers=auth(tokens["revoked_before_use"])).status_code == 401
    # a token that worked stops working at once when revoked
    with psycopg.connect(wh["url"], autocommit=True) as conn:
        token, info = issue_token(conn, scope_unit_id=wh_units_root(conn), label="test revoke later")
        assert client.get("/publications/current", headers=auth(token)).status_code == 200
        revoke_token(conn, info.token_id)
    r = client.get("/publications/current", headers=auth(token))
    assert r.status_code == 401
    assert client.get("/openapi.json").status_code == 200  # the description needs no token


def wh_units_root(conn) -> str:
    return conn.execute("select unit_id from marts.dim_unit where is_province").fetchone()[0]


def test_tokens_are_stored_as_sha256_only(wh, tokens):
    with psycopg.connect(wh["url"]) as conn:
        stored = conn.execute("select token_id, token_sha256, scope_unit_id from ops.api_tokens").fetchall()
        cols = [r[0] for r in conn.execute("select column_name from information_schema.columns "
                                           "where table_schema = 'ops' and table_name = 'api_tokens'")]
        everything = json.dumps(conn.execute("select row_to_json(t) from ops.api_tokens t").fetchall())
    hashes = {h for _, h, _ in stored}
    for name in ("province", "district", "commune"):
        token = tokens[name]
        assert token_hash(token) == hashlib.sha256(token.encode()).hexdigest() in hashes
        assert token not in everything and token.split("_", 2)[2] not in everything
    assert "token_sha256" in cols and not any("secret" in c or c == "token" for c in cols)


# -- scope ---------------------------------------------------------------------------------------

def test_a_commune_token_sees_its_commune_only(client, tokens, units):
    t = auth(tokens["commune"])
    for unit in (units["sibling"], units["district"], units["province"], "no-such-unit"):
        for params in ({"unit": unit}, {"unit": unit, "include_subtree": "true"}):
            r = client.get("/tthc-report", params=params, headers=t)
            assert r.status_code == 403, (unit, r.text)
            assert r.json()["detail"] == (f"unit {unit!r} is outside this token's scope (unit "
                                          f"{units['commune']} and the units under it)")  # same for unknown
    for table in published_tables(client, tokens["commune"]):
        if table.unit:
            rows = all_pages(client, table.path, {"limit": MAX_LIMIT}, tokens["commune"])
            assert {r[table.unit] for r in rows} <= {units["commune"]}, table.name
    rows = all_pages(client, "/tthc-report", {"period_type": "month"}, tokens["commune"])
    assert rows and {r["unit_id"] for r in rows} == {units["commune"]}


def test_a_district_token_sees_its_communes_with_include_subtree(wh, client, tokens, units):
    d = units["district"]
    _, expected = direct(wh, "select distinct unit_id from kpi.tthc_report where unit_id in "
                             "(select unit_id from marts.dim_unit where unit_id = %s or parent_unit_id = %s)", (d, d))
    expected = {r[0] for r in expected}
    assert {units["commune"], units["sibling"]} <= expected
    params = {"unit": d, "include_subtree": "true", "period_type": "month", "field_code": "*", "limit": MAX_LIMIT}
    rows = all_pages(client, "/tthc-report", params, tokens["district"])
    assert {r["unit_id"] for r in rows} == expected
    own = all_pages(client, "/tthc-report", {**params, "include_subtree": "false"}, tokens["district"])
    assert {r["unit_id"] for r in own} <= {d}
    # without unit: the whole scope; a commune of the district, alone
    scope = all_pages(client, "/tthc-report", {"period_type": "month", "field_code": "*"}, tokens["district"])
    assert {r["unit_id"] for r in scope} == expected
    one = all_pages(client, "/tthc-report", {"unit": units["sibling"], "period_type": "month"}, tokens["district"])
    assert one and {r["unit_id"] for r in one} == {units["sibling"]}
    for outside in (units["province"], units["other_district"]):
        if outside:
            assert client.get("/tthc-report", params={"unit": outside}, headers=auth(tokens["district"])).status_code == 403
    # the province's token: an unknown unit is a 404, a known one is served
    r = client.get("/tthc-report", params={"unit": "no-such-unit"}, headers=auth(tokens["province"]))
    assert r.status_code == 404 and r.json()["detail"] == "unknown unit 'no-such-unit'"
    assert client.get("/tthc-report", params={"unit": d}, headers=auth(tokens["province"])).status_code == 200


# -- parameters ----------------------------------------------------------------------------------

BAD = [
    ("/tthc-report?period_type=fortnight", 400, "unknown period type 'fortnight'"),
    ("/tthc-report?period=2025-13-01", 400, "is not a date (YYYY-MM-DD)"),
    ("/tthc-report?period=01/05/2025", 400, "is not a date (YYYY-MM-DD)"),
    ("/tthc-report?period=20250501", 400, "is not a date (YYYY-MM-DD)"),
    ("/tthc-report?period_from=2025-06-01&period_to=2025-05-01", 400, "is after period_to"),
    ("/dossier-facts-daily?date_from=2025-06-02&date_to=2025-06-01", 400, "is after date_to"),
    ("/dossier-facts-daily?date=yesterday", 400, "is not a date"),
    ("/tthc-report?limit=0", 400, "between 1 and 500"),
    ("/tthc-report?limit=501", 400, "between 1 and 500"),
    ("/tthc-report?limit=-3", 400, "not a whole number"),
    ("/tthc-report?limit=ten", 400, "not a whole number"),
    ("/tthc-report?perod_type=month", 400, "unknown parameter 'perod_type'"),
    ("/dossier-facts-daily?period_type=month", 400, "unknown parameter 'period_type'"),
    ("/tthc-report?period_type=month&period_type=year", 400, "more than once"),
    ("/tthc-report?format=xml", 400, "'xml' is not one of json, csv"),
    ("/tthc-report?unit=000.00.00.H99&include_subtree=maybe", 400, "is not true or false"),
    ("/tthc-report?include_subtree=true", 400, "needs a unit"),
    ("/tthc-report?after=not-a-cursor", 400, "malformed cursor"),
    ("/tthc-report?after=e30", 400, "malformed cursor"),  # {}
    ("/tthc-report?field_code=%00", 400, "control characters"),
    ("/tthc-report?field_code=", 400, "is empty"),
    ("/tthc-report?unit=" + "x" * 101, 400, "longer than 100"),
    ("/publications/current?x=1", 400, "takes no parameters"),
]


@pytest.mark.parametrize("path,status,message", BAD, ids=[b[0] for b in BAD])
def test_bad_parameters_get_a_4xx_with_a_clear_message(client, tokens, path, status, message):
    r = client.get(path, headers=auth(tokens["province"]))
    assert r.status_code == status, r.text
    assert message in r.json()["detail"]


def test_bad_cursors(client, tokens, wh):
    t = auth(tokens["province"])
    pid = wh["publication_id"]
    other = encode_cursor("esignature_usage", pid, ("month", "2025-05-01", "x"))
    r = client.get("/tthc-report", params={"after": other}, headers=t)
    assert r.status_code == 400 and "belongs to 'esignature_usage'" in r.json()["detail"]
    bad_date = encode_cursor("tthc_report", pid, ("month", "2025-02-30", "x", "*"))
    r = client.get("/tthc-report", params={"after": bad_date}, headers=t)
    assert r.status_code == 400 and "malformed cursor" in r.json()["detail"]
    short = encode_cursor("tthc_report", pid, ("month",))
    assert client.get("/tthc-report", params={"after": short}, headers=t).status_code == 400
    old = encode_cursor("tthc_report", pid - 1, ("month", "2025-05-01", "x", "*"))
    r = client.get("/tthc-report", params={"after": old}, headers=t)
    assert r.status_code == 409 and f"publication {pid} is current now" in r.json()["detail"]


# -- pagination, numbers, csv --------------------------------------------------------------------

def test_all_pages_together_are_the_tables_rows_in_grain_order(wh, client, tokens):
    cols, expected = direct(wh, "select * from kpi.tthc_report where period_type = 'month' "
                                "order by period_type, period_start, unit_id, field_code")
    rows = all_pages(client, "/tthc-report", {"period_type": "month", "limit": 37}, tokens["province"])
    assert len(rows) == len(expected) > 37
    keys = [(r["period_type"], r["period_start"], r["unit_id"], r["field_code"]) for r in rows]
    assert len(set(keys)) == len(keys)
    assert [list(r.values()) for r in rows] == [[as_json_value(v) for v in row] for row in expected]
    assert list(rows[0]) == cols
    # a daily table with a date range and a subtree
    cols, expected = direct(wh, "select * from kpi.dossier_facts_daily where date between %s and %s "
                                "order by date, unit_id, field_code", (dt.date(2025, 5, 10), dt.date(2025, 5, 20)))
    rows = all_pages(client, "/dossier-facts-daily", {"date_from": "2025-05-10", "date_to": "2025-05-20", "limit": 50},
                     tokens["province"])
    assert [list(r.values()) for r in rows] == [[as_json_value(v) for v in row] for row in expected]
    # the publication list: newest first
    pubs = all_pages(client, "/publications", {"limit": 1}, tokens["province"])
    assert [p["publication_id"] for p in pubs] == sorted((p["publication_id"] for p in pubs), reverse=True)


def test_numbers_equal_the_kpi_tables(wh, client, tokens):
    for table, where, args, params in (
            ("tthc_report", "period_type = %s and period_start = %s", ("month", dt.date(2025, 5, 1)),
             {"period_type": "month", "period": "2025-05-01"}),
            ("esignature_usage", "period_type = %s", ("month",), {"period_type": "month"}),
            ("dx_indicators", "period_type = %s and scope = %s", ("quarter", "subtree"),
             {"period_type": "quarter", "scope": "subtree"}),
            ("late_accountability", "month = %s", (dt.date(2025, 6, 1),), {"period": "2025-06-01"})):
        spec = next(t for t in TABLES if t.name == table)
        cols, expected = direct(wh, f"select * from kpi.{table} where {where} order by {', '.join(spec.grain)}", args)
        rows = all_pages(client, spec.path, {**params, "limit": MAX_LIMIT}, tokens["province"])
        assert expected, table
        assert len(rows) == len(expected)
        for got, want in zip(rows, expected, strict=True):
            for c, v in zip(cols, want, strict=True):
                assert got[c] == as_json_value(v), (table, c, got[c], v)  # Decimal == Decimal: every digit


def test_csv_round_trip_equals_json(client, tokens):
    t = auth(tokens["district"])
    params = {"period_type": "month", "limit": 40}
    j = client.get("/tthc-report", params=params, headers=t)
    c = client.get("/tthc-report", params={**params, "format": "csv"}, headers=t)
    a = client.get("/tthc-report", params=params, headers={**t, "Accept": "text/csv"})
    assert c.status_code == a.status_code == 200
    assert c.headers["content-type"].startswith("text/csv") and c.content == a.content
    assert not c.content.startswith(b"\xef\xbb\xbf")
    assert c.headers["X-Publication-Id"] == j.headers["X-Publication-Id"]
    assert c.headers["X-Next-Cursor"] == j.json()["next_cursor"]
    parsed = list(csv.DictReader(io.StringIO(c.content.decode("utf-8"))))
    rows = json.loads(j.text, parse_float=Decimal)["rows"]
    assert len(parsed) == len(rows) == 40

    def text(v):
        return "" if v is None else ("true" if v is True else "false" if v is False else str(v))

    assert parsed == [{k: text(v) for k, v in r.items()} for r in rows]
    assert any("ủy ban" in r["unit_name"].lower() or "Ủy" in r["unit_name"] for r in parsed)  # UTF-8 kept


# -- publication id, ETag ------------------------------------------------------------------------

def test_every_answer_names_its_publication_and_as_of_date(wh, client, tokens):
    pid, as_of = str(wh["publication_id"]), str(wh["as_of_date"])
    for table in [PUBLICATIONS, *published_tables(client, tokens["province"])]:
        r = client.get(table.path, params={"limit": 2}, headers=auth(tokens["province"]))
        assert r.headers["X-Publication-Id"] == pid and r.headers["X-As-Of-Date"] == as_of, table.name
        body = r.json()
        assert str(body["publication_id"]) == pid and body["as_of_date"] == as_of
        assert all(str(row["publication_id"]) == pid for row in body["rows"] if table is not PUBLICATIONS)
    cur = client.get("/publications/current", headers=auth(tokens["commune"])).json()
    assert str(cur["publication"]["publication_id"]) == pid and cur["publication"]["is_current"] is True
    assert client.get("/tthc-report-subtree", headers=auth(tokens["province"])).status_code in (200, 404)


def test_etag_and_if_none_match(wh, client, tokens):
    t = auth(tokens["district"])
    params = {"period_type": "month", "limit": 5}
    r = client.get("/tthc-report", params=params, headers=t)
    etag = r.headers["ETag"]
    assert etag.startswith(f'"{wh["publication_id"]}-')
    again = client.get("/tthc-report", params=params, headers={**t, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["X-Publication-Id"] == str(wh["publication_id"]) and again.headers["ETag"] == etag
    weak = client.get("/tthc-report", params=params, headers={**t, "If-None-Match": f'"x", W/{etag}'})
    assert weak.status_code == 304
    assert client.get("/tthc-report", params=params, headers={**t, "If-None-Match": '"0-abc"'}).status_code == 200
    other_query = client.get("/tthc-report", params={**params, "limit": 6}, headers=t).headers["ETag"]
    other_scope = client.get("/tthc-report", params=params, headers=auth(tokens["commune"])).headers["ETag"]
    as_csv = client.get("/tthc-report", params={**params, "format": "csv"}, headers=t).headers["ETag"]
    assert len({etag, other_query, other_scope, as_csv}) == 4
    cur = client.get("/publications/current", headers=t)
    assert client.get("/publications/current", headers={**t, "If-None-Match": cur.headers["ETag"]}).status_code == 304


# -- read-only -----------------------------------------------------------------------------------

def test_the_api_reads_kpi_as_a_bi_login_and_nothing_else(wh, client):
    db = client.app.state.db
    with db.kpi.connection() as conn:
        user, member = conn.execute("select current_user, pg_has_role(current_user, 'cchc_reader', 'member')").fetchone()
        assert user == LOGIN and member
        conn.rollback()
        for relation in ("marts.dim_unit", "ops.api_tokens", "raw.load_batches"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"select 1 from {relation} limit 1")
            conn.rollback()
    with db.snapshot(("publications",)) as conn, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        conn.execute("create temporary table t (x int)")
    with db.ops.connection() as conn, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        conn.execute("delete from ops.api_tokens")
    with pytest.raises(RuntimeError, match="may read more than schema kpi"):
        check_reader(wh["url"])  # the pipeline role is refused as the kpi connection


def test_a_request_holds_its_views_so_a_swap_waits_for_it(wh, client):
    """The publication id an answer names and its rows are one publication: while a request's
    snapshot is open, the publish step's ACCESS EXCLUSIVE lock on the views cannot be taken."""
    db = client.app.state.db
    with db.snapshot(("publications", "tthc_report")) as conn:
        conn.execute("select count(*) from kpi.tthc_report").fetchone()
        with psycopg.connect(wh["url"]) as other:
            other.execute("set lock_timeout = '200ms'")
            with pytest.raises(psycopg.errors.LockNotAvailable):
                other.execute("lock table kpi.tthc_report in access exclusive mode")


# -- OpenAPI -------------------------------------------------------------------------------------

def test_openapi_describes_every_table_and_its_parameters(client):
    spec = client.get("/openapi.json").json()
    for table in (PUBLICATIONS, *TABLES):
        op = spec["paths"][table.path]["get"]
        names = {p["name"] for p in op["parameters"]}
        assert {"limit", "after", "format"} <= names, table.name
        assert ("period_type" in names) == table.period_type
        assert ("unit" in names and "include_subtree" in names) == bool(table.unit)
        assert all(p.get("description") for p in op["parameters"])
        assert {"400", "401", "304"} <= set(op["responses"])
    tthc = {p["name"]: p for p in spec["paths"]["/tthc-report"]["get"]["parameters"]}
    assert tthc["period_type"]["schema"]["enum"] == ["day", "week", "month", "quarter", "half_year", "year"]
    assert tthc["limit"]["schema"]["maximum"] == MAX_LIMIT and "field_code" in tthc
    assert any(s.get("scheme") == "bearer" for s in spec["components"]["securitySchemes"].values())
    assert "/publications/current" in spec["paths"]


# -- exports -------------------------------------------------------------------------------------

def test_report_files_through_the_api(client, tokens, units):
    pytest.importorskip("cchc.reports.exports")
    openpyxl = pytest.importorskip("openpyxl")
    t = auth(tokens["province"])
    r = client.get("/exports/report", params={"period_type": "month", "period": "2025-05-01"}, headers=t)
    assert r.status_code == 200, r.text
    assert r.headers["X-Publication-Id"] and "attachment" in r.headers["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(r.content))
    assert book.active.max_row > 5
    c = client.get("/exports/esignature", params={"period_type": "month", "period": "2025-05-01", "format": "csv"},
                   headers=auth(tokens["commune"]))
    assert c.status_code == 200 and c.content.startswith(b"\xef\xbb\xbf")
    r = client.get("/exports/report", params={"period_type": "month", "period": "2025-05-01", "unit": units["sibling"]},
                   headers=auth(tokens["commune"]))
    assert r.status_code == 403
    r = client.get("/exports/report", params={"period_type": "month", "period": "2025-05-03"}, headers=t)
    assert r.status_code == 400 and "published" in r.json()["detail"]
    assert client.get("/exports/report", params={"period_type": "month"}, headers=t).status_code == 400


# -- schema-driven: no 500 -----------------------------------------------------------------------

VALUES = st.one_of(
    st.sampled_from(["month", "day", "week", "year", "quarter", "half_year", "2025-05-01", "2025-06-15", "2025-02-30",
                     "true", "false", "*", "CT", "own", "subtree", "csv", "json", "0", "1", "100000", "-1",
                     "000.00.00.H99", "000.00.11.H99", "e30", "eyJ0IjoidHRoY19yZXBvcnQifQ", "%", "'", '"', "\\",
                     "null", "NaN", "1e9", " ", "Ủy ban"]),
    st.text(max_size=30))
NAMES = sorted({p for t in (PUBLICATIONS, *TABLES) for p in
                ("period_type", "period", "period_from", "period_to", "date", "date_from", "date_to", "unit",
                 "include_subtree", "limit", "after", "format", *t.filters)} | {"junk"})
PATHS = [t.path for t in (PUBLICATIONS, *TABLES)] + ["/publications/current", "/exports/report", "/exports/late-units",
                                                     "/exports/esignature"]


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(path=st.sampled_from(PATHS), params=st.lists(st.tuples(st.sampled_from(NAMES), VALUES), max_size=5),
       who=st.sampled_from(["province", "district", "commune", None]), accept_csv=st.booleans())
def test_no_parameters_give_a_500(client, tokens, path, params, who, accept_csv):
    headers = {**(auth(tokens[who]) if who else {}), **({"Accept": "text/csv"} if accept_csv else {})}
    r = client.get(path, params=params, headers=headers)
    assert r.status_code < 500, (path, params, r.status_code, r.text[:500])
    if r.status_code >= 400:
        assert isinstance(r.json()["detail"], str) and r.json()["detail"]


# -- commands ------------------------------------------------------------------------------------

def test_api_tokens_commands(wh, units, monkeypatch, capsys):
    from cchc.cli import main

    monkeypatch.setenv("CCHC_WAREHOUSE_URL", wh["url"])
    assert main(["api-tokens", "issue", "--unit", units["commune"], "--label", "cli test"]) == 0
    out = capsys.readouterr().out
    token = next(w for w in out.split() if w.startswith("cchc_"))
    token_id = token.split("_")[1]
    assert main(["api-tokens", "list"]) == 0
    listed = capsys.readouterr().out
    assert token_id in listed and "cli test" in listed and token not in listed
    assert main(["api-tokens", "revoke", token_id]) == 0
    assert main(["api-tokens", "list"]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith(token_id))
    assert units["commune"] in line and "revoked" in line
    assert main(["api-tokens", "revoke", "nope"]) == 2
    assert main(["api-tokens", "issue", "--unit", "no-such-unit", "--label", "x"]) == 2
    assert "unknown unit 'no-such-unit'" in capsys.readouterr().err
    assert main(["api-tokens", "issue", "--label", "x"]) == 2
    with psycopg.connect(wh["url"]) as conn:
        assert any(t.token_id == token_id and t.revoked_at for t in list_tokens(conn))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cchc_api_serves_over_http(wh, tokens):
    import httpx

    port = _free_port()
    env = {**os.environ, "CCHC_WAREHOUSE_URL": wh["url"], "CCHC_API_LOGIN": LOGIN + "_http"}
    proc = subprocess.Popen([sys.executable, "-m", "cchc.cli", "api", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "cchc api did not start"
            time.sleep(0.3)
        r = httpx.get(f"http://127.0.0.1:{port}/tthc-report", params={"period_type": "year", "limit": 3},
                      headers=auth(tokens["province"]), timeout=10)
        assert r.status_code == 200 and r.headers["X-Publication-Id"] == str(wh["publication_id"])
        assert len(r.json()["rows"]) == 3
    finally:
        proc.terminate()
        out = proc.communicate(timeout=30)[0]
        from cchc.warehouse.roles import remove_reader

        remove_reader(LOGIN + "_http", wh["url"])
    assert "KPI API on http://127.0.0.1:" in out
