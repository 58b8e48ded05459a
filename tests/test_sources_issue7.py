"""The sources of issue 7: feeds onestop/feedback and onestop/ratings, the reference list targets.

Real PostgreSQL, real landings from hand-made export folders and through the HTTP API, the real
batch gate (GX), the ledger's state merge, a real dbt run of the staging models, and the
completeness rule for a feed that appeared after deliveries had begun.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import psycopg
import pytest

from cchc.extract import ApiSource, DeliveryRefused, FileSource
from cchc.land import land_day
from cchc.ledger import completeness, list_batches, record_gate, refresh_state
from cchc.ledger.completeness import feed_required
from cchc.quality import RAW_BATCH_SUITES, run_gate
from cchc.raw.schema import FEEDS
from cchc.transform.dbt_runner import raise_for_failures, run_dbt
from export_fixtures import (UNITS, ExportApi, dossier, feedback, procedure, rating, step, target, ts, unit,
                             write_export_day, write_reference_day)

KEY = b"issue7-test-key-0123456789"
D = dt.date(2025, 5, 5)  # hand-built landing days of this module: D, D + 1, ... (each test its own)
FEED = {f.name: f for f in FEEDS}


def day(n: int) -> dt.date:
    return D + dt.timedelta(days=n)


def gen(d: dt.date) -> str:
    return f"{(d + dt.timedelta(days=1)).isoformat()}T03:10:00+07:00"


def reference_lists(d: dt.date, targets: list | None = None) -> dict:
    units = [unit(UNITS[0], Level="TINH"), unit(UNITS[1], Level="SO", ParentId=UNITS[0]),
             unit(UNITS[2], Level="XA", ParentId=UNITS[0])]
    files = {"units": units, "procedures": [procedure("1.004227")]}
    if targets is not None:
        files["targets"] = targets
    return files


def good_targets() -> list[dict]:
    return [target("", "SO", 2025, "online_dossiers_share", 0.5),
            target(UNITS[1], "SO", 2025, "online_dossiers_share", "0.6"),
            target("", "XA", 2025, "satisfaction_share", 0.9)]


def rows(url, sql, *params):
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def gate_all(conn, failed=()):
    pending = [r["batch_id"] for r in list_batches(conn, dispositions=["pending"], limit=1000)]
    record_gate(conn, "issue7-test", passed=[b for b in pending if b not in failed],
                failed={b: "test says no" for b in failed})
    conn.commit()


def rejects(url, batch_id) -> list[tuple]:
    return rows(url, "select line_no, reason_code from raw.rejects where batch_id = %s order by line_no", batch_id)


@pytest.fixture(scope="module")
def url(warehouse_db):
    return warehouse_db


# -- landing, file mode ----------------------------------------------------------------------------

FEEDBACK_BAD = {  # line -> (record, reason)
    2: (lambda d: feedback("F-BAD-1", d, Kenh="fax"), "unknown_code"),
    3: (lambda d: feedback("F-BAD-2", d, PhanLoai=""), "unknown_code"),
    4: (lambda d: feedback("F-BAD-3", d, KetQua="OK"), "unknown_code"),
    5: (lambda d: feedback("", d), "missing_key"),
    6: (lambda d: feedback("F-BAD-4", d, NgayTiepNhan=""), "bad_timestamp"),
    7: (lambda d: feedback("F-BAD-5", d, NgayXuLy="2025-13-45"), "bad_timestamp"),
    8: (lambda d: feedback("F-BAD-6", d, NgayTiepNhan=ts(d, 12), NgayXuLy=ts(d, 9)), "dates_out_of_order"),
    9: (lambda d: feedback("F-BAD-7", d, HanXuLy="20990101000000"), "implausible_timestamp"),
    10: (lambda d: feedback("F-BAD-8", d, NgayCapNhat=ts(d - dt.timedelta(days=1))), "outside_snapshot_day"),
    11: (lambda d: feedback("F-BAD-9", d, DonViXuLy="000.99.99.H99"), "unknown_reference"),
    12: (lambda d: feedback("F-1", d, NgayCapNhat=ts(d, 10, 30)), "duplicate"),  # older version of F-1
    13: (lambda d: b'{"MaPAKN": "F-BAD-10", "Kenh": "10', "invalid_json"),
}
RATINGS_BAD = {
    3: (lambda d: rating("R-BAD-1", d, MucDo="5"), "unknown_code"),
    4: (lambda d: rating("R-BAD-2", d, MucDo=""), "unknown_code"),
    5: (lambda d: rating("", d), "missing_key"),
    6: (lambda d: rating("R-BAD-3", d, NgayDanhGia=""), "bad_timestamp"),
    7: (lambda d: rating("R-BAD-4", d, NgayDanhGia=ts(d, 15)), "dates_out_of_order"),  # after NgayCapNhat
    8: (lambda d: rating("R-BAD-5", d, NgayDanhGia="20100101000000"), "implausible_timestamp"),  # 15 years back
}
TARGETS_BAD = {
    4: (lambda: target(UNITS[2], "SO", 2025, "online_dossiers_share", 0.5), "reference_mismatch"),  # an XA unit
    5: (lambda: target("000.99.99.H99", "SO", 2025, "online_dossiers_share", 0.5), "unknown_reference"),
    6: (lambda: target("", "SO", "20x5", "online_dossiers_share", 0.5), "bad_number"),
    7: (lambda: target("", "SO", 2026, "online_dossiers_share", 50), "bad_number"),  # 50 %, not a share
    8: (lambda: target("", "SO", 2026, "online_payment_share", None), "bad_number"),
    9: (lambda: target("", "BO", 2026, "online_payment_share", 0.5), "unknown_code"),
    10: (lambda: target("", "SO", 2026, "", 0.5), "missing_key"),
    11: (lambda: target("", "SO", 2025, "online_dossiers_share", 0.4, NgayCapNhat="20241231000000"),
         "duplicate"),  # same key as line 1, older
}


def write_full_day(root, d, *, feedback_lines=None, rating_lines=None, targets=None, generated_at=None):
    generated_at = generated_at or gen(d)
    codes = [f"{UNITS[1]}-{d:%y%m%d}-{i:04d}" for i in range(3)]
    write_export_day(root, "reference", d, reference_lists(d, good_targets() if targets is None else targets),
                     generated_at=generated_at)
    onestop = {"dossiers": [dossier(c, d, TrangThaiHoSo="9", NgayKetThucXuLy=ts(d, 9, 30)) for c in codes],
               "steps": [step(c, 1, d) for c in codes]}
    onestop["feedback"] = feedback_lines if feedback_lines is not None else \
        [feedback("F-1", d, MaHoSo=codes[0]), feedback("F-2", d, Kenh="desk", PhanLoai="CANBO", NgayXuLy="",
                                                        KetQua="")]
    onestop["ratings"] = rating_lines if rating_lines is not None else [rating(codes[0], d)]
    write_export_day(root, "onestop", d, onestop, generated_at=generated_at)
    write_export_day(root, "edoc", d, {"documents": []}, generated_at=generated_at)
    return codes


def test_feedback_ratings_and_targets_land_from_files_each_bad_line_with_its_reason(url, tmp_path):
    d = day(0)
    fb = [feedback("F-1", d)]
    for n in sorted(FEEDBACK_BAD):
        fb.insert(n - 1, FEEDBACK_BAD[n][0](d))
    ra = [rating(f"{UNITS[1]}-{d:%y%m%d}-0000", d), rating("000.00.02.H26-250101-0001", d)]  # 2nd: an unknown dossier
    for n in sorted(RATINGS_BAD):
        ra.insert(n - 1, RATINGS_BAD[n][0](d))
    tg = good_targets()
    for n in sorted(TARGETS_BAD):
        tg.insert(n - 1, TARGETS_BAD[n][0]())
    write_full_day(tmp_path, d, feedback_lines=fb, rating_lines=ra, targets=tg)
    result = land_day(url, FileSource(tmp_path), d, pseudonym_key=KEY, run_id="issue7-files")
    assert [(b.feed, b.status) for b in result] == [
        ("units", "landed"), ("procedures", "landed"), ("targets", "landed"), ("dossiers", "landed"),
        ("steps", "landed"), ("feedback", "landed"), ("ratings", "landed"), ("documents", "landed")]
    b = result.feed("feedback")
    assert (b.lines_read, b.rows_landed, b.rows_rejected) == (len(fb), 1, len(FEEDBACK_BAD))
    assert rejects(url, b.batch_id) == [(n, FEEDBACK_BAD[n][1]) for n in sorted(FEEDBACK_BAD)]
    assert rows(url, "select payload ->> 'NgayCapNhat' from raw.onestop__feedback where batch_id = %s",
                b.batch_id) == [(ts(d, 11),)]  # the newer version of F-1 is kept
    b = result.feed("ratings")
    assert rejects(url, b.batch_id) == [(n, RATINGS_BAD[n][1]) for n in sorted(RATINGS_BAD)]
    # a vote for a dossier the warehouse does not hold is kept (it may be older, or come later)
    assert sorted(k for (k,) in rows(url, "select record_key from raw.onestop__ratings where batch_id = %s",
                                      b.batch_id)) == ["000.00.02.H26-250101-0001", f"{UNITS[1]}-{d:%y%m%d}-0000"]
    b = result.feed("targets")
    assert rejects(url, b.batch_id) == [(n, TARGETS_BAD[n][1]) for n in sorted(TARGETS_BAD)]
    keys = [k for (k,) in rows(url, "select record_key from raw.reference__targets where batch_id = %s "
                                    "order by line_no", b.batch_id)]
    assert keys == ["|SO|2025|online_dossiers_share", f"{UNITS[1]}|SO|2025|online_dossiers_share",
                    "|XA|2025|satisfaction_share"]
    reason = rows(url, "select reason from raw.rejects where batch_id = %s and line_no = 7", b.batch_id)[0][0]
    assert "TargetValue = 50 is outside 0..1" in reason


def test_api_mode_lands_the_same_records_and_a_server_without_the_new_feeds_is_not_refused(url, tmp_path):
    d = day(1)
    write_full_day(tmp_path, d, rating_lines=[rating(f"{UNITS[1]}-{d:%y%m%d}-0000", d),
                                              rating("R-BAD", d, MucDo="7")])
    with ExportApi(tmp_path) as api:
        result = land_day(url, ApiSource(api.url, token="secret"), d, pseudonym_key=KEY, run_id="issue7-api")
    assert {b.feed: (b.status, b.rows_landed, b.rows_rejected) for b in result} == {
        "units": ("landed", 3, 0), "procedures": ("landed", 1, 0), "targets": ("landed", 3, 0),
        "dossiers": ("landed", 3, 0), "steps": ("landed", 3, 0), "feedback": ("landed", 2, 0),
        "ratings": ("landed", 1, 1), "documents": ("landed", 0, 0)}
    assert rejects(url, result.feed("ratings").batch_id) == [(2, "unknown_code")]
    assert rows(url, "select distinct delivery from raw.load_batches where run_id = 'issue7-api'") == [("api",)]
    # an older server: the day's exports do not carry the new feeds -> 404 -> not delivered, no batch
    # (a day before the first day feedback, ratings and targets landed in this warehouse)
    d2 = D - dt.timedelta(days=3)
    write_reference_day(tmp_path, d2, generated_at=gen(d2))
    write_export_day(tmp_path, "onestop", d2, {"dossiers": [dossier("OLD-1", d2)], "steps": []}, generated_at=gen(d2))
    write_export_day(tmp_path, "edoc", d2, {"documents": []}, generated_at=gen(d2))
    with ExportApi(tmp_path) as api:
        old = land_day(url, ApiSource(api.url, token="secret"), d2, pseudonym_key=KEY, run_id="issue7-api-old")
    assert [(b.feed, b.status) for b in old] == [(f, "landed") for f in ("units", "procedures", "dossiers", "steps",
                                                                         "documents")]


# -- the batch gate --------------------------------------------------------------------------------

def test_raw_suites_of_the_new_feeds_pass_good_batches_and_block_a_garbage_batch(url, tmp_path, monkeypatch):
    assert {"raw_onestop__feedback", "raw_onestop__ratings", "raw_reference__targets"} <= set(RAW_BATCH_SUITES)
    d = day(3)
    garbage = [feedback(f"G-{i}", d, Kenh="fax") for i in range(12)] + [feedback("G-OK", d)]
    write_full_day(tmp_path, d, feedback_lines=garbage)
    result = land_day(url, FileSource(tmp_path), d, feeds=["units", "procedures", "targets", "dossiers", "steps",
                                                           "feedback", "ratings"], pseudonym_key=KEY)
    ids = [b.batch_id for b in result if b.status == "landed"]
    gate = run_gate(url, ["raw_onestop__feedback", "raw_onestop__ratings", "raw_reference__targets"],
                    schema_map={"raw": "raw"}, run_id="issue7-gate", report_dir=tmp_path / "gx",
                    batch_filter=f"batch_id in ({','.join(map(str, ids))})", report_name="issue7")
    failed = {f.split(":")[0] for f in gate.failures}
    assert failed == {"raw_onestop__feedback.reject_share_under_threshold"}, gate.failures
    assert str(result.feed("feedback").batch_id) in " ".join(gate.failures)
    assert gate.checks_evaluated >= 3 * 5


# -- the ledger: state, staging, completeness ------------------------------------------------------

def test_state_and_staging_give_the_documented_columns(url, tmp_path):
    d1, d2 = day(4), day(5)
    codes = write_full_day(tmp_path, d1)
    land_day(url, FileSource(tmp_path), d1, feeds=["units", "procedures", "targets", "dossiers", "steps",
                                                   "feedback", "ratings"], pseudonym_key=KEY)
    # the next day: F-2 answered and judged, a second vote on the same dossier replaces the first,
    # and one target revised
    revised = good_targets()
    revised[1] = target(UNITS[1], "SO", 2025, "online_dossiers_share", 0.65, NgayCapNhat=ts(d2, 7))
    write_export_day(tmp_path, "reference", d2, reference_lists(d2, revised), generated_at=gen(d2))
    write_export_day(tmp_path, "onestop", d2, {
        "dossiers": [], "steps": [],
        "feedback": [feedback("F-2", d1, Kenh="desk", PhanLoai="CANBO", NgayXuLy=ts(d2, 9), KetQua="KHONG_HAI_LONG",
                              NgayCapNhat=ts(d2, 16))],
        "ratings": [rating(codes[0], d2, MucDo="3")]}, generated_at=gen(d2))
    land_day(url, FileSource(tmp_path), d2, feeds=["units", "procedures", "targets", "dossiers", "steps",
                                                   "feedback", "ratings"], pseudonym_key=KEY)
    with psycopg.connect(url) as conn:
        gate_all(conn)
        stats = refresh_state(conn, d2)
        assert stats.tables["onestop__feedback"]["rows"] >= 2 and stats.tables["reference__targets"]["rows"] == 3
    vars = {"as_of_date": d2.isoformat(), "publication_id": 0, "run_id": "issue7-staging"}
    selected = ("source_code_lists stg_onestop__feedback stg_onestop__ratings stg_reference__targets "
                "stg_landing__load_batches stg_landing__reference_targets int_targets_history")
    built = raise_for_failures(run_dbt(["build", "--select", selected, "--indirect-selection", "cautious"],
                                       url=url, vars=vars), url=url)
    tested = {r["unique_id"] for r in built.results if r["resource_type"] == "test"}
    assert any("stg_onestop__feedback" in t for t in tested) and any("int_targets_history" in t for t in tested)
    fb = rows(url, "select feedback_id, channel_code, dossier_id, unit_id, category_code, received_at, "
                   "handling_due_at, handled_at, verdict_code, updated_at, source_day "
                   "from stg.stg_onestop__feedback where feedback_id in ('F-1', 'F-2') and source_day >= %s "
                   "order by 1", d1)
    assert fb == [
        ("F-1", "1022", codes[0], UNITS[1], "TTHC", dt.datetime(2025, 5, 9, 8), dt.datetime(2025, 5, 23, 17),
         dt.datetime(2025, 5, 9, 10), "HAI_LONG", dt.datetime(2025, 5, 9, 11), d1),
        ("F-2", "desk", None, UNITS[1], "CANBO", dt.datetime(2025, 5, 9, 8), dt.datetime(2025, 5, 23, 17),
         dt.datetime(2025, 5, 10, 9), "KHONG_HAI_LONG", dt.datetime(2025, 5, 10, 16), d2)]
    cols = [c for (c,) in rows(url, "select column_name from information_schema.columns where table_schema = 'stg' "
                                    "and table_name = %s order by ordinal_position", "stg_onestop__feedback")]
    assert cols == ["feedback_id", "channel_code", "dossier_id", "unit_id", "category_code", "received_at",
                    "handling_due_at", "handled_at", "verdict_code", "updated_at", "source_day", "batch_id",
                    "line_no", "merge_id"]
    assert rows(url, "select dossier_id, rating_code, rated_at, source_day from stg.stg_onestop__ratings "
                     "where dossier_id = %s", codes[0]) == [(codes[0], "3", dt.datetime(2025, 5, 10, 14), d2)]
    cols = [c for (c,) in rows(url, "select column_name from information_schema.columns where table_schema = 'stg' "
                                    "and table_name = %s order by ordinal_position", "stg_onestop__ratings")]
    assert cols == ["dossier_id", "rating_code", "rated_at", "updated_at", "source_day", "batch_id", "line_no",
                    "merge_id"]
    assert rows(url, "select unit_id, unit_level, target_year, indicator_code, target_value, source_day "
                     "from stg.stg_reference__targets order by unit_level, unit_id nulls first") == [
        (None, "SO", 2025, "online_dossiers_share", Decimal("0.5"), d2),
        (UNITS[1], "SO", 2025, "online_dossiers_share", Decimal("0.65"), d2),
        (None, "XA", 2025, "satisfaction_share", Decimal("0.9"), d2)]
    types = dict(rows(url, "select column_name, data_type from information_schema.columns "
                           "where table_schema = 'stg' and table_name = 'stg_reference__targets'"))
    assert (types["target_year"], types["target_value"]) == ("integer", "numeric")
    # the history: the revised unit row is two stretches; the others one, from the first list in force
    history = rows(url, "select unit_id, target_value, valid_from, valid_to from int.int_targets_history "
                        "where indicator_code = 'online_dossiers_share' and unit_id is not null order by valid_from")
    first = rows(url, "select min(source_day) from raw.load_batches where feed = 'targets' and disposition = 'in_force'")[0][0]
    assert history == [(UNITS[1], Decimal("0.6"), first, d1), (UNITS[1], Decimal("0.65"), d2, None)]


def test_a_feed_that_appeared_later_is_required_from_its_first_day_only(server_url, server_admin_url, tmp_path):
    """Days delivered before the source carried feedback and ratings stay complete; from the first day
    they landed on, a day without them is missing."""
    import uuid

    from cchc.warehouse import create_database, drop_database, url_parts, with_database

    name = f"cchc_test_issue7_{uuid.uuid4().hex[:8]}"
    create_database(server_admin_url, name, owner=url_parts(server_url)["user"])
    db = with_database(server_url, name)
    try:
        d1, d2, d3, d4 = (dt.date(2025, 6, 2) + dt.timedelta(days=i) for i in range(4))
        for d in (d1, d2):  # an older exporter: no feedback, ratings, targets
            write_reference_day(tmp_path, d, generated_at=gen(d))
            write_export_day(tmp_path, "onestop", d, {"dossiers": [dossier(f"A-{d:%d}", d)], "steps": []},
                             generated_at=gen(d))
        write_full_day(tmp_path, d3)
        write_reference_day(tmp_path, d4, generated_at=gen(d4))  # d4: feedback missing again
        write_export_day(tmp_path, "onestop", d4, {"dossiers": [dossier("A-4", d4)], "steps": [],
                                                   "ratings": []}, generated_at=gen(d4))
        feeds = ["units", "procedures", "targets", "dossiers", "steps", "feedback", "ratings"]
        for d in (d1, d2):
            result = land_day(db, FileSource(tmp_path), d, feeds=feeds, pseudonym_key=KEY)
            assert {b.feed for b in result} == {"units", "procedures", "dossiers", "steps"}  # nothing refused
        with psycopg.connect(db) as conn:
            assert not feed_required(conn, FEED["feedback"], d2) and feed_required(conn, FEED["dossiers"], d1)
            gate_all(conn)
            c = completeness(conn)
            assert c.complete_through == {"onestop": d2} and not any(c.missing_days.values())
        land_day(db, FileSource(tmp_path), d3, feeds=feeds, pseudonym_key=KEY)
        with pytest.raises(DeliveryRefused, match="feedback.jsonl.gz is missing"):
            land_day(db, FileSource(tmp_path), d4, feeds=feeds, pseudonym_key=KEY)
        with psycopg.connect(db) as conn:
            gate_all(conn)
            assert feed_required(conn, FEED["feedback"], d3) and not feed_required(conn, FEED["feedback"], d2)
            c = completeness(conn)
            # d1, d2 (before the feed existed) stay complete; d4 lacks its feedback: missing
            assert c.complete_through == {"onestop": d3} and c.missing_days == {"onestop": [d4]}
            refused = conn.execute("select feed, source_day from raw.load_batches where status = 'refused' "
                                   "order by feed").fetchall()
            assert refused == [("feedback", d4), ("targets", d4)]  # both landed before: required now
    finally:
        drop_database(server_admin_url, name)
