"""Validation and pseudonymisation of single lines, without a database."""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata

import pytest
from export_fixtures import PERSON, PROCEDURES, UNITS, document, dossier, line_bytes, step, ts, unit

from cchc.contracts import CONTRACTS, code_sets, load_code_sets
from cchc.land.pseudonymise import Pseudonymiser, normalise
from cchc.land.validate import REASON_CODES, Validator, timestamp_ok
import cchc.land.validate as validate_module

DAY = dt.date(2025, 5, 6)
KEY = b"test-key-0123456789abcdef"
REFS = {"units": frozenset(UNITS), "procedures": {p: {"MaLinhVuc": "LV01"} for p in PROCEDURES}}


def run(feed: str, lines: list, day: dt.date = DAY):
    v = Validator(CONTRACTS[feed], day, Pseudonymiser(KEY), REFS)
    return v.run(enumerate([line_bytes(x) for x in lines], 1))


def only_reject(feed: str, line, **kw):
    out = run(feed, [line], **kw)
    assert not out.rows, out.rows
    assert len(out.rejects) == 1
    return out.rejects[0]


def test_code_sets_come_from_the_seeds():
    sets = code_sets()
    assert sets["dossier_status"] == frozenset(str(i) for i in range(1, 11))
    assert sets["dossier_channel"] == {"1", "2", "3"}
    assert "TOAN_TRINH" in sets["online_service_level"]
    assert load_code_sets() == sets


def test_every_reason_code_is_documented():
    for code in REASON_CODES:
        assert f"``{code}``" in validate_module.__doc__


def test_valid_records_land():
    out = run("dossiers", [dossier("A-1", DAY), dossier("A-2", DAY, KenhThucHien=None)])
    assert [r.record_key for r in out.rows] == ["A-1", "A-2"]
    assert not out.rejects
    out = run("steps", [step("A-1", 1, DAY), step("A-1", 2, DAY)])
    assert [r.record_key for r in out.rows] == ["A-1|1", "A-1|2"]
    out = run("documents", [document("D1", DAY)])
    assert out.rows[0].updated_at == ts(DAY, 11)


@pytest.mark.parametrize(
    "line, code",
    [
        (b'{"MaHoSo": "A-1", "ChuHoSo": "Nguy\xe1\xbb\x85n', "invalid_json"),
        (b"", "invalid_json"),
        (b'{"MaHoSo": "A-1", "X": NaN}', "invalid_json"),
        (b"[1, 2]", "not_an_object"),
        (dossier("", DAY), "missing_key"),
        ({k: v for k, v in dossier("A", DAY).items() if k != "MaHoSo"}, "missing_key"),
        (dossier(None, DAY), "missing_key"),
        (dossier("A", DAY, NgayTiepNhan="2025-05-06 09:00"), "bad_timestamp"),
        (dossier("A", DAY, NgayTiepNhan="20250231090000"), "bad_timestamp"),
        (dossier("A", DAY, DanhSachXinLoi=[{"NgayXinLoi": "2025050", "NgayHenTraMoi": ""}]), "bad_timestamp"),
        (dossier("A", DAY, KenhThucHien="9"), "unknown_code"),
        (dossier("A", DAY, TrangThaiHoSo=2), "unknown_code"),
        (dossier("A", DAY, TrangThaiHoSo=""), "unknown_code"),
        (dossier("A", DAY, NgayNopHoSo=ts(DAY, 11), NgayTiepNhan=ts(DAY, 9)), "dates_out_of_order"),
        (dossier("A", DAY, NgayKetThucXuLy=ts(DAY, 12), NgayTra=ts(DAY, 11)), "dates_out_of_order"),
        (dossier("A", DAY, NgayCapNhat=ts(DAY - dt.timedelta(days=1))), "outside_snapshot_day"),
        (dossier("A", DAY, NgayCapNhat=""), "outside_snapshot_day"),
        (dossier("A", DAY, DonViXuLy="999.99.99.H26"), "unknown_reference"),
        (dossier("A", DAY, MaTTHC="9.999999"), "unknown_reference"),
        (dossier("A", DAY, DonViTiepNhan=""), "unknown_reference"),
        (b'{"MaHoSo": "A", "ChuHoSo": "Nguy\xe1n V\xe3n"}', "bad_encoding"),
        (b'{"MaHoSo": "A", "X": "\\u0000"}', "bad_encoding"),
        (b'{"MaHoSo": "A", "X": "\\ud800"}', "bad_encoding"),
    ],
)
def test_reason_codes(line, code):
    reject = only_reject("dossiers", line)
    assert reject.reason_code == code, reject
    assert reject.reason
    assert reject.payload is not None or reject.raw_text is not None


def test_document_rules():
    assert only_reject("documents", document("D", DAY, Direction="SIDEWAYS")).reason_code == "unknown_code"
    assert only_reject("documents", document("D", DAY, Statuses=[{"StatusCode": "99", "Timestamp": ""}])
                       ).reason_code == "unknown_code"
    late = document("D", DAY, RegisteredAt=ts(DAY, 12), DispatchedAt=ts(DAY, 10))
    assert only_reject("documents", late).reason_code == "dates_out_of_order"
    incoming = document("D", DAY, Direction="IN", RegisteredAt=ts(DAY, 12), DispatchedAt=ts(DAY, 10))
    assert run("documents", [incoming]).rows
    assert only_reject("documents", document("D", DAY, OrganId="nowhere")).reason_code == "unknown_reference"


def test_reference_feeds_are_whole_not_snapshots():
    out = run("units", [unit("U1", NgayCapNhat="20200101000000"), unit("U2")])
    assert len(out.rows) == 2
    assert only_reject("units", unit("U3", Level="THON")).reason_code == "unknown_code"


def test_duplicates_keep_latest_version_and_first_of_identical_lines():
    d = dossier("A", DAY)
    newer = dossier("A", DAY, NgayCapNhat=ts(DAY, 15), TrangThaiHoSo="4")
    out = run("dossiers", [newer, d, d, dossier("B", DAY)])
    assert [(r.line_no, r.record_key) for r in out.rows] == [(1, "A"), (4, "B")]
    assert sorted((r.line_no, r.reason_code) for r in out.rejects) == [(2, "duplicate"), (3, "duplicate")]
    # identical lines: the first is kept, the repeat is the duplicate
    out = run("dossiers", [d, dossier("B", DAY), d])
    assert [r.line_no for r in out.rows] == [1, 2]
    assert [(r.line_no, r.reason_code) for r in out.rejects] == [(3, "duplicate")]
    assert "exact duplicate of line 1" in out.rejects[0].reason
    # same NgayCapNhat, different content: the last line wins
    other = dossier("A", DAY, TrangThaiHoSo="4")
    out = run("dossiers", [d, other])
    assert [r.line_no for r in out.rows] == [2] and out.rejects[0].line_no == 1


def test_a_bad_version_does_not_shadow_a_good_one():
    out = run("dossiers", [dossier("A", DAY), dossier("A", DAY, NgayCapNhat=ts(DAY, 20), KenhThucHien="X")])
    assert [r.line_no for r in out.rows] == [1]
    assert [r.reason_code for r in out.rejects] == ["unknown_code"]


def test_timestamp_ok():
    assert timestamp_ok("20240229235959")
    assert not timestamp_ok("20230229000000")
    assert not timestamp_ok("20240101240000")
    assert not timestamp_ok("2024010100000")
    assert not timestamp_ok("２０２４０１０１００００００")


# -- pseudonymisation --------------------------------------------------------------------------


def test_personal_data_is_hashed_with_normalisation():
    ps = Pseudonymiser(KEY)
    a = ps.token("text", "Nguyễn Văn An")
    assert a.startswith("hmac256:") and len(a) == 8 + 64
    decomposed = "Nguye\u0302\u0303n Va\u0306n An  "
    assert ps.token("text", decomposed) == a
    assert ps.token("email", " A.B@X.VN") == ps.token("email", "a.b@x.vn")
    assert ps.token("phone", "0912 345-678") == ps.token("phone", "0912345678")
    assert ps.token("text", "") == "" and ps.token("text", None) is None
    assert Pseudonymiser(b"another-key-0123456789").token("text", "Nguyễn Văn An") != a
    assert normalise("phone", "+84 (912) 345") == "84912345"
    with pytest.raises(ValueError):
        Pseudonymiser(b"")


def _assert_no_person(text: str | None):
    if text is None:
        return
    for value in PERSON.values():
        assert value not in text
    assert "Minh Khai" not in text and "345 678" not in text and "0011900" not in text


def test_rows_and_rejects_carry_no_personal_data():
    good = dossier("A", DAY, TrichYeuHoSo=f"Hồ sơ của {PERSON['ChuHoSo']}")
    bad = dossier("B", DAY, KenhThucHien="X")
    text = json.dumps(dossier("C", DAY), ensure_ascii=False)
    truncated = text[: text.index("Minh Khai") + 4]
    latin = unicodedata.normalize("NFD", json.dumps(dossier("D", DAY), ensure_ascii=False)).encode("cp1258", "replace")
    out = run("dossiers", [good, bad, truncated, latin])
    assert len(out.rows) == 1 and len(out.rejects) == 3
    payload = json.loads(out.rows[0].payload)
    assert payload["ChuHoSo"].startswith("hmac256:") and payload["Email"].startswith("hmac256:")
    assert PERSON["ChuHoSo"] not in payload["TrichYeuHoSo"]
    for r in out.rows:
        _assert_no_person(r.payload)
    for r in out.rejects:
        _assert_no_person(r.payload)
        _assert_no_person(r.raw_text)
    by_code = {r.reason_code: r for r in out.rejects}
    assert by_code["invalid_json"].raw_text.startswith('{"MaHoSo": "C"')
    assert '"ChuHoSo": "hmac256:' in by_code["invalid_json"].raw_text
    assert by_code["bad_encoding"].record_key == "D"


def test_scrub_text_handles_cut_values_and_numbers():
    ps = Pseudonymiser(KEY)
    fields = CONTRACTS["dossiers"].personal_fields
    text = '{"ChuHoSo": "Trần \\"Tí\\"", "SoDienThoai": 912345678, "Email": null, "SoGiayToChuHoSo": "0011'
    out = ps.scrub_text(text, fields)
    assert "Trần" not in out and "912345678" not in out and "0011" not in out
    assert '"Email": null' in out
    assert ps.token("text", 'Trần "Tí"') in out
    assert ps.token("phone", "912345678") in out


# -- limits, plausibility, field codes, redaction ----------------------------------------------

from cchc.land.redact import Redactor  # noqa: E402
from cchc.settings import LandingLimits  # noqa: E402


@pytest.mark.parametrize(
    "line, code",
    [
        (b'{"MaHoSo": "A", "x": ' + b"[" * 40 + b"]" * 40 + b"}", "too_deep"),
        (dossier("A", DAY, TrichYeuHoSo="x" * 3_000_000), "line_too_large"),
        (dossier("A", DAY, NgayHenTra="20991231170000"), "implausible_timestamp"),
        (dossier("A", DAY, NgayHenTra=ts(DAY - dt.timedelta(days=31), 17)), "implausible_timestamp"),
        (dossier("A", DAY, NgayTra=ts(DAY + dt.timedelta(days=1), 1)), "implausible_timestamp"),
        (dossier("A", DAY, NgayNopHoSo="20140101080000"), "implausible_timestamp"),
        (dossier("A", DAY, DanhSachXinLoi=[{"NgayXinLoi": ts(DAY, 9), "NgayHenTraMoi": "20300101170000"}]),
         "implausible_timestamp"),
        (dossier("A", DAY, MaLinhVuc="LV99"), "reference_mismatch"),
    ],
)
def test_new_reason_codes(line, code):
    reject = only_reject("dossiers", line)
    assert reject.reason_code == code, reject


def test_plausibility_window_edges():
    d = DAY
    fine = [
        dossier("A", d, NgayTra=ts(d + dt.timedelta(days=1), 0, 59, 59)),  # within the 60 min tolerance
        dossier("B", d, NgayHenTra=ts(d.replace(year=d.year + 2), 23, 59, 59)),  # exactly 2 years ahead
        dossier("C", d, NgayHenTra=ts(d - dt.timedelta(days=30), 9)),  # 30 days before reception
        dossier("D", d, NgayNopHoSo=ts(d.replace(year=d.year - 10), 0), NgayTiepNhan=ts(d.replace(year=d.year - 10), 1),
                NgayHenTra=ts(d.replace(year=d.year - 10), 17)),  # an old dossier, still moving
        dossier("E", d, NgayTiepNhan="", NgayHenTra=ts(d + dt.timedelta(days=700), 17)),  # no anchor: day bound only
    ]
    out = run("dossiers", fine)
    assert [r.record_key for r in out.rows] == list("ABCDE"), out.rejects
    assert only_reject("dossiers", dossier("F", d, NgayTra=ts(d + dt.timedelta(days=1), 1))).reason_code \
        == "implausible_timestamp"
    # reference lists are whole: an old NgayCapNhat is fine, a future one is not
    assert run("units", [unit("U1", NgayCapNhat="19900101000000")]).rows
    assert only_reject("units", unit("U2", NgayCapNhat="20990101000000")).reason_code == "implausible_timestamp"
    # the setting moves the window
    v = Validator(CONTRACTS["dossiers"], d, Pseudonymiser(KEY), REFS, LandingLimits(max_due_years_ahead=100))
    assert v.run([(1, line_bytes(dossier("G", d, NgayHenTra="20991231170000")))]).rows


def test_a_field_code_is_its_procedures_field():
    refs = {"units": REFS["units"], "procedures": {PROCEDURES[0]: {"MaLinhVuc": "LV01"},
                                                   PROCEDURES[1]: {"MaLinhVuc": "LV02"}}}
    v = Validator(CONTRACTS["dossiers"], DAY, Pseudonymiser(KEY), refs)
    out = v.run(enumerate([line_bytes(x) for x in [
        dossier("OK", DAY, MaTTHC=PROCEDURES[1], MaLinhVuc="LV02"),
        dossier("NONE", DAY, MaLinhVuc=""),  # not set: left to the report's exclusion rules
        dossier("OTHER", DAY, MaTTHC=PROCEDURES[0], MaLinhVuc="LV02"),
        dossier("UNKNOWN", DAY, MaLinhVuc="LV77"),
        dossier("NOPROC", DAY, MaTTHC="9.9", MaLinhVuc="LV77"),  # the procedure is the problem
    ]], 1))
    assert [r.record_key for r in out.rows] == ["OK", "NONE"]
    by_key = {r.record_key: r for r in out.rejects}
    assert by_key["OTHER"].reason_code == "reference_mismatch" and "no record" not in by_key["OTHER"].reason
    assert "no record of that list has MaLinhVuc 'LV77'" in by_key["UNKNOWN"].reason
    assert by_key["NOPROC"].reason_code == "unknown_reference" and "MaLinhVuc" not in by_key["NOPROC"].reason
    with pytest.raises(ValueError, match="must map keys to records"):
        Validator(CONTRACTS["dossiers"], DAY, Pseudonymiser(KEY), {"units": REFS["units"],
                                                                  "procedures": frozenset(PROCEDURES)})


@pytest.mark.parametrize("text", [
    "{'ChuHoSo': 'Nguyễn Thị Minh Khai', 'SoDienThoai': '0912 345 678'}",
    'ChuHoSo=Nguyễn Thị Minh Khai SoDienThoai=0912 345 678 Email=Minh.Khai@Example.vn',
    '{chuhoso: Nguyễn Thị Minh Khai, "SO_DIEN_THOAI": "0912.345.678"}',
    'Nguyễn Thị Minh Khai;001.190.012.345;0912 345 678;MINH.KHAI@EXAMPLE.VN',
    '"{\\"ChuHoSo\\": \\"Nguyễn Thị Minh Khai\\", \\"SoDienThoai\\": \\"0912345678\\"}"',
    'gọi Nguyen Thi Minh Khai số 0912-345-678',
])
def test_redaction_of_any_syntax(text):
    out = Redactor(Pseudonymiser(KEY)).redact(text)
    assert "hmac256:" in out
    plain = re.sub(r"hmac256:[0-9a-f]{64}", "#", out)
    digits = re.sub(r"[\s.\-]", "", plain)
    assert "minh khai" not in plain.lower() and "minh.khai@" not in plain.lower(), out
    assert "912345678" not in digits and "001190012345" not in digits, out


def test_redaction_keeps_what_an_operator_needs():
    r = Redactor(Pseudonymiser(KEY), safe_values=UNITS)
    out = r.redact(f"{{'MaHoSo': '{UNITS[0]}-250506-0001', 'MaTTHC': '1.004227', 'NgayTiepNhan': '20250506090000', "
                   f"'ChuHoSo': 'Nguyễn Thị Minh Khai', 'KenhThucHien': '9', 'DonViXuLy': '{UNITS[1]}'}}")
    for kept in (f"'MaHoSo': '{UNITS[0]}-250506-0001'", "'MaTTHC': '1.004227'", "'NgayTiepNhan': '20250506090000'",
                 "'KenhThucHien': '9'", f"'DonViXuLy': '{UNITS[1]}'"):
        assert kept in out
    assert "'ChuHoSo': 'hmac256:" in out
    assert r.redact(f"{UNITS[2]},20250506090000,Cấp giấy chứng nhận") == f"{UNITS[2]},20250506090000,Cấp giấy chứng nhận"
