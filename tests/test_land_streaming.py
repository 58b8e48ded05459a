"""Streamed landing, line-preserving pseudonymisation, parallel backfill days, monthly raw partitions.

Real PostgreSQL throughout: the streamed COPY, the duplicate resolution in the warehouse, the
partition migration and the parallel land_days are compared with what the in-memory/serial paths give.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid

import psycopg
import pytest
from export_fixtures import PERSON, UNITS, dossier, step, ts, write_export_day, write_reference_day

from cchc.contracts import CONTRACTS
from cchc.extract import FileSource
from cchc.land import land_day
from cchc.land.chunks import in_flight_limit
from cchc.land.days import land_days
from cchc.land.pseudonymise import Pseudonymiser
from cchc.land.validate import Validator
from cchc.raw.schema import FEEDS, ensure_raw_schema
from cchc.settings import SourceSettings
from cchc.warehouse import create_database, drop_database, url_parts, with_database

KEY = b"streaming-test-key-0123456789"
D = dt.date(2025, 5, 6)
REFS = {"units": {u: {} for u in UNITS}, "procedures": {"1.004227": {"MaLinhVuc": "LV01"},
                                                        "1.001612": {"MaLinhVuc": "LV01"},
                                                        "2.000889": {"MaLinhVuc": "LV01"}}}


@pytest.fixture
def fresh_db(server_url, server_admin_url):
    made = []

    def make() -> str:
        name = f"cchc_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        create_database(server_admin_url, name, owner=url_parts(server_url)["user"])
        made.append(name)
        return with_database(server_url, name)

    yield make
    for name in made:
        drop_database(server_admin_url, name)


# -- the original line, only its personal values replaced ------------------------------------------

def _payloads(lines: list[str], *, line_path: bool) -> list[tuple[str, str | None]]:
    """(kind, payload) of each line through the Validator, with or without the line-preserving path."""
    ps = Pseudonymiser(KEY)
    if not line_path:
        ps.in_line = lambda *a, **k: None  # the parse path: json → pseudonymise → serialise
    v = Validator(CONTRACTS["dossiers"], D, ps, REFS)
    out = []
    for item in v.lines(enumerate((x.encode("utf-8") for x in lines), 1)):
        out.append((type(item).__name__, item.payload))
    return out


def _tricky_lines() -> list[str]:
    base = dossier("H-1", D)
    plain = json.dumps(base, ensure_ascii=False)
    spaced = json.dumps(base, ensure_ascii=False, indent=None, separators=(" , ", " :  "))
    escaped_quote = json.dumps({**base, "MaHoSo": "H-2", "TrichYeuHoSo": 'Cấp "sổ đỏ" cho\\ bà'}, ensure_ascii=False)
    unicode_escapes = json.dumps({**base, "MaHoSo": "H-3"}, ensure_ascii=True)
    echo = json.dumps({**base, "MaHoSo": "H-4", "TrichYeuHoSo": f"Hồ sơ của {PERSON['ChuHoSo']}, gọi {PERSON['SoDienThoai']}"},
                      ensure_ascii=False)
    nested = json.dumps({**base, "MaHoSo": "H-5", "DanhSachHoSoBoSung": [
        {"NgayYeuCau": ts(D, 9), "ChuHoSo": PERSON["ChuHoSo"], "Email": "khac@example.vn"}]}, ensure_ascii=False)
    name_as_value = json.dumps({**base, "MaHoSo": "H-6", "TrichYeuHoSo": "ChuHoSo"}, ensure_ascii=False)
    integer_phone = json.dumps({**base, "MaHoSo": "H-7", "SoDienThoai": 912345678}, ensure_ascii=False)
    repeated_key = plain.replace('"MaHoSo": "H-1"', '"ChuHoSo": "Trần Văn Trùng", "MaHoSo": "H-8"', 1)
    empty_personal = json.dumps({**base, "MaHoSo": "H-9", "Email": "", "SoDienThoai": None}, ensure_ascii=False)
    return [plain, spaced, escaped_quote, unicode_escapes, echo, nested, name_as_value, integer_phone,
            repeated_key, empty_personal]


def test_line_preserving_payload_is_the_parse_paths(warehouse_db):
    lines = _tricky_lines()
    kept = _payloads(lines, line_path=True)
    parsed = _payloads(lines, line_path=False)
    assert [k for k, _ in kept] == [k for k, _ in parsed] == ["Row"] * len(lines)
    with psycopg.connect(warehouse_db) as conn:
        for i, ((_, a), (_, b)) in enumerate(zip(kept, parsed, strict=True)):
            # the same JSON value as jsonb stores it
            same = conn.execute("select %s::jsonb = %s::jsonb, %s::jsonb::text", (a, b, a)).fetchone()
            assert same[0], f"line {i + 1}: {a} != {b}"
            for value in (*PERSON.values(), "Trần Văn Trùng", "khac@example.vn", "912345678"):
                assert value not in same[1], f"line {i + 1} keeps {value!r} in clear"
    # the plain lines kept their own text (layout and key order as delivered), not a re-serialisation
    assert kept[0][1].startswith('{"MaHoSo": "H-1", "MaTTHC"')
    assert " :  " in kept[1][1]


def test_line_preserving_falls_back_when_in_doubt():
    ps = Pseudonymiser(KEY)
    personal = CONTRACTS["dossiers"].personal_fields
    lines = _tricky_lines()
    results = []
    for text in lines:
        value = json.loads(text)
        rec, _ = ps.record(value, personal)
        results.append(ps.in_line(text, value, rec, personal))
    plain, spaced, escaped_quote, unicode_escapes, echo, nested, name_as_value, integer_phone, repeated, empty = results
    assert plain is not None and spaced is not None and integer_phone is not None and empty is not None
    assert escaped_quote is None and unicode_escapes is None  # any backslash: the parse path
    assert name_as_value is None and repeated is None  # "ChuHoSo" twice in the line
    assert nested is None  # ChuHoSo and Email also inside a list


# -- streaming: memory stays a chunk, duplicates as in memory --------------------------------------

@pytest.mark.parametrize("workers", [1, 2])
def test_streamed_landing_holds_a_chunk_and_resolves_duplicates_like_run(workers, fresh_db, tmp_path, monkeypatch):
    """One process, or two validation workers (1,200 lines = 24 chunks of 50): the same rows,
    rejects and ledger as the in-memory path, and memory bounded by the chunks in flight."""
    warehouse_db = fresh_db()
    monkeypatch.setenv("CCHC_LAND_CHUNK_ROWS", "50")
    monkeypatch.setenv("CCHC_LAND_VALIDATE_WORKERS", str(workers))
    n = 1200
    dossiers = [dossier(f"S-{i:05d}", D, ChuHoSo=f"Lê Văn Người {i}", SoGiayToChuHoSo=f"0011900{i:05d}")
                for i in range(n)]
    dossiers[10] = dossier("S-00003", D, NgayCapNhat=ts(D, 11))  # a newer version of line 4's key
    dossiers[11] = dict(dossiers[5])  # an exact duplicate of line 6
    dossiers[12] = {"MaHoSo": "S-BAD", "NgayCapNhat": "not a time"}  # a reject
    write_reference_day(tmp_path, D)
    write_export_day(tmp_path, "onestop", D, {"dossiers": dossiers, "steps": [step("S-00000", 1, D)]})
    result = land_day(warehouse_db, FileSource(tmp_path), D, feeds=["units", "procedures", "dossiers"],
                      pseudonym_key=KEY, run_id="stream")
    b = result.feed("dossiers")
    in_flight = 1 if workers == 1 else in_flight_limit(workers)  # chunks held at once
    assert 0 < b.peak_rows_held <= 50 * in_flight < n, b.peak_rows_held  # never the delivery
    expected = Validator(CONTRACTS["dossiers"], D, Pseudonymiser(KEY), REFS).run(
        enumerate((json.dumps(x, ensure_ascii=False).encode() for x in dossiers), 1))
    assert (b.rows_landed, b.rows_rejected) == (len(expected.rows), len(expected.rejects)) == (n - 3, 3)
    assert b.reasons == {"duplicate": 2, "bad_timestamp": 1} or b.reasons.keys() == expected.reasons().keys()
    with psycopg.connect(warehouse_db) as conn:
        landed = conn.execute("select line_no, record_key, payload from raw.onestop__dossiers where batch_id = %s "
                              "order by line_no", (b.batch_id,)).fetchall()
        rejects = conn.execute("select line_no, record_key, reason_code, reason from raw.rejects where batch_id = %s "
                               "order by line_no", (b.batch_id,)).fetchall()
        keys, disposition = conn.execute("select keys_delivered, disposition from raw.load_batches "
                                         "where batch_id = %s", (b.batch_id,)).fetchone()
    assert [(r[0], r[1]) for r in landed] == [(r.line_no, r.record_key) for r in expected.rows]
    assert [json.dumps(r[2], sort_keys=True) for r in landed] == \
        [json.dumps(json.loads(r.payload), sort_keys=True) for r in expected.rows]
    assert [(r[0], r[1], r[2], r[3]) for r in rejects] == \
        [(j.line_no, j.record_key, j.reason_code, j.reason) for j in expected.rejects]
    assert keys == n - 2 and disposition == "pending"  # 3 keys replaced by 2 repeats and S-BAD (a key)


# -- parallel backfill days ------------------------------------------------------------------------

def _ledger_and_raw(url: str) -> tuple[list, dict]:
    with psycopg.connect(url) as conn:
        ledger = conn.execute(
            "select system, feed, source_day, status, disposition, lines_read, rows_landed, rows_rejected, "
            "keys_delivered, message from raw.load_batches order by system, feed, source_day").fetchall()
        raw = {}
        for f in FEEDS:
            raw[f.table] = conn.execute(
                f"select b.source_day, r.line_no, r.record_key, r.updated_at_src, r.payload::text "
                f"from raw.{f.table} r join raw.load_batches b using (batch_id) order by 1, 2").fetchall()
        raw["rejects"] = conn.execute(
            "select b.feed, b.source_day, j.line_no, j.record_key, j.reason_code, j.reason, j.payload::text, "
            "j.raw_text from raw.rejects j join raw.load_batches b using (batch_id) order by 1, 2, 3").fetchall()
    return ledger, raw


def test_parallel_backfill_lands_what_a_serial_one_does(fresh_db, tmp_path):
    from cchc_demo.simulator import SimulatorConfig, generate

    start, end = dt.date(2025, 5, 29), dt.date(2025, 6, 3)  # across a month boundary: two partitions
    generate(tmp_path, SimulatorConfig(start=start, end=end, seed=7, dossiers_per_day=40, documents_per_day=15,
                                       bad_rate=0.05))
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    # a day whose reference lists are missing: it must be checked against the day before's, as serially
    missing_ref = days[3]
    for name in ("units.jsonl.gz", "procedures.jsonl.gz", "_manifest.json"):
        (tmp_path / "reference" / missing_ref.isoformat() / name).unlink()
    settings = SourceSettings(source_dir=tmp_path)
    outcomes = {}
    for workers in (1, 2):
        url = fresh_db()
        out = list(land_days(url, settings, days, pseudonym_key=KEY, run_id=f"w{workers}", workers=workers))
        assert [d for d, _, _ in out] == days  # in day order
        outcomes[workers] = (
            [(d, [(b.system, b.feed, b.status, b.rows_landed, b.rows_rejected, b.disposition) for b in r.batches],
              sorted(x.reason for x in refused)) for d, r, refused in out],
            _ledger_and_raw(url))
    assert outcomes[2] == outcomes[1]
    results = outcomes[1][0]
    refused_day = next(x for x in results if x[0] == missing_ref)
    assert refused_day[2], "the day without reference lists reports their refusal"
    assert all(status == "landed" for _, feed, status, *_ in refused_day[1] if feed in ("dossiers", "documents"))


# -- raw partitioned by month; the previous layout migrated in place --------------------------------

OLD_FEED_TABLE = """
create table raw.{table} (
    batch_id        bigint not null references raw.load_batches (batch_id),
    source_day      date not null,
    line_no         integer not null,
    record_key      text not null,
    updated_at_src  text,
    loaded_at       timestamptz not null default now(),
    payload         jsonb not null
);
create index {table}_batch on raw.{table} (batch_id);
create index {table}_key on raw.{table} (record_key);
"""


def test_unpartitioned_raw_is_migrated_in_place_keeping_every_row(fresh_db):
    from cchc.raw import schema

    url = fresh_db()
    with psycopg.connect(url) as conn:
        conn.execute(schema.DDL)  # the ledger tables as before
        for f in FEEDS:
            conn.execute(OLD_FEED_TABLE.format(table=f.table))
        days = [dt.date(2025, 4, 30), dt.date(2025, 5, 1), dt.date(2025, 5, 31), dt.date(2025, 7, 2)]
        for f in FEEDS:
            for day in days:
                batch = conn.execute(
                    "insert into raw.load_batches (system, feed, source_day, delivery, source_uri, status, "
                    "disposition) values (%s, %s, %s, 'file', 'old', 'landed', 'in_force') returning batch_id",
                    (f.system, f.name, day)).fetchone()[0]
                conn.execute(f"insert into raw.{f.table} (batch_id, source_day, line_no, record_key, updated_at_src, "
                             "loaded_at, payload) select %s, %s, g, 'K' || g, null, "
                             "'2025-01-01 00:00+00'::timestamptz + g * interval '1 minute', "
                             "jsonb_build_object('n', g, 'day', %s::text) from generate_series(1, 25) g",
                             (batch, day, day.isoformat()))
        before = {f.table: conn.execute(f"select * from raw.{f.table} order by batch_id, line_no").fetchall()
                  for f in FEEDS}
        conn.commit()
        ensure_raw_schema(conn)  # the migration, in the caller's transaction
        conn.commit()
        for f in FEEDS:
            assert conn.execute("select relkind::text from pg_class where oid = %s::regclass",
                                (f"raw.{f.table}",)).fetchone()[0] == "p"
            after = conn.execute(f"select * from raw.{f.table} order by batch_id, line_no").fetchall()
            assert after == before[f.table]
            parts = [r[0] for r in conn.execute(
                "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid "
                "where i.inhparent = %s::regclass order by 1", (f"raw.{f.table}",))]
            assert parts == [f"{f.table}_p202504", f"{f.table}_p202505", f"{f.table}_p202507"]
            indexes = {r[0]: r[1] for r in conn.execute(
                "select c.relname, c.relkind::text from pg_index x join pg_class c on c.oid = x.indexrelid "
                "where x.indrelid = %s::regclass", (f"raw.{f.table}",))}
            assert indexes == {f"{f.table}_batch": "I", f"{f.table}_key": "I"}  # partitioned indexes
        # once: a second call changes nothing
        ensure_raw_schema(conn)
        conn.commit()
        assert conn.execute("select count(*) from raw.onestop__dossiers").fetchone()[0] == 100
        # the ledger's reads by batch_id stay index scans on every partition (at a realistic size)
        for day in days:
            batch = conn.execute(
                "insert into raw.load_batches (system, feed, source_day, delivery, source_uri, status, "
                "disposition) values ('onestop', 'dossiers', %s, 'file', 'more', 'landed', 'superseded') "
                "returning batch_id", (day,)).fetchone()[0]
            conn.execute("insert into raw.onestop__dossiers (batch_id, source_day, line_no, record_key, payload) "
                         "select %s, %s, g, 'M' || g, '{}'::jsonb from generate_series(1, 5000) g", (batch, day))
        conn.commit()
        conn.execute("analyze")
        plan = "\n".join(r[0] for r in conn.execute(
            "explain select record_key from raw.onestop__dossiers where batch_id = 3"))
        assert "Seq Scan" not in plan and ("Index" in plan or "Bitmap" in plan), plan


def test_an_airflow_task_process_validates_in_process(monkeypatch):
    """Inside an Airflow task process (its supervisor channel set) landing never forks: a child
    forked there inherits the channel's and the log handlers' locks mid-use and hangs (seen under
    the real scheduler). Elsewhere a large delivery goes to the workers."""
    import airflow.sdk.execution_time.task_runner as runner

    from cchc.land import chunks

    assert chunks.fork_available()
    _, held = chunks.validated_chunks(None, [], lines=10_000, size=100, workers=2)
    assert held == 100 * chunks.in_flight_limit(2)  # the parallel path
    monkeypatch.setattr(runner, "SUPERVISOR_COMMS", object(), raising=False)
    assert not chunks.fork_available()
    _, held = chunks.validated_chunks(None, [], lines=10_000, size=100, workers=2)
    assert held == 100  # one chunk at a time, in this process
