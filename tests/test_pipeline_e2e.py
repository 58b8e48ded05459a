"""The nightly job end to end: simulator → `cchc run` (Airflow dag.test) → raw → dbt → GX → kpi.

Real everything: the embedded PostgreSQL (a fresh database for this module), real Airflow, dbt and
Great Expectations. The Airflow metadata database is shared by the test session.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from cchc_demo.simulator import SimulatorConfig, break_manifest, generate, serve
from cchc.warehouse import connect

START, END = dt.date(2025, 6, 2), dt.date(2025, 6, 15)
CCHC = str(Path(sys.executable).parent / "cchc")


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sources")
    generate(root, SimulatorConfig(start=START, end=END, seed=7, dossiers_per_day=40,
                                   documents_per_day=20, bad_rate=0.05))
    return root


@pytest.fixture(scope="module")
def env(cchc_env) -> dict:
    return cchc_env


def cchc(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CCHC, *args], env=env, capture_output=True, text=True, timeout=900)


def raw_counts(url: str) -> dict[str, int]:
    with connect(url) as conn:
        tables = [r[0] for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'raw' order by 1")]
        return {t: conn.execute(f'select count(*) from raw."{t}"').fetchone()[0] for t in tables}


@pytest.fixture(scope="module")
def first_run(env, sources):
    res = cchc(env, "run", "--start", START.isoformat(), "--end", END.isoformat(),
               "--source-dir", str(sources))
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-6000:]
    return res


def test_run_publishes_and_prints_where_to_look(first_run, warehouse_db):
    assert "publication" in first_run.stdout and "on-time rate" in first_run.stdout
    with connect(warehouse_db) as conn:
        pub = conn.execute("select publication_id, as_of_date, checks_evaluated, checks_failed, "
                           "rows_published from kpi.publications").fetchall()
        assert len(pub) == 1
        pub_id, as_of, evaluated, failed, rows = pub[0]
        assert as_of == END and failed == 0 and evaluated > 20 and rows > 0
        ids = conn.execute("select distinct publication_id from kpi.tthc_report").fetchall()
        assert ids == [(pub_id,)]
        steps = dict(conn.execute("select step, status from ops.pipeline_steps").fetchall())
        assert set(steps.values()) == {"success"} and "publish" in steps
    # it prints where the warehouse is, never its password (`cchc db-url` does that)
    from cchc.warehouse import url_parts
    from cchc.warehouse.connection import redact_url

    password = url_parts(warehouse_db)["password"]
    assert redact_url(warehouse_db) in first_run.stdout
    assert not password or password not in first_run.stdout + first_run.stderr


def test_every_report_row_satisfies_the_five_identities(first_run, warehouse_db):
    with connect(warehouse_db) as conn:
        n = conn.execute("select count(*) from kpi.tthc_report").fetchone()[0]
        broken = conn.execute("""
            select count(*) from kpi.tthc_report where
                received_total <> received_online + received_direct_postal + carried_over
             or resolved_total <> resolved_early + resolved_on_time + resolved_late
             or pending_total <> pending_on_time + pending_overdue
             or received_total <> resolved_total + pending_total""").fetchone()[0]
        chain = conn.execute("""
            select count(*) from kpi.tthc_report cur join kpi.tthc_report prev
              on prev.period_type = cur.period_type and prev.unit_id = cur.unit_id
             and prev.field_code = cur.field_code and prev.period_end + 1 = cur.period_start
            where cur.carried_over <> prev.pending_total""").fetchone()[0]
        types = {r[0] for r in conn.execute("select distinct period_type from kpi.tthc_report")}
    assert n > 100 and broken == 0 and chain == 0
    assert types == {"day", "week", "month", "quarter", "half_year", "year"}


def test_bad_records_are_rejected_with_reasons_and_the_rest_lands(first_run, warehouse_db, sources):
    injected = json.loads((sources / "_simulator" / "injected.json").read_text())
    with connect(warehouse_db) as conn:
        rejects = conn.execute("select count(*), count(*) filter (where reason is null or reason = '') "
                               "from raw.rejects").fetchone()
        landed = conn.execute("select count(*) from raw.onestop__dossiers").fetchone()[0]
    assert rejects[0] >= len(injected) * 0.9 and rejects[1] == 0
    assert landed > 0


def test_no_personal_data_in_clear_anywhere(first_run, warehouse_db, sources):
    import gzip

    needles: set[str] = set()
    for path in sorted((sources / "onestop").glob("*/dossiers.jsonl.gz"))[:3]:
        for line in gzip.decompress(path.read_bytes()).splitlines()[:30]:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if not isinstance(rec, dict):
                continue
            for field in ("ChuHoSo", "SoGiayToChuHoSo", "SoDienThoai", "Email"):
                if isinstance(rec.get(field), str) and len(rec[field]) >= 6:
                    needles.add(rec[field])
    # officials' and signers' names are not applicants' personal data and are kept in clear; the
    # generator may give an applicant the same name as an official, so such names prove nothing
    officials: set[str] = set()
    for pattern, field in (("onestop/*/steps.jsonl.gz", "NguoiXuLy"),
                           ("edoc/*/documents.jsonl.gz", "SignerFullName")):
        for path in sources.glob(pattern):
            for line in gzip.decompress(path.read_bytes()).splitlines():
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if isinstance(rec, dict) and isinstance(rec.get(field), str):
                    officials.add(rec[field])
    needles -= officials
    assert len(needles) > 20
    with connect(warehouse_db) as conn:
        cols = conn.execute("""
            select table_schema, table_name, column_name from information_schema.columns
            where table_schema not in ('pg_catalog', 'information_schema')
              and data_type in ('text', 'character varying', 'jsonb', 'json')""").fetchall()
        found = []
        for schema, table, column in cols:
            for needle in needles:
                hit = conn.execute(
                    f'select 1 from "{schema}"."{table}" where "{column}"::text like %s limit 1',
                    (f"%{needle}%",)).fetchone()
                if hit:
                    found.append((schema, table, column, needle))
                    break
    assert found == []


def test_rerunning_the_range_changes_no_landed_data(first_run, env, sources, warehouse_db):
    before = raw_counts(warehouse_db)
    res = cchc(env, "run", "--start", START.isoformat(), "--end", END.isoformat(),
               "--source-dir", str(sources))
    assert res.returncode == 0, res.stderr[-4000:]
    assert raw_counts(warehouse_db) == before
    assert "nothing new since publication" in res.stdout + res.stderr
    with connect(warehouse_db) as conn:  # the first publication stands
        assert conn.execute("select count(*) from kpi.publications").fetchone()[0] == 1


def test_api_mode_lands_the_same_records_as_file_mode(first_run, env, sources, warehouse_db):
    """Run one day through the HTTP API (with injected 429/503) into a second database."""
    from cchc.warehouse import create_database, drop_database

    server = serve(sources, token="t0k3n", fault_rate=0.2, seed=3)
    api_db = create_database(warehouse_db, "cchc_test_api_" + hashlib.md5(warehouse_db.encode()).hexdigest()[:6])
    try:
        day = "2025-06-13"  # a Friday: dossiers are received that day
        res = cchc({**env, "CCHC_WAREHOUSE_URL": api_db, "CCHC_SOURCE_TOKEN": "t0k3n"},
                   "run", "--start", day, "--end", day, "--source-url", server.url)
        assert res.returncode == 0, res.stderr[-4000:]
        query = ("select record_key, payload from raw.onestop__dossiers where source_day = %s "
                 "order by record_key")
        with connect(api_db) as conn:
            via_api = conn.execute(query, (day,)).fetchall()
        with connect(warehouse_db) as conn:
            via_files = conn.execute(query, (day,)).fetchall()
        assert via_api and {k for k, _ in via_api} == {k for k, _ in via_files}
    finally:
        server.shutdown()
        drop_database(warehouse_db, api_db.rsplit("/", 1)[1])


def test_a_broken_manifest_is_refused_with_a_clear_message(first_run, env, sources, warehouse_db, tmp_path):
    """The file is not landed and the run says why; the publication claims nothing of that day."""
    import shutil

    from cchc.publish import kpi_checksums

    broken = tmp_path / "broken"
    shutil.copytree(sources, broken)
    day = END + dt.timedelta(days=1)
    # a new day whose manifest disagrees with its dossiers file
    shutil.copytree(sources / "onestop" / END.isoformat(), broken / "onestop" / day.isoformat())
    break_manifest(broken, "onestop", day, "checksum")
    with connect(warehouse_db) as conn:
        before = kpi_checksums(conn)
    res = cchc(env, "run", "--start", day.isoformat(), "--end", day.isoformat(), "--source-dir", str(broken))
    assert res.returncode == 0, res.stderr[-4000:]
    assert "REFUSED onestop/dossiers" in res.stderr and "sha256" in res.stderr.lower()
    with connect(warehouse_db) as conn:
        assert kpi_checksums(conn) == before  # the same numbers ...
        as_of, missing = conn.execute("select as_of_date, missing_days from kpi.publications "
                                      "where is_current").fetchone()
        refused = conn.execute("select disposition, disposition_reason from raw.load_batches "
                               "where system = 'onestop' and feed = 'dossiers' and source_day = %s",
                               (day,)).fetchall()
    assert as_of == END and missing["onestop"] == [day.isoformat()]  # ... saying what they lack
    assert refused[0][0] == "refused" and "sha256" in refused[0][1]
