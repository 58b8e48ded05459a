"""The landing fast path gives the full path's bytes: the fast keyed hash equals hmac.new, every line
of a varied corpus is written the same by ChunkWriter with and without the fast path (rows, rejects,
reasons), spliced lines keep the delivered text but for the personal values, and the duplicate
watch only ever skips the warehouse's duplicate resolution when no two keys can be equal."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import random

import msgspec
import pytest
from export_fixtures import PERSON, PROCEDURES, UNITS, document, dossier, feedback, rating, step, target, ts

from cchc.contracts import CONTRACTS
from cchc.land.chunks import ChunkWriter, KeyWatch, chunked
from cchc.land.fastpath import FastPath
from cchc.land.pseudonymise import PREFIX, Pseudonymiser
from cchc.land.validate import Validator
from cchc.settings import LandingLimits

DAY = dt.date(2025, 5, 6)
KEY = b"test-key-0123456789abcdef"
REFS = {"units": frozenset(UNITS), "procedures": {p: {"MaLinhVuc": "LV01"} for p in PROCEDURES}}
ROW_PREFIX = "7\t2025-05-06\t"
REJECT_PREFIX = "7\tonestop\tdossiers\t2025-05-06\t"


# -- the keyed hash ------------------------------------------------------------------------------

@pytest.mark.parametrize("key", [KEY, b"k" * 16, b"p" * 64, b"q" * 65, bytes(range(256)) * 2])
def test_fast_hmac_equals_hmac_new(key):
    ps = Pseudonymiser(key)
    rng = random.Random(6)
    messages = [b"", b"a", "Nguyễn Thị Minh Khai".encode(), b"\x00" * 64, b"x" * 63, b"y" * 65, b"z" * 1000]
    messages += [bytes(rng.randrange(256) for _ in range(rng.randrange(200))) for _ in range(2000)]
    for m in messages:
        assert ps.hmac_hex(m) == hmac.new(key, m, hashlib.sha256).hexdigest()


def test_tokens_are_the_keyed_hash_of_the_normalised_value():
    ps = Pseudonymiser(KEY)
    for kind, value, normalised in [("text", "  Nguyễn Thị Minh Khai ", "Nguyễn Thị Minh Khai"),
                                    ("email", "Minh.Khai@Example.vn", "minh.khai@example.vn"),
                                    ("phone", "0912 345 678", "0912345678")]:
        expected = PREFIX + hmac.new(KEY, normalised.encode(), hashlib.sha256).hexdigest()
        assert ps.token(kind, value) == expected
        assert ps.token(kind, value) == expected  # cached, the same


# -- the corpus ------------------------------------------------------------------------------------

def _nest(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


def _dumps(record, **kw) -> bytes:
    return json.dumps(record, ensure_ascii=False, **kw).encode("utf-8")


def _corpus() -> list[bytes]:
    """Valid lines in several layouts, and lines that break every rule the fast path must not decide."""
    rng = random.Random(2025)
    lines: list[bytes] = []
    for i in range(300):  # valid, varied
        extra = {}
        if i % 3 == 0:
            extra["TaiLieuNop"] = [{"MaThanhPhanHoSo": f"TP{i}", "DuocSoHoa": "1"}]
        if i % 5 == 0:
            extra["DanhSachHoSoBoSung"] = [{"NgayYeuCauBoSung": ts(DAY, 9, 30), "NgayTiepNhanBoSung": "",
                                            "NgayHenTraTruoc": ts(DAY + dt.timedelta(days=3), 17),
                                            "NgayHenTraMoi": ts(DAY + dt.timedelta(days=5), 17)}]
        if i % 7 == 0:
            extra["DanhSachXinLoi"] = [{"NgayXinLoi": ts(DAY, 9, 45), "NgayHenTraMoi": ts(DAY, 16)}]
        rec = dossier(f"A-{i}", DAY, ChuHoSo=f"Nguyễn Văn {rng.randrange(10**6)}",
                      SoGiayToChuHoSo=f"{rng.randrange(10**12):012d}", SoDienThoai=f"09{rng.randrange(10**8):08d}",
                      Email=f"nguoi{i}@example.vn", KenhThucHien=rng.choice(["1", "2", "3", None, ""]),
                      NgayCapNhat=ts(DAY, rng.randrange(10, 23), rng.randrange(60), rng.randrange(60)), **extra)
        keys = list(rec)
        if i % 4 == 1:
            rng.shuffle(keys)
        rec = {k: rec[k] for k in keys}
        layout = i % 4
        if layout == 0:
            lines.append(_dumps(rec))  # jsonb's text layout
        elif layout == 1:
            lines.append(_dumps(rec, separators=(",", ":")))
        elif layout == 2:
            lines.append(_dumps(rec, separators=(" , ", " :  ")))
        else:
            lines.append(_dumps(rec, separators=(",\t", ":\t")))  # tabs between tokens: COPY escapes them
    base = dossier("B-1", DAY)
    plain = _dumps(base)
    odd: list[bytes] = [
        plain.replace(b'"MaHoSo": "B-1"', b'"ChuHoSo": "Tr\xe1\xba\xa7n V\xc4\x83n Tr\xc3\xb9ng", "MaHoSo": "B-2"'),
        _dumps({**base, "MaHoSo": "B-3", "TrichYeuHoSo": "ChuHoSo"}),  # a personal name as a value
        _dumps({**base, "MaHoSo": "B-4", "SoDienThoai": 912345678}),  # an integer phone
        _dumps({**base, "MaHoSo": "B-5", "Email": "", "SoDienThoai": None}),  # unset personal values
        _dumps({**base, "MaHoSo": "B-6", "ChuHoSo": "   "}),  # blank
        _dumps({**base, "MaHoSo": "B-7", "TrichYeuHoSo": f"Hồ sơ của {PERSON['ChuHoSo']}, "
                                                         f"gọi {PERSON['SoDienThoai']}"}),  # echoes
        _dumps({**base, "MaHoSo": "B-8", "ChuHoSo": " Lê Thị Hoa "}),  # padded: the stripped echo too
        _dumps({**base, "MaHoSo": "B-9", "TrichYeuHoSo": 'Cấp "sổ đỏ"'}),  # an escaped quote
        json.dumps({**base, "MaHoSo": "B-10"}, ensure_ascii=True).encode(),  # \\u escapes
        _dumps({**base, "MaHoSo": "B-11", "HoTen": "Phạm Văn Bí"}),  # an alias of a personal key at the top
        _dumps({**base, "MaHoSo": "B-12", "TaiLieuNop": [{"ChuHoSo": "Phạm Văn Bí", "Email": "b@x.vn"}]}),
        _dumps({**base, "MaHoSo": "B-13", "TaiLieuNop": [{"Ghi": {"sdt": "0912000111"}}]}),  # nested alias
        _dumps({**base, "MaHoSo": "B-14", "TrichYeuHoSo": "dòng\tcó tab"}).replace(b"\\t", b"\t"),  # raw tab
        plain.replace(b'"B-1"', b'"B-15"') + b"\r",
        b"\xef\xbb\xbf" + plain.replace(b'"B-1"', b'"B-16"'),
        plain.replace(b'"B-1"', b'"B-17"').replace("Đất đai".encode(), b"\xc4\x90\xe1\xba\xa5t \xff"),  # bad UTF-8
        plain.replace(b'"B-1"', b'"B-18"').replace("Đất".encode(), b"\xed\xa0\x80t"),  # a UTF-8 surrogate
        plain[:-20],  # truncated
        b"",
        b"[1, 2]",
        b'"just a string"',
        _dumps({**base, "MaHoSo": "B-19", "DanhSachLePhi": _nest(34)}),
        _dumps({**base, "MaHoSo": "B-20", "X": float("nan")}, allow_nan=True),
        _dumps({**base, "MaHoSo": "B-21", "Big": 10 ** 400}),
        _dumps({**base, "MaHoSo": "B-22", "Small": 1e-400}),
        _dumps({**base, "MaHoSo": ""}),
        _dumps({**base, "MaHoSo": 12345}),  # an integer key
        _dumps({k: v for k, v in base.items() if k != "MaHoSo"}),
        _dumps({**base, "MaHoSo": "B-23", "NgayTiepNhan": "2025-05-06 09:00"}),
        _dumps({**base, "MaHoSo": "B-24", "NgayTiepNhan": "20250231090000"}),
        _dumps({**base, "MaHoSo": "B-25", "NgayTiepNhan": "20250506240000"}),
        _dumps({**base, "MaHoSo": "B-26", "NgayTiepNhan": "20250506096000"}),
        _dumps({**base, "MaHoSo": "B-27", "NgayTiepNhan": "٢٠٢٥٠٥٠٦٠٩٠٠٠٠"}),  # non-ASCII digits
        _dumps({**base, "MaHoSo": "B-28", "NgayTiepNhan": 20250506090000}),
        _dumps({**base, "MaHoSo": "B-29", "DanhSachXinLoi": [{"NgayXinLoi": "2025050", "NgayHenTraMoi": ""}]}),
        _dumps({**base, "MaHoSo": "B-30", "DanhSachXinLoi": [{"NgayXinLoi": ts(DAY + dt.timedelta(days=2))}]}),
        _dumps({**base, "MaHoSo": "B-31", "DanhSachXinLoi": "not a list"}),
        _dumps({**base, "MaHoSo": "B-32", "DanhSachXinLoi": [1, "x", None]}),
        _dumps({**base, "MaHoSo": "B-33", "KenhThucHien": "9"}),
        _dumps({**base, "MaHoSo": "B-34", "TrangThaiHoSo": 2}),
        _dumps({**base, "MaHoSo": "B-35", "TrangThaiHoSo": ""}),
        _dumps({**base, "MaHoSo": "B-36", "NgayNopHoSo": ts(DAY, 11), "NgayTiepNhan": ts(DAY, 10, 30)}),
        _dumps({**base, "MaHoSo": "B-37", "NgayCapNhat": ts(DAY - dt.timedelta(days=1))}),
        _dumps({**base, "MaHoSo": "B-38", "NgayCapNhat": ""}),
        _dumps({**base, "MaHoSo": "B-39", "DonViXuLy": "999.99.99.H26"}),
        _dumps({**base, "MaHoSo": "B-40", "MaTTHC": "9.999999"}),
        _dumps({**base, "MaHoSo": "B-41", "DonViTiepNhan": ""}),
        _dumps({**base, "MaHoSo": "B-42", "MaLinhVuc": "LV99"}),
        _dumps({**base, "MaHoSo": "B-43", "NgayHenTra": ts(DAY.replace(year=DAY.year + 3))}),
        _dumps({**base, "MaHoSo": "B-44", "NgayHenTra": ts(DAY - dt.timedelta(days=40))}),
        _dumps({**base, "MaHoSo": "B-45", "NgayHenTra": ts(DAY, 8, 59)}),  # a deadline before its anchor
        _dumps({**base, "MaHoSo": "B-46", "NgayNopHoSo": "20100101000000"}),
        _dumps({**base, "MaHoSo": "B-47", "NgayKetThucXuLy": ts(DAY + dt.timedelta(days=1), 3)}),
        _dumps({**base, "MaHoSo": "B-48", "Email": ["a@b.vn"]}),
        _dumps({**base, "MaHoSo": "B-49", "ChuHoSo": {"ten": "Nguyễn"}}),
        _dumps({**base, "MaHoSo": "B-50", "NgayTiepNhan": None, "NgayNopHoSo": ""}),
        _dumps({**base, "MaHoSo": "B-51", "ChuHoSo": "hmac256:" + "0" * 64}),  # looks hashed already
        _dumps({**base, "MaHoSo": "B-52", "Email": "x" * 3}),  # too short to be an echo
        _dumps({**base, "MaHoSo": "B-53", "TrichYeuHoSo": "0912 345 678 và 0912 345 678"}),
        plain.replace(b'"ChuHoSo": ', b'"ChuHoSo"  :   ').replace(b'"B-1"', b'"B-54"'),
        plain.replace(b'"ChuHoSo": ', b'"ChuHoSo":').replace(b'"B-1"', b'"B-55"'),
        plain.replace(b'"B-1"', b'"B-56"').replace(b'"SoDienThoai": "0912 345 678"', b'"SoDienThoai": null'),
        _dumps({**base, "MaHoSo": "B-57"}) + b" ",
        b" " + _dumps({**base, "MaHoSo": "B-58"}),
        _dumps({**base, "MaHoSo": "A-3"}),  # a duplicate key of a valid line
        lines[10],  # an exact duplicate
    ]
    return lines + odd


def _writers(limits: LandingLimits | None = None, feed: str = "dossiers", refs=None):
    out = []
    for fast in (True, False):
        v = Validator(CONTRACTS[feed], DAY, Pseudonymiser(KEY), refs or REFS, limits)
        out.append(ChunkWriter(v, ROW_PREFIX, REJECT_PREFIX, fast=fast))
    return out


def _same_bytes(lines: list[bytes], limits: LandingLimits | None = None, feed: str = "dossiers",
                refs=None) -> int:
    """Both writers on the same chunks; the number of lines the fast path took."""
    fast_writer, full_writer = _writers(limits, feed, refs)
    items = list(enumerate(lines, 1))
    for chunk in chunked(items, 37):
        a, b = fast_writer(chunk), full_writer(chunk)
        assert a.rows.split(b"\n") == b.rows.split(b"\n")
        assert a.rejects.split(b"\n") == b.rejects.split(b"\n")
        assert (a.row_count, a.reject_count, a.reasons) == (b.row_count, b.reject_count, b.reasons)
        assert a.key_hashes == b.key_hashes
    taken = FastPath(fast_writer.validator, ROW_PREFIX)
    return sum(taken.row(n, line) is not None for n, line in items)


def test_fast_path_writes_the_full_paths_bytes_for_every_line():
    lines = _corpus()
    taken = _same_bytes(lines)
    assert taken >= 250, f"the fast path took only {taken} of {len(lines)} lines"  # it is used, not bypassed
    odd = lines[300:]
    assert 0 < _same_bytes(odd) < len(odd) / 2  # most odd lines go to the full path; a few valid ones need not


def test_fast_path_under_tight_limits_and_other_feeds():
    lines = _corpus()
    limits = LandingLimits(max_line_bytes=900, max_depth=2)
    _same_bytes(lines, limits)
    steps = [_dumps(step(f"S-{i}", i % 4, DAY)) for i in range(60)]
    steps += [_dumps(step("S-1", 1, DAY, ThoiDiemXuLy=ts(DAY, 8)))]  # done before it started
    steps += [_dumps({**step("S-9", 2, DAY), "BuocXuLy": "3"})]
    assert _same_bytes(steps, feed="steps") >= 0  # integer keys take the full path
    docs = [_dumps(document(f"D-{i}", DAY)) for i in range(40)]
    docs += [_dumps(document("D-x", DAY, Direction="OUT", DispatchedAt=ts(DAY, 1)))]
    assert _same_bytes(docs, feed="documents") >= 30
    votes = [_dumps(rating(f"R-{i}", DAY)) for i in range(20)]
    votes += [_dumps(rating("R-x", DAY, NgayDanhGia="")), _dumps(rating("R-y", DAY, MucDo="9")),
              _dumps(rating("R-z", DAY, NgayDanhGia=ts(DAY, 15)))]  # voted after its last change
    assert _same_bytes(votes, feed="ratings") >= 20
    heard = [_dumps(feedback(f"F-{i}", DAY)) for i in range(20)]
    heard += [_dumps(feedback("F-x", DAY, NgayTiepNhan="")), _dumps(feedback("F-y", DAY, DonViXuLy="nowhere")),
              _dumps(feedback("F-z", DAY, NgayXuLy=ts(DAY, 7)))]
    assert _same_bytes(heard, feed="feedback") >= 20
    goals = [_dumps(target(UNITS[0], "SO", 2025, "X", 0.5)), _dumps(target("", "SO", 2025, "X", 0.5)),
             _dumps(target(UNITS[0], "SO", 1999, "X", 0.5)), _dumps(target(UNITS[0], "SO", 2025, "X", "2")),
             _dumps(target(UNITS[0], "HUYEN", 2025, "X", 0.5)), _dumps(target(UNITS[0], "SO", 2025.5, "X", 0.5))]
    _same_bytes(goals, feed="targets", refs={"units": {u: {"Level": "SO"} for u in UNITS}})


def test_random_mutations_give_the_same_bytes():
    rng = random.Random(61)
    base = _corpus()[:40]
    mutated = []
    for _ in range(1500):
        line = bytearray(rng.choice(base))
        for _ in range(rng.randrange(1, 3)):
            op = rng.randrange(4)
            pos = rng.randrange(len(line))
            if op == 0:
                del line[pos:pos + rng.randrange(1, 4)]
            elif op == 1:
                line[pos:pos] = rng.choice([b'"', b":", b",", b"\\", b"{", b"]", b" ", b"\t", b"0", b"\xc3",
                                            b'"ChuHoSo"', b'"Email": "e@x.vn", '])
            elif op == 2:
                line[pos] = rng.randrange(32, 127)
            else:  # change a digit of a timestamp or a code
                digits = [i for i, c in enumerate(line) if 48 <= c <= 57]
                if digits:
                    line[rng.choice(digits)] = rng.randrange(48, 58)
        mutated.append(bytes(line))
    _same_bytes(mutated)


def test_spliced_line_is_the_delivered_text_with_only_the_personal_values_replaced():
    ps = Pseudonymiser(KEY)
    v = Validator(CONTRACTS["dossiers"], DAY, ps, REFS)
    fast = FastPath(v, ROW_PREFIX)
    personal = CONTRACTS["dossiers"].personal_fields
    for i, line in enumerate(_corpus()[:300]):
        done = fast.row(i + 1, line)
        assert done is not None
        row, key = done
        batch, day, line_no, record_key, updated, payload = row.rstrip(b"\n").split(b"\t", 5)
        assert (batch, day, line_no, record_key) == (b"7", b"2025-05-06", str(i + 1).encode(), key.encode())
        payload = payload.replace(b"\\t", b"\t")
        original = json.loads(line)
        assert updated.decode() == original["NgayCapNhat"]
        expected, _ = ps.record(original, personal)
        assert json.loads(payload) == expected  # the same JSON value as the parse path's
        restored = payload
        for pf in personal:
            restored = restored.replace(expected[pf.field].encode(), original[pf.field].encode())
        assert restored == line  # and otherwise the line as delivered, byte for byte
        for pf in personal:
            assert original[pf.field].encode() not in payload


def test_msgspec_refuses_what_is_not_utf8():
    """The fast path reads the bytes with msgspec, trusting it to refuse any invalid UTF-8 (the full path
    decodes the text first): every malformed sequence, in a value and in a key."""
    decode = msgspec.json.Decoder().decode
    bad = [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xf4\x90\x80\x80", b"\xe1\xbb", b"\x80",
           b"\xf8\x88\x80\x80\x80", b"\xc3", b"\xe0\x80\xaf"]
    for seq in bad:
        for doc in (b'{"a": "x' + seq + b'y"}', b'{"a' + seq + b'": 1}'):
            with pytest.raises((msgspec.DecodeError, UnicodeDecodeError, ValueError)):
                decode(doc)
            with pytest.raises(UnicodeDecodeError):
                doc.decode("utf-8")


def test_key_watch():
    w = KeyWatch()
    w.add([hash(f"k{i}") for i in range(1000)])
    w.add([hash(f"k{i}") for i in range(1000, 2000)])
    assert not w.maybe  # every key distinct: the warehouse has no duplicate to find
    w.add([hash("k5")])
    assert w.maybe
    w = KeyWatch()
    w.add([1, 2, 1])  # a repeat inside a chunk (or a collision): resolution runs
    assert w.maybe
    w = KeyWatch(limit=10)
    w.add(list(range(11)))
    assert w.maybe  # past its limit it lets the warehouse decide
