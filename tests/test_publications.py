"""Versioned publications: stable names in ``kpi``, keep-N, rollback, lock timeouts, v1 → v2 migration.

Candidates are built by hand in ``kpi_build`` (tables with a ``publication_id`` column, as dbt builds
them) against a real PostgreSQL; ``publish``/``rollback`` are the functions the pipeline and the CLI
call. Every test starts from an empty ``kpi``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest

from cchc.publish import (
    KPI_DDL,
    KpiBusyError,
    PublishError,
    drop_old_publications,
    keep_publications,
    kpi_checksums,
    list_publications,
    next_publication_id,
    publish,
    rollback,
)
from cchc.warehouse import connect

AS_OF = dt.date(2025, 6, 30)
COMPLETE = {"onestop": "2025-06-30", "edoc": "2025-06-30"}
REPORT_COLS = "period_type text, unit_id text, received_total bigint, on_time_rate numeric"


@pytest.fixture(scope="module")
def db(warehouse_db):
    return warehouse_db


@pytest.fixture(autouse=True)
def clean_kpi(db, monkeypatch):
    """An empty kpi (and no candidates) before each test; fast lock settings."""
    monkeypatch.setenv("CCHC_PUBLISH_LOCK_TIMEOUT", "0.3")
    monkeypatch.setenv("CCHC_PUBLISH_LOCK_RETRIES", "2")
    monkeypatch.setenv("CCHC_KEEP_PUBLICATIONS", "10")
    monkeypatch.setenv("CCHC_OPERATOR", "tester")
    with connect(autocommit=True) as conn:
        conn.execute("drop view if exists public.bi_view, public.bi_retired")
        for (schema,) in conn.execute(
                "select nspname from pg_namespace where nspname in ('kpi', 'kpi_build') "
                "or nspname like 'kpi\\_pub\\_%'").fetchall():
            conn.execute(f'drop schema "{schema}" cascade')
        conn.execute("drop table if exists ops.publication_events")
    yield


def build(rows: list[tuple], *, extra_column: bool = False, report_cols: str = REPORT_COLS,
          facts: list[tuple] | None = None, tables: tuple[str, ...] = ("tthc_report", "dossier_facts_daily")) -> int:
    """Candidates for a new publication id, as dbt builds them; returns the id."""
    with connect() as conn:
        pub_id = next_publication_id(conn)
        conn.execute("create schema if not exists kpi_build")
        if "tthc_report" in tables:
            cols = report_cols + (", pending_overdue bigint" if extra_column else "")
            conn.execute(f"create table kpi_build.tthc_report ({cols}, publication_id bigint)")
            width = len(cols.split(","))
            for r in rows:
                values = (tuple(r) + (None,) * width)[:width]
                conn.execute(f"insert into kpi_build.tthc_report values ({', '.join(['%s'] * (width + 1))})",
                             (*values, pub_id))
        if "dossier_facts_daily" in tables:
            conn.execute("create table kpi_build.dossier_facts_daily (date date, unit_id text, received bigint, "
                         "publication_id bigint)")
            for r in facts or [(AS_OF, "U1", 3)]:
                conn.execute("insert into kpi_build.dossier_facts_daily values (%s, %s, %s, %s)", (*r, pub_id))
        conn.commit()
    return pub_id


def do_publish(pub_id: int, **kw):
    kw.setdefault("complete_through", COMPLETE)
    kw.setdefault("missing_days", {})
    with connect() as conn:
        return publish(conn, publication_id=pub_id, as_of_date=kw.pop("as_of_date", AS_OF), run_id=f"run-{pub_id}",
                       checks_evaluated=12, checks_failed=0, validation_report=f"/reports/{pub_id}.html", **kw)


def do_rollback(**kw):
    with connect() as conn:
        return rollback(conn, by=kw.pop("by", "tester"), **kw)


def q(sql: str, *params):
    with connect() as conn:
        return conn.execute(sql, params or None).fetchall()


def state() -> dict:
    """Everything a failed publish or rollback must leave untouched."""
    with connect() as conn:
        return {
            "checksums": kpi_checksums(conn),
            "publications": conn.execute("select publication_id, is_current, rolled_back_from, tables_dropped_at "
                                         "from kpi.publications order by 1").fetchall(),
            "schemas": [r[0] for r in conn.execute("select nspname from pg_namespace where nspname like 'kpi%' "
                                                   "order by 1")],
            "candidates": [r[0] for r in conn.execute("select table_name from information_schema.tables "
                                                      "where table_schema = 'kpi_build' order by 1")],
            "views": conn.execute("select table_name, view_definition from information_schema.views "
                                  "where table_schema = 'kpi' order by 1").fetchall(),
        }


A_ROWS = [("month", "U1", 10, 0.9), ("month", "U2", 5, 0.5)]
B_ROWS = [("month", "U1", 11, 0.8), ("month", "U2", 6, 0.6), ("month", "U3", 1, None)]
C_ROWS = [("month", "U1", 12, 0.7)]


def bi_rows():
    return q("select unit_id, received_total from public.bi_view order by unit_id")


def test_a_consumer_view_and_grant_survive_publications_and_a_rollback(db):
    a = do_publish(build(A_ROWS))
    role = "pg_monitor"  # any other role: the pipeline's role may not create roles
    with connect() as conn:
        conn.execute("create view public.bi_view as select unit_id, received_total from kpi.tthc_report "
                     "where period_type = 'month'")
        conn.execute(f"grant select on kpi.tthc_report to {role}")
        conn.commit()
    try:
        assert bi_rows() == [("U1", 10), ("U2", 5)]
        b = do_publish(build(B_ROWS, extra_column=True))  # B adds a column: allowed (appended)
        assert bi_rows() == [("U1", 11), ("U2", 6), ("U3", 1)]
        assert q("select pending_overdue from kpi.tthc_report limit 1") == [(None,)]
        back = do_rollback(reason="B is wrong")
        assert back.publication_id == a.publication_id and back.rolled_back_from == b.publication_id
        assert bi_rows() == [("U1", 10), ("U2", 5)]
        # the column A did not have yet reads NULL; the rows show A's publication id
        assert q("select distinct publication_id, pending_overdue from kpi.tthc_report") == [(a.publication_id, None)]
        c = do_publish(build(C_ROWS, extra_column=True))
        assert bi_rows() == [("U1", 12)]
        assert q("select has_table_privilege(%s, 'kpi.tthc_report', 'select')", role) == [(True,)]
        assert q("select publication_id from kpi.publications where is_current") == [(c.publication_id,)]
    finally:
        with connect(autocommit=True) as conn:
            conn.execute("drop view if exists public.bi_view")
            conn.execute(f"revoke all on kpi.tthc_report from {role}")


def test_rollback_restores_the_previous_rows_exactly_and_records_who_and_why(db):
    a = do_publish(build(A_ROWS))
    with connect() as conn:
        before = kpi_checksums(conn)
    b = do_publish(build(B_ROWS), complete_through={"onestop": "2025-07-01", "edoc": "2025-06-30"},
                   missing_days={"onestop": ["2025-06-12"]})
    with connect() as conn:
        assert kpi_checksums(conn) != before
    back = do_rollback(by="operator-x", reason="late-rate bug")
    with connect() as conn:
        assert kpi_checksums(conn) == before
    assert back.is_current and back.publication_id == a.publication_id
    rows = q("select publication_id, is_current, rolled_back_from from kpi.publications order by 1")
    assert rows == [(a.publication_id, True, b.publication_id), (b.publication_id, False, None)]
    assert q("select count(*) from kpi.publications where is_current") == [(1,)]
    events = q("select action, publication_id, previous_publication_id, by, reason from ops.publication_events "
               "order by event_id")
    assert events == [("publish", a.publication_id, None, "tester", None),
                      ("publish", b.publication_id, a.publication_id, "tester", None),
                      ("rollback", a.publication_id, b.publication_id, "operator-x", "late-rate bug")]
    # the rolled-back publication is still kept: roll forward to it explicitly
    fwd = do_rollback(to=b.publication_id, reason="false alarm")
    assert fwd.publication_id == b.publication_id and fwd.rolled_back_from == a.publication_id
    assert fwd.complete_through == {"onestop": "2025-07-01", "edoc": "2025-06-30"}
    assert fwd.missing_days == {"onestop": ["2025-06-12"]}


def test_exactly_one_current_publication_is_enforced(db):
    a = do_publish(build(A_ROWS))
    do_publish(build(B_ROWS))
    with connect() as conn, pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute("update kpi.publications set is_current = true where publication_id = %s", (a.publication_id,))


def test_checksums_ignore_the_publication_id_and_row_order(db):
    do_publish(build(A_ROWS))
    with connect() as conn:
        first = kpi_checksums(conn)
    do_publish(build(list(reversed(A_ROWS))))
    with connect() as conn:
        assert kpi_checksums(conn) == first
        assert set(first) == {"tthc_report", "dossier_facts_daily"}


def test_keep_n_drops_old_schemas_but_never_the_current_and_refuses_rollback_to_them(db, monkeypatch):
    monkeypatch.setenv("CCHC_KEEP_PUBLICATIONS", "2")
    ids = [do_publish(build(A_ROWS)).publication_id for _ in range(4)]
    with connect() as conn:
        kept = [p.publication_id for p in list_publications(conn) if p.kept]
    assert kept == [ids[3], ids[2]]
    schemas = [r[0] for r in q("select nspname from pg_namespace where nspname like 'kpi\\_pub\\_%' order by 1")]
    assert schemas == [f"kpi_pub_{ids[2]}", f"kpi_pub_{ids[3]}"]
    assert q("select count(*) from kpi.publications") == [(4,)], "rows are never deleted"
    before = state()
    with pytest.raises(PublishError, match=f"cannot roll back to publication {ids[0]}: its tables were dropped"):
        do_rollback(to=ids[0])
    assert state() == before
    # the current publication is kept even when it is older than the last N
    do_rollback()  # → ids[2]
    monkeypatch.setenv("CCHC_KEEP_PUBLICATIONS", "10")
    ids.append(do_publish(build(A_ROWS)).publication_id)
    do_rollback(to=ids[2])
    monkeypatch.setenv("CCHC_KEEP_PUBLICATIONS", "2")
    with connect() as conn:
        assert drop_old_publications(conn) == []  # by recency ids[4], ids[3]; ids[2] is current
    assert q("select to_regnamespace(%s) is not null", f"kpi_pub_{ids[2]}") == [(True,)]
    ids.append(do_publish(build(A_ROWS)).publication_id)
    assert q("select publication_id from kpi.publications where tables_dropped_at is null order by 1") == \
        [(ids[4],), (ids[5],)]
    events = q("select publication_id from ops.publication_events where action = 'drop_tables' order by 1")
    assert events == [(ids[0],), (ids[1],), (ids[2],), (ids[3],)]


def test_keep_setting_is_validated(monkeypatch):
    monkeypatch.setenv("CCHC_KEEP_PUBLICATIONS", "1")
    with pytest.raises(ValueError, match="at least 2"):
        keep_publications()
    monkeypatch.setenv("CCHC_KEEP_PUBLICATIONS", "ten")
    with pytest.raises(ValueError, match="whole number"):
        keep_publications()
    monkeypatch.delenv("CCHC_KEEP_PUBLICATIONS")
    assert keep_publications() == 10


@pytest.mark.parametrize("report_cols, message", [
    ("period_type text, unit_id text, on_time_rate numeric", r"missing columns received_total \(bigint\)"),
    ("period_type text, unit_id text, received_total text, on_time_rate numeric",
     "columns with another type received_total: bigint → text"),
])
def test_a_candidate_that_is_not_view_compatible_is_refused_and_changes_nothing(db, report_cols, message):
    do_publish(build(A_ROWS))
    with connect() as conn:
        conn.execute("create view public.bi_view as select unit_id, received_total from kpi.tthc_report")
        conn.commit()
    pub_id = build([("month", "U1", "7")], report_cols=report_cols)
    before = state()
    with pytest.raises(PublishError, match=f"kpi.tthc_report is not view-compatible: {message}"):
        do_publish(pub_id)
    assert state() == before
    assert "tthc_report" in before["candidates"]
    assert bi_rows() == [("U1", 10), ("U2", 5)]


def test_a_missing_table_is_refused_unless_retired_and_a_retired_name_stays_empty(db):
    first = do_publish(build(A_ROWS))
    with connect() as conn:
        conn.execute("create view public.bi_retired as select date, received from kpi.dossier_facts_daily")
        conn.commit()
    pub_id = build(B_ROWS, tables=("tthc_report",))
    before = state()
    with pytest.raises(PublishError, match=r"lacks tables \['dossier_facts_daily'\].*never disappears"):
        do_publish(pub_id)
    assert state() == before
    do_publish(pub_id, retire=["dossier_facts_daily"])
    assert q("select count(*) from public.bi_retired") == [(0,)]
    assert [c for c, in q("select column_name from information_schema.columns where table_schema = 'kpi' "
                          "and table_name = 'dossier_facts_daily' order by ordinal_position")] == \
        ["date", "unit_id", "received", "publication_id"]
    do_publish(build(C_ROWS, tables=("tthc_report",)))  # retired once: later publications need not say so
    assert q("select count(*) from public.bi_retired") == [(0,)]
    # rolling back to the publication that had it shows its rows again
    do_rollback(to=first.publication_id)
    assert q("select received from public.bi_retired") == [(3,)]
    # ... and a publication without it must retire it again (the current publication shows it)
    with pytest.raises(PublishError, match="lacks tables"):
        do_publish(build(C_ROWS, tables=("tthc_report",)))


def test_a_rollback_to_a_publication_without_a_newer_table_shows_it_empty(db):
    first = do_publish(build(A_ROWS, tables=("tthc_report",)))
    do_publish(build(A_ROWS))  # adds dossier_facts_daily
    do_rollback(to=first.publication_id)
    assert q("select count(*) from kpi.dossier_facts_daily") == [(0,)]
    assert q("select count(*) from kpi.tthc_report") == [(2,)]
    do_publish(build(C_ROWS, tables=("tthc_report",)))  # the current publication lacks it: allowed
    assert q("select count(*) from kpi.dossier_facts_daily") == [(0,)]


def test_as_of_date_past_the_least_complete_system_is_refused(db):
    pub_id = build(A_ROWS)
    with pytest.raises(PublishError, match="edoc is complete only through 2025-06-29"):
        do_publish(pub_id, complete_through={"onestop": "2025-06-30", "edoc": "2025-06-29"})
    with pytest.raises(ValueError, match="not a date"):
        do_publish(pub_id, complete_through={"onestop": "30/06/2025"})
    assert q("select count(*) from information_schema.tables where table_schema = 'kpi_build'") == [(2,)]
    pub = do_publish(pub_id, missing_days={"onestop": ["2025-06-12", "2025-06-03"], "edoc": []})
    assert pub.missing_days == {"onestop": ["2025-06-03", "2025-06-12"]}
    assert pub.complete_through == COMPLETE


def test_readers_need_no_grant_on_publication_schemas(db):
    pub = do_publish(build(A_ROWS))
    assert q("select has_schema_privilege('cchc_reader', %s, 'usage')", pub.schema) == [(False,)]
    assert q("select has_table_privilege('cchc_reader', 'kpi.tthc_report', 'select'), "
             "has_table_privilege('cchc_reader', 'kpi.publications', 'select')") == [(True, True)]
    with admin_connect(db) as conn:  # the pipeline's role is no member of the group: read as it
        conn.execute("set role cchc_reader")
        assert conn.execute("select count(*) from kpi.tthc_report").fetchone()[0] == 2
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"select count(*) from {pub.schema}.tthc_report")


def admin_connect(db_url: str) -> psycopg.Connection:
    """A superuser session on the test database (embedded server only)."""
    from urllib.parse import urlsplit

    from cchc.warehouse import WarehouseError
    try:
        from cchc.warehouse.connection import admin_url
        url = admin_url(urlsplit(db_url).path.lstrip("/"))
    except (ImportError, WarehouseError) as exc:
        pytest.skip(f"no superuser session on this server: {exc}")
    return psycopg.connect(url)


def _hold_reader_lock(release: threading.Event, started: threading.Event):
    with connect() as reader:
        reader.execute("set application_name = 'bi-dashboard'")
        reader.execute("select count(*) from kpi.tthc_report").fetchone()  # a reader's transaction stays open
        started.set()
        release.wait(30)
        reader.rollback()


def test_publish_behind_a_long_reader_fails_clearly_within_the_retries_and_changes_nothing(db, caplog):
    do_publish(build(A_ROWS))
    do_publish(build(C_ROWS))
    pub_id = build(B_ROWS)
    before = state()
    release, started = threading.Event(), threading.Event()
    reader = threading.Thread(target=_hold_reader_lock, args=(release, started))
    reader.start()
    try:
        assert started.wait(10)
        t0 = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="cchc.publish"), \
                pytest.raises(KpiBusyError) as busy:
            do_publish(pub_id)
        took = time.monotonic() - t0
        with pytest.raises(KpiBusyError, match="kpi is busy"):
            do_rollback()
    finally:
        release.set()
        reader.join()
    text = str(busy.value)
    assert text.startswith("kpi is busy: pid ") and "bi-dashboard" in text and "kpi.tthc_report" in text
    assert "nothing was changed" in text and "after 3 attempts" in text
    assert took < 30, "gave up after the lock timeouts and backoff, not after the reader"
    retries = [r.message for r in caplog.records if "retrying in" in r.message]
    assert sum(m.startswith(f"publish {pub_id}:") for m in retries) == 2
    assert sum(m.startswith("rollback:") for m in retries) == 2
    assert state() == before


def test_publish_succeeds_when_the_reader_finishes_during_the_retries(db, caplog, monkeypatch):
    monkeypatch.setenv("CCHC_PUBLISH_LOCK_RETRIES", "6")
    do_publish(build(A_ROWS))
    pub_id = build(B_ROWS)
    release, started = threading.Event(), threading.Event()
    reader = threading.Thread(target=_hold_reader_lock, args=(release, started))
    reader.start()
    assert started.wait(10)
    threading.Timer(1.0, release.set).start()
    try:
        with caplog.at_level(logging.WARNING, logger="cchc.publish"):
            pub = do_publish(pub_id)
    finally:
        release.set()
        reader.join()
    assert pub.is_current and pub.publication_id == pub_id
    assert any("retrying in" in r.message for r in caplog.records)
    assert q("select count(*) from kpi.tthc_report") == [(3,)]


def _v1_warehouse(conn) -> None:
    """kpi as version 1 of the publish step left it: publications 1 and 2, tables of 2 in kpi."""
    conn.execute(KPI_DDL)
    conn.execute("select setval('kpi.publication_id_seq', 2)")
    for pub_id in (1, 2):
        conn.execute("insert into kpi.publications (publication_id, as_of_date, run_id, rows_published, "
                     "checks_evaluated, checks_failed, validation_report, tables_published) "
                     "values (%s, '2025-06-29', %s, 2, 10, 0, null, '{tthc_report}')", (pub_id, f"v1-{pub_id}"))
    conn.execute(f"create table kpi.tthc_report ({REPORT_COLS}, publication_id bigint)")
    conn.execute("insert into kpi.tthc_report values ('month', 'U1', 4, 0.25, 2), ('month', 'U2', 8, 1, 2)")
    conn.execute("do $$ begin if not exists (select from pg_roles where rolname = 'cchc_reader') "
                 "then create role cchc_reader nologin; end if; end $$")
    conn.execute("grant usage on schema kpi to cchc_reader")
    conn.execute("grant select on kpi.tthc_report, kpi.publications to cchc_reader")


def test_v1_is_migrated_in_place_by_the_first_v2_publish(db):
    with connect() as conn:
        _v1_warehouse(conn)
        conn.commit()
        v1_checksums = kpi_checksums(conn)  # no views yet: {}
        v1_rows = conn.execute("select * from kpi.tthc_report order by unit_id").fetchall()
    assert v1_checksums == {}
    pub = do_publish(build(B_ROWS, tables=("tthc_report",)))
    assert pub.publication_id == 3
    rows = q("select publication_id, is_current, tables_dropped_at is not null, missing_days "
             "from kpi.publications order by 1")
    assert rows == [(1, False, True, None), (2, False, False, None), (3, True, False, {})]  # v1: not known
    assert q("select relkind from pg_class where oid = 'kpi.tthc_report'::regclass") == [("v",)]
    assert q("select * from kpi_pub_2.tthc_report order by unit_id") == v1_rows
    assert q("select has_table_privilege('cchc_reader', 'kpi.tthc_report', 'select')") == [(True,)]
    back = do_rollback(reason="compare with v1")
    assert back.publication_id == 2
    assert q("select * from kpi.tthc_report order by unit_id") == v1_rows
    with pytest.raises(PublishError, match="its tables were dropped"):
        do_rollback(to=1)
    assert [a for a, in q("select action from ops.publication_events order by event_id")] == \
        ["migrate", "publish", "rollback"]


def test_v1_migration_names_the_consumer_objects_that_block_it_and_changes_nothing(db):
    with connect() as conn:
        _v1_warehouse(conn)
        conn.execute("create view public.bi_view as select unit_id, received_total from kpi.tthc_report")
        conn.commit()
    pub_id = build(B_ROWS, tables=("tthc_report",))
    with connect() as conn:
        columns_before = conn.execute("select column_name from information_schema.columns "
                                      "where table_schema = 'kpi' and table_name = 'publications'").fetchall()
    with pytest.raises(PublishError, match=r"(?s)cannot migrate kpi to version 2.*tthc_report: view public.bi_view"):
        do_publish(pub_id)
    with connect() as conn:
        assert conn.execute("select relkind from pg_class where oid = 'kpi.tthc_report'::regclass").fetchone() == ("r",)
        assert conn.execute("select column_name from information_schema.columns where table_schema = 'kpi' "
                            "and table_name = 'publications'").fetchall() == columns_before
        assert conn.execute("select to_regnamespace('kpi_pub_2')").fetchone() == (None,)
    assert bi_rows() == [("U1", 4), ("U2", 8)]
    # the runbook: drop the consumer's view, publish (migrates), recreate it once on the same name
    with connect() as conn:
        conn.execute("drop view public.bi_view")
        conn.commit()
    do_publish(pub_id)
    with connect() as conn:
        conn.execute("create view public.bi_view as select unit_id, received_total from kpi.tthc_report")
        conn.commit()
    assert bi_rows() == [("U1", 11), ("U2", 6), ("U3", 1)]
    do_rollback()
    assert bi_rows() == [("U1", 4), ("U2", 8)]


def test_publish_refuses_failed_checks_and_republishing(db):
    pub_id = build(A_ROWS)
    with connect() as conn, pytest.raises(PublishError, match="failed checks"):
        publish(conn, publication_id=pub_id, as_of_date=AS_OF, run_id="r", checks_evaluated=3, checks_failed=1,
                validation_report=None, complete_through=COMPLETE, missing_days={})
    do_publish(pub_id)
    with pytest.raises(PublishError, match="already published"):
        do_publish(pub_id)
    with pytest.raises(PublishError, match="already current"):
        do_rollback(to=pub_id)


CCHC = str(Path(sys.executable).parent / "cchc")


def test_cli_lists_publications_and_rolls_back(db):
    a = do_publish(build(A_ROWS))
    b = do_publish(build(B_ROWS), missing_days={"onestop": ["2025-06-12"]})
    env = {**os.environ, "CCHC_WAREHOUSE_URL": db, "CCHC_OPERATOR": "cli-operator"}
    res = subprocess.run([CCHC, "publications"], capture_output=True, text=True, env=env, timeout=60)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].split()[:2] == ["id", "as_of_date"]
    assert lines[1].startswith("*") and lines[1].split()[1] == str(b.publication_id)
    assert "onestop: 1" in lines[1] and "edoc 2025-06-30" in lines[1]
    res = subprocess.run([CCHC, "rollback", "--reason", "bad numbers"], capture_output=True, text=True,
                         env=env, timeout=60)
    assert res.returncode == 0, res.stderr
    assert f"publication {a.publication_id}" in res.stdout and f"from {b.publication_id}" in res.stdout
    assert q("select by, reason from ops.publication_events where action = 'rollback'") == \
        [("cli-operator", "bad numbers")]
    res = subprocess.run([CCHC, "rollback", "--to", "999"], capture_output=True, text=True, env=env, timeout=60)
    assert res.returncode == 1 and "no such publication" in res.stderr


def test_summary_reads_the_current_publication_and_its_completeness(db):
    from cchc.summary import latest_summary

    a = do_publish(build(A_ROWS), missing_days={"onestop": ["2025-06-12"]})
    do_publish(build(B_ROWS))
    text = latest_summary()
    assert text.startswith(f"publication {a.publication_id + 1}:") and "missing days: none" in text
    do_rollback()
    text = latest_summary()
    assert text.startswith(f"publication {a.publication_id}:")
    assert "complete through: edoc 2025-06-30, onestop 2025-06-30" in text
    assert "missing days (onestop): 2025-06-12" in text
    assert f"rollback from publication {a.publication_id + 1}" in text
