"""Bad values are rejects, not outages: deep, huge, unparseable and implausible lines, through land_day.

Real PostgreSQL; export folders written by ``export_fixtures``; API mode through the tiny HTTP API.
Every bad line must be a reject with its own reason code, and every good line of the same delivery
must land.
"""

from __future__ import annotations

import datetime as dt
import json

import psycopg
import pytest
from export_fixtures import (
    UNITS,
    ExportApi,
    document,
    dossier,
    procedure,
    step,
    ts,
    unit,
    write_export_day,
)

from cchc.contracts import CONTRACTS
from cchc.extract import ApiSource, FileSource
from cchc.land import land_day
from cchc.land.pseudonymise import Pseudonymiser
from cchc.land.validate import Validator, nesting_exceeds, value_depth_exceeds
from cchc.settings import LandingLimits

KEY = b"bad-values-test-key-0123456789"
# two fields, so that a dossier can name a field that exists but is not its procedure's
PROCS = {"1.004227": "LV01", "1.001612": "LV01", "2.000889": "LV02"}


def day(n: int) -> dt.date:
    return dt.date(2025, 5, 12) + dt.timedelta(days=n)


def write_reference(root, d):
    write_export_day(root, "reference", d, {
        "units": [unit(u) for u in UNITS],
        "procedures": [procedure(p, MaLinhVuc=f, TenLinhVuc=f"Lĩnh vực {f}") for p, f in PROCS.items()]})


def rows(url: str, sql: str, *params) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def rejects(url: str, batch_id: int) -> dict[int, tuple]:
    return {r[0]: r[1:] for r in rows(url, "select line_no, reason_code, reason, record_key, payload is not null, "
                                           "raw_text from raw.rejects where batch_id = %s", batch_id)}


def deep(levels: int) -> bytes:
    return b'{"MaHoSo": "DEEP", "x": ' + b"[" * levels + b"]" * levels + b"}"


def test_bad_values_are_rejects_and_every_good_line_lands(warehouse_db, tmp_path):
    d = day(0)
    write_reference(tmp_path, d)
    received = ts(d, 9)
    good = [dossier(f"G-{i}", d, MaTTHC=list(PROCS)[i % 3], MaLinhVuc=list(PROCS.values())[i % 3])
            for i in range(30)]
    good.append(dossier("G-due-late-but-plausible", d, NgayHenTra=ts(d + dt.timedelta(days=400), 17)))
    good.append(dossier("G-no-field", d, MaLinhVuc=""))  # no field: left to the report's exclusion rules
    bad = {
        "deep": (deep(5000), "too_deep"),
        "huge": (json.dumps(dossier("HUGE", d, TrichYeuHoSo="x" * (10 * 1024 * 1024))).encode(), "line_too_large"),
        "bigint": (b'{"MaHoSo": "BIGINT", "n": ' + b"7" * 5000 + b"}", "invalid_json"),  # int too long for Python
        "due_2099": (dossier("DUE-2099", d, NgayHenTra="20991231170000"), "implausible_timestamp"),
        "due_before": (dossier("DUE-BEFORE", d, NgayHenTra="20220506170000"), "implausible_timestamp"),
        "received_future": (dossier("REC-FUTURE", d, NgayNopHoSo=ts(d, 8), NgayTiepNhan=ts(d + dt.timedelta(days=2))),
                            "implausible_timestamp"),
        "submitted_ancient": (dossier("SUB-1999", d, NgayNopHoSo="19990101080000"), "implausible_timestamp"),
        "supplement_2099": (dossier("SUPP-2099", d, DanhSachHoSoBoSung=[{
            "HoSoBoSungId": "1", "NgayYeuCauBoSung": ts(d, 10), "NgayTiepNhanBoSung": "",
            "NgayHenTraTruoc": ts(d + dt.timedelta(days=10), 17), "NgayHenTraMoi": "20990101170000"}]),
            "implausible_timestamp"),
        "field_unknown": (dossier("FIELD-X", d, MaLinhVuc="LV99"), "reference_mismatch"),
        "field_other": (dossier("FIELD-OTHER", d, MaTTHC="1.004227", MaLinhVuc="LV02"), "reference_mismatch"),
    }
    lines = list(good)
    where = {}
    for i, (line, _) in enumerate(bad.values()):
        at = 3 * i + 1
        lines.insert(at, line)
    for n, line in enumerate(lines, 1):
        for name, (b, _) in bad.items():
            if line is b:
                where[n] = name
    steps = [step("G-1", 1, d), step("G-2", 1, d, NgayKetThucTheoQuyDinh="20990101170000")]
    docs = [document("D-1", d), document("D-2", d, Direction="IN", HandlingDueDate="20990101170000")]
    write_export_day(tmp_path, "onestop", d, {"dossiers": lines, "steps": steps})
    write_export_day(tmp_path, "edoc", d, {"documents": docs})

    result = land_day(warehouse_db, FileSource(tmp_path), d, pseudonym_key=KEY)

    b = result.feed("dossiers")
    assert (b.lines_read, b.rows_landed, b.rows_rejected) == (len(lines), len(good), len(bad))
    got = rejects(warehouse_db, b.batch_id)
    assert {n: got[n][0] for n in got} == {n: bad[where[n]][1] for n in where}
    landed = {k for (k,) in rows(warehouse_db, "select record_key from raw.onestop__dossiers where batch_id = %s",
                                 b.batch_id)}
    assert landed == {g["MaHoSo"] for g in good}
    by_name = {where[n]: got[n] for n in where}
    # the reasons say what and which setting, and the keys of parsed lines are kept
    assert "CCHC_LANDING_MAX_DUE_YEARS_AHEAD" in by_name["due_2099"][1] and by_name["due_2099"][2] == "DUE-2099"
    assert "30 days before NgayTiepNhan" in by_name["due_before"][1]
    assert "after the end of the snapshot day" in by_name["received_future"][1]
    assert "10 years before the snapshot day" in by_name["submitted_ancient"][1]
    assert "DanhSachHoSoBoSung[].NgayHenTraMoi" in by_name["supplement_2099"][1]
    assert "no record of that list has MaLinhVuc 'LV99'" in by_name["field_unknown"][1]
    assert "MaLinhVuc of MaTTHC 1.004227" in by_name["field_other"][1]
    assert "no record" not in by_name["field_other"][1]
    assert by_name["deep"][4].startswith('{"MaHoSo": "DEEP", "x": [[[') and "cut: the line has 10025 bytes" in by_name["deep"][4]
    assert len(by_name["huge"][4]) < 3000 and "more than 2097152 (CCHC_LANDING_MAX_LINE_BYTES)" in by_name["huge"][1]
    assert by_name["bigint"][4] is not None
    # steps and documents deadlines go through the same rule
    s, doc = result.feed("steps"), result.feed("documents")
    assert (s.rows_landed, s.reasons) == (1, {"implausible_timestamp": 1})
    assert (doc.rows_landed, doc.reasons) == (1, {"implausible_timestamp": 1})
    assert received  # (keeps the fixture's reception visible in failures)


def test_limits_are_settings(warehouse_db, tmp_path, monkeypatch):
    d = day(1)
    write_reference(tmp_path, d)
    lines = [dossier("G-1", d), dossier("BIG", d, TrichYeuHoSo="y" * 5000),
             dossier("DEEPISH", d, TaiLieuNop=[[[[{"a": [1]}]]]]), dossier("G-2", d),
             dossier("DUE-3Y", d, NgayHenTra=ts(d + dt.timedelta(days=3 * 366), 17))]
    write_export_day(tmp_path, "onestop", d, {"dossiers": lines, "steps": []})
    monkeypatch.setenv("CCHC_LANDING_MAX_LINE_BYTES", "4000")
    monkeypatch.setenv("CCHC_LANDING_MAX_DEPTH", "4")
    monkeypatch.setenv("CCHC_LANDING_MAX_DUE_YEARS_AHEAD", "5")
    result = land_day(warehouse_db, FileSource(tmp_path), d, feeds=["units", "procedures", "dossiers"],
                      pseudonym_key=KEY)
    b = result.feed("dossiers")
    assert b.rows_landed == 3
    assert {n: r[0] for n, r in rejects(warehouse_db, b.batch_id).items()} == {2: "line_too_large", 3: "too_deep"}
    monkeypatch.setenv("CCHC_LANDING_MAX_DEPTH", "-1")
    with pytest.raises(ValueError, match="CCHC_LANDING_MAX_DEPTH"):
        LandingLimits.from_env()
    monkeypatch.setenv("CCHC_LANDING_MAX_DEPTH", "deep")
    with pytest.raises(ValueError, match="is not a number"):
        LandingLimits.from_env()


def test_api_items_deep_huge_or_odd_are_rejects(warehouse_db, tmp_path, monkeypatch):
    d = day(2)
    write_reference(tmp_path, d)
    nested: object = ["bottom"]
    for _ in range(200):  # the test server can still encode it; the limit is 32
        nested = [nested]
    items = [
        dossier("A-1", d),
        dossier("A-DEEP", d, TaiLieuNop=nested),
        dossier("A-HUGE", d, TrichYeuHoSo="z" * 300_000),
        ["a", "list"],
        dossier("A-NAN-KEY", d, MaHoSo=1.5),
        dossier("A-2", d),
        dossier("A-2099", d, NgayHenTra="20990101000000"),
    ]
    write_export_day(tmp_path, "onestop", d, {"dossiers": items, "steps": []})
    monkeypatch.setenv("CCHC_LANDING_MAX_LINE_BYTES", "200000")
    with ExportApi(tmp_path) as api:
        src = ApiSource(api.url, "secret", page_limit=3, backoff=0.001)
        result = land_day(warehouse_db, src, d, feeds=["units", "procedures", "dossiers"], pseudonym_key=KEY)
    b = result.feed("dossiers")
    assert (b.lines_read, b.rows_landed) == (7, 2)
    assert {n: r[0] for n, r in rejects(warehouse_db, b.batch_id).items()} == {
        2: "too_deep", 3: "line_too_large", 4: "not_an_object", 5: "missing_key", 7: "implausible_timestamp"}


def test_validator_survives_anything_a_line_holds():
    """Straight through the validator (no database): nothing raises, everything is accounted for."""
    d = day(3)
    refs = {"units": frozenset(UNITS), "procedures": {p: {"MaLinhVuc": f} for p, f in PROCS.items()}}
    v = Validator(CONTRACTS["dossiers"], d, Pseudonymiser(KEY), refs, LandingLimits())
    lines = [deep(100_000), b"[" * 50_000, b'{"a": "' + b"[" * 40 + b'"}', b"\xff\xfe" + b"{\x00" * 40,
             b'{"MaHoSo": "X", "v": 1e999999}', b'{"MaHoSo": "X", "v": -Infinity}', b"\x00" * 10,
             json.dumps(dossier("OK", d)).encode()]
    out = v.run(enumerate(lines, 1))
    assert len(out.rows) + len(out.rejects) == len(lines)
    codes = {r.line_no: r.reason_code for r in out.rejects}
    assert codes[1] == "too_deep" and codes[2] == "too_deep"
    assert codes[3] == "missing_key"  # brackets inside a string do not count: it is parsed (and lacks a key)
    assert [r.record_key for r in out.rows] == ["OK"]
    # API items: deep values are found without recursion
    item: object = {}
    for _ in range(100_000):
        item = {"x": item}
    out = v.run([(1, item), (2, dossier("OK2", d))])
    assert [r.reason_code for r in out.rejects] == ["too_deep"] and [r.record_key for r in out.rows] == ["OK2"]
    # whatever else breaks on a line (here: an item that is no JSON value at all) is a reject too
    out = v.run([(1, {"MaHoSo": "ODD", "x": {1, 2}}), (2, object()), (3, dossier("OK3", d))])
    assert [r.reason_code for r in out.rejects] == ["unreadable", "unreadable"]
    assert [r.record_key for r in out.rows] == ["OK3"]
    assert value_depth_exceeds(item, 32) and not value_depth_exceeds({"a": [{"b": 1}]}, 3)
    assert nesting_exceeds(b"[" * 33, 32) and not nesting_exceeds(b'["[[[[[["]', 2)
