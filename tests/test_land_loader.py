"""land_day against a real PostgreSQL, on hand-made export folders and a tiny HTTP API."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging

import psycopg
import pytest
from export_fixtures import (
    PERSON,
    ExportApi,
    document,
    dossier,
    gz,
    step,
    ts,
    write_export_day,
    write_good_day,
    write_reference_day,
)

from cchc.extract import ApiSource, DeliveryRefused, FileSource
from cchc.land import land_day

KEY = b"loader-test-key-0123456789"


def day(n: int) -> dt.date:
    return dt.date(2025, 5, 1) + dt.timedelta(days=n)


def snapshot(url: str) -> dict[str, list[tuple]]:
    """Every row of every raw table."""
    with psycopg.connect(url) as conn:
        tables = [t for (t,) in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'raw' order by 1")]
        return {t: conn.execute(f"select * from raw.{t} order by 1, 2, 3").fetchall() for t in tables}


def rows(url: str, sql: str, *params) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def test_landing_twice_changes_nothing(warehouse_db, tmp_path, caplog):
    d = day(0)
    written = write_good_day(tmp_path, d, n=6)
    src = FileSource(tmp_path)
    with caplog.at_level(logging.INFO, logger="cchc.land.loader"):
        first = land_day(warehouse_db, src, d, pseudonym_key=KEY, run_id="r1")
    assert [(b.feed, b.status) for b in first] == [
        ("units", "landed"), ("procedures", "landed"), ("dossiers", "landed"), ("steps", "landed"),
        ("documents", "landed")]
    assert first.feed("dossiers").rows_landed == 6 and first.feed("dossiers").rows_rejected == 0
    assert "landed onestop/dossiers 2025-05-01: 6 lines, 6 landed, 0 rejected" in caplog.text
    before = snapshot(warehouse_db)
    second = land_day(warehouse_db, src, d, pseudonym_key=KEY, run_id="r2")
    assert {b.status for b in second} == {"unchanged"}
    assert [b.batch_id for b in second] == [b.batch_id for b in first]
    assert snapshot(warehouse_db) == before
    keys = rows(warehouse_db, "select record_key from raw.onestop__dossiers order by line_no")
    assert [k for (k,) in keys] == [r["MaHoSo"] for r in written["dossiers"]]
    batch = rows(warehouse_db, "select delivery, lines_read, rows_landed, rows_rejected, run_id, content_sha256 "
                               "from raw.load_batches where batch_id = %s", first.feed("dossiers").batch_id)[0]
    sha = hashlib.sha256((tmp_path / "onestop" / d.isoformat() / "dossiers.jsonl.gz").read_bytes()).hexdigest()
    assert batch == ("file", 6, 6, 0, "r1", sha)


def test_bad_lines_are_rejected_with_their_reason_and_the_rest_lands(warehouse_db, tmp_path):
    d = day(1)
    write_reference_day(tmp_path, d)
    good = [dossier(f"G-{i}", d) for i in range(40)]
    bad = {
        3: (b'{"MaHoSo": "T-1", "ChuHoSo": "Nguy', "invalid_json"),
        7: (dossier("", d), "missing_key"),
        11: (dossier("C-1", d, TrangThaiHoSo="42"), "unknown_code"),
        15: (dossier("C-2", d, NgayTiepNhan="20250532090000"), "bad_timestamp"),
        19: (dossier("C-3", d, NgayNopHoSo=ts(d, 12), NgayTiepNhan=ts(d, 9)), "dates_out_of_order"),
        23: (dossier("C-4", d, NgayCapNhat=ts(day(0))), "outside_snapshot_day"),
        27: (dossier("C-5", d, DonViXuLy="000.99.99.H26"), "unknown_reference"),
        31: (dossier("G-5", d, NgayCapNhat=ts(d, 6)), "duplicate"),  # older version of G-5
        35: (json.dumps(dossier("C-6", d), ensure_ascii=False).encode("utf-16"), "bad_encoding"),
        39: (b"42", "not_an_object"),
        43: (dossier("N\x00L", d), "bad_encoding"),  # PostgreSQL text cannot hold NUL
    }
    lines = list(good)
    for line_no in sorted(bad):
        lines.insert(line_no - 1, bad[line_no][0])
    write_export_day(tmp_path, "onestop", d, {"dossiers": lines, "steps": [step("G-1", 1, d)]})
    write_export_day(tmp_path, "edoc", d, {"documents": [document("D-1", d)]})
    result = land_day(warehouse_db, FileSource(tmp_path), d, pseudonym_key=KEY)
    b = result.feed("dossiers")
    assert (b.lines_read, b.rows_landed, b.rows_rejected) == (51, 40, 11)
    got = rows(warehouse_db, "select line_no, reason_code, record_key, payload is not null, raw_text is not null "
                             "from raw.rejects where batch_id = %s order by line_no", b.batch_id)
    assert [(g[0], g[1]) for g in got] == [(n, bad[n][1]) for n in sorted(bad)]
    by_line = {g[0]: g for g in got}
    assert by_line[3][2:] == (None, False, True)  # unparseable: raw text only
    assert by_line[11][2:] == ("C-1", True, False)
    assert by_line[35][2] == "C-6"  # decoded leniently to find the key
    assert by_line[43][2:] == ("N\\x00L", False, True)
    landed = rows(warehouse_db, "select record_key, payload->>'NgayCapNhat' from raw.onestop__dossiers "
                                "where batch_id = %s", b.batch_id)
    assert sorted(k for k, _ in landed) == sorted(r["MaHoSo"] for r in good)
    assert dict(landed)["G-5"] == ts(d, 10)


def test_missing_manifest_refuses_and_lands_nothing_of_it(warehouse_db, tmp_path):
    d = day(2)
    write_good_day(tmp_path, d)
    (tmp_path / "onestop" / d.isoformat() / "_manifest.json").unlink()
    with pytest.raises(DeliveryRefused) as exc:
        land_day(warehouse_db, FileSource(tmp_path), d, pseudonym_key=KEY)
    msg = str(exc.value)
    folder = tmp_path / "onestop" / d.isoformat()
    assert "2 deliveries of 2025-05-03 refused" in msg and f"{folder} has no _manifest.json" in msg
    assert [r.feed for r in exc.value.refusals] == ["dossiers", "steps"]
    result = exc.value.result
    assert [(b.feed, b.status) for b in result] == [
        ("units", "landed"), ("procedures", "landed"), ("dossiers", "refused"), ("steps", "refused"),
        ("documents", "landed")]
    assert rows(warehouse_db, "select count(*) from raw.onestop__dossiers where source_day = %s", d) == [(0,)]
    assert rows(warehouse_db, "select count(*) from raw.onestop__steps where source_day = %s", d) == [(0,)]
    logged = rows(warehouse_db, "select feed, status, message from raw.load_batches "
                                "where system = 'onestop' and source_day = %s order by feed", d)
    assert [(f, s) for f, s, _ in logged] == [("dossiers", "refused"), ("steps", "refused")]
    assert "not complete" in logged[0][2]


def test_mismatched_files_are_refused_then_a_fixed_delivery_lands(warehouse_db, tmp_path):
    d = day(3)
    write_reference_day(tmp_path, d)
    dossiers = [dossier(f"M-{i}", d) for i in range(4)]
    steps = [step("M-1", 1, d)]
    data = gz(dossiers)
    write_export_day(tmp_path, "onestop", d, {"dossiers": dossiers, "steps": steps},
                     manifest_override={"dossiers.jsonl.gz": {"lines": 5, "sha256": hashlib.sha256(data).hexdigest()}})
    write_export_day(tmp_path, "edoc", d, {"documents": [document("D-3", d)]},
                     manifest_override={"documents.jsonl.gz": {"lines": 1, "sha256": "0" * 64}})
    with pytest.raises(DeliveryRefused) as exc:
        land_day(warehouse_db, FileSource(tmp_path), d, pseudonym_key=KEY)
    msg = str(exc.value)
    assert "line count expected 5 (manifest), actual 4" in msg
    assert f"sha256 expected {'0' * 64} (manifest), actual" in msg
    assert {(b.feed, b.status) for b in exc.value.result} >= {
        ("dossiers", "refused"), ("steps", "landed"), ("documents", "refused")}
    assert rows(warehouse_db, "select count(*) from raw.onestop__dossiers where source_day = %s", d) == [(0,)]
    assert rows(warehouse_db, "select count(*) from raw.onestop__steps where source_day = %s", d) == [(1,)]
    # the source re-delivers the day correctly
    write_export_day(tmp_path, "onestop", d, {"dossiers": dossiers, "steps": steps})
    write_export_day(tmp_path, "edoc", d, {"documents": [document("D-3", d)]})
    result = land_day(warehouse_db, FileSource(tmp_path), d, pseudonym_key=KEY)
    assert [(b.feed, b.status) for b in result] == [
        ("units", "unchanged"), ("procedures", "unchanged"), ("dossiers", "landed"), ("steps", "unchanged"),
        ("documents", "landed")]
    assert rows(warehouse_db, "select count(*) from raw.onestop__dossiers where source_day = %s", d) == [(4,)]


def test_changed_delivery_lands_a_new_batch(warehouse_db, tmp_path):
    d = day(4)
    write_good_day(tmp_path, d, n=3)
    first = land_day(warehouse_db, FileSource(tmp_path), d, pseudonym_key=KEY)
    write_export_day(tmp_path, "edoc", d, {"documents": [document("D-9", d)]})
    second = land_day(warehouse_db, FileSource(tmp_path), d, pseudonym_key=KEY)
    assert second.feed("documents").status == "landed"
    assert second.feed("documents").batch_id > first.feed("documents").batch_id
    assert second.feed("dossiers").status == "unchanged"
    assert rows(warehouse_db, "select count(*) from raw.edoc__documents where source_day = %s", d) == [(4,)]


def test_feeds_needing_references_are_refused_without_them(warehouse_db, tmp_path):
    d = dt.date(2024, 1, 2)  # before any reference list of this module
    write_export_day(tmp_path, "onestop", d, {"dossiers": [dossier("R-1", d)], "steps": [step("R-1", 1, d)]})
    with pytest.raises(DeliveryRefused, match="no units reference list landed on or before 2024-01-02"):
        land_day(warehouse_db, FileSource(tmp_path), d, feeds=["dossiers", "steps"], pseudonym_key=KEY)
    # steps need no reference list: they landed
    assert rows(warehouse_db, "select count(*) from raw.onestop__steps where source_day = %s", d) == [(1,)]


def test_api_mode_lands_what_file_mode_lands(warehouse_db, tmp_path):
    d = day(5)
    write_reference_day(tmp_path, d)
    dossiers = [dossier(f"A-{i}", d, ChuHoSo=f"Phạm Thị {i}") for i in range(25)]
    dossiers[4] = dossier("A-4", d, KenhThucHien="7")  # rejected in both modes
    write_export_day(tmp_path, "onestop", d, {"dossiers": dossiers + [b'{"MaHoSo": "cut'],
                                              "steps": [step(x["MaHoSo"], 1, d) for x in dossiers]})
    write_export_day(tmp_path, "edoc", d, {"documents": [document(f"E-{i}", d) for i in range(5)]})
    by_file = land_day(warehouse_db, FileSource(tmp_path), d, pseudonym_key=KEY)
    with ExportApi(tmp_path, faults=[(429, {"Retry-After": "0"}), (503, {})]) as api:
        src = ApiSource(api.url, "secret", page_limit=10, backoff=0.001)
        by_api = land_day(warehouse_db, src, d, pseudonym_key=KEY, run_id="api")
    assert src.retries == 2
    for f, a in zip(by_file, by_api, strict=True):
        assert a.status == "landed" and a.batch_id != f.batch_id
        table = f"raw.{f.system}__{f.feed}"
        q = f"select record_key, payload from {table} where batch_id = %s"
        assert sorted(map(repr, rows(warehouse_db, q, f.batch_id))) == sorted(map(repr, rows(warehouse_db, q, a.batch_id)))
    assert by_api.feed("dossiers").rows_rejected == 1 and by_file.feed("dossiers").rows_rejected == 2
    assert rows(warehouse_db, "select distinct delivery from raw.load_batches where run_id = 'api'") == [("api",)]
    assert by_api.feed("dossiers").lines_read == 25


def test_no_personal_data_in_clear_anywhere(warehouse_db, tmp_path):
    """Scans every text and jsonb column of every table of the module's database."""
    d = day(6)
    write_reference_day(tmp_path, d)
    text = json.dumps(dossier("P-3", d), ensure_ascii=False)
    lines = [dossier("P-1", d), dossier("P-2", d, KenhThucHien="X"),
             text[: text.index("Minh Khai") + 6].encode(), text.encode("utf-8")[:-3] + b"\xff}"]
    write_export_day(tmp_path, "onestop", d, {"dossiers": lines, "steps": []})
    write_export_day(tmp_path, "edoc", d, {"documents": []})
    land_day(warehouse_db, FileSource(tmp_path), d, pseudonym_key=KEY)
    needles = list(PERSON.values()) + ["Minh Khai", "345 678", "Lê Văn Người", "Phạm Thị", "0011900"]
    with psycopg.connect(warehouse_db) as conn:
        columns = conn.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where data_type in ('text', 'jsonb', 'json', 'character varying') "
            "and table_schema not in ('pg_catalog', 'information_schema')").fetchall()
        assert ("raw", "rejects", "raw_text") in columns
        scanned = 0
        for schema, table, column in columns:
            for needle in needles:
                hits = conn.execute(
                    f'select count(*) from "{schema}"."{table}" where "{column}"::text like %s',
                    (f"%{needle}%",)).fetchone()[0]
                assert hits == 0, f"{needle!r} in clear in {schema}.{table}.{column}"
            scanned += conn.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
        assert scanned > 50
        hashed = conn.execute("select count(*) from raw.onestop__dossiers "
                              "where payload->>'ChuHoSo' like 'hmac256:%%'").fetchone()[0]
        assert hashed > 20


def test_an_open_connection_and_an_empty_reference_list(warehouse_db, tmp_path):
    d = day(7)
    write_good_day(tmp_path, d, n=2)
    write_export_day(tmp_path, "reference", d, {"units": [], "procedures": []})
    with (psycopg.connect(warehouse_db) as conn,  # not autocommit
          pytest.raises(DeliveryRefused, match="the units reference list of 2025-05-08 is empty")):
        land_day(conn, FileSource(tmp_path), d, pseudonym_key=KEY)
    # committed although the caller never committed; the earlier day's lists checked the dossiers
    assert rows(warehouse_db, "select count(*) from raw.onestop__dossiers where source_day = %s", d) == [(2,)]
    assert rows(warehouse_db, "select count(*) from raw.rejects where source_day = %s", d) == [(0,)]
    assert rows(warehouse_db, "select feed, status from raw.load_batches where system = 'reference' "
                              "and source_day = %s order by feed", d) == [("procedures", "refused"), ("units", "refused")]


def test_a_rotated_pseudonymisation_key_hashes_new_landings_differently(warehouse_db, tmp_path):
    """Runbook "rotate the pseudonymisation key": landings after the rotation carry the new key's
    hashes (the same person no longer links across the rotation), nothing landed before changes,
    and the run log names the key by its fingerprint only."""
    from cchc.settings import key_fingerprint

    new_key = b"rotated-loader-key-9876543210"
    d1, d2 = day(20), day(21)
    for d in (d1, d2):
        write_reference_day(tmp_path, d)
        write_export_day(tmp_path, "onestop", d, {"dossiers": [dossier(f"ROT-{d:%d}", d)], "steps": []})
    land_day(warehouse_db, FileSource(tmp_path), d1, feeds=["units", "procedures", "dossiers"],
             pseudonym_key=KEY, run_id="before-rotation")
    before = rows(warehouse_db, "select payload ->> 'ChuHoSo' from raw.onestop__dossiers "
                                "where record_key = 'ROT-21'")
    land_day(warehouse_db, FileSource(tmp_path), d2, feeds=["units", "procedures", "dossiers"],
             pseudonym_key=new_key, run_id="after-rotation")
    old, = rows(warehouse_db, "select payload ->> 'ChuHoSo' from raw.onestop__dossiers where record_key = 'ROT-21'")
    new, = rows(warehouse_db, "select payload ->> 'ChuHoSo' from raw.onestop__dossiers where record_key = 'ROT-22'")
    assert old[0].startswith("hmac256:") and new[0].startswith("hmac256:") and old[0] != new[0]
    assert rows(warehouse_db, "select payload ->> 'ChuHoSo' from raw.onestop__dossiers "
                              "where record_key = 'ROT-21'") == before
    assert key_fingerprint(KEY) != key_fingerprint(new_key) and KEY.decode() not in key_fingerprint(KEY)
