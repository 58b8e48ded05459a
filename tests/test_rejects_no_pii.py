"""No applicant data in clear, whatever the syntax of the line that carried it.

A corpus of malformed lines (single quotes, Python repr, CSV, truncated JSON, key=value, wrong and
mixed encodings, NUL, trailing garbage, doubly encoded JSON, odd keys, too deep, too large …), each
carrying the personal values of ``export_fixtures.PERSON`` or a variant of them, is landed by the
real command ``cchc run`` (a subprocess with its own CCHC_HOME) and, for API items of odd types,
through ``land_day`` with the HTTP API. Then every row of every table of every schema of the
warehouse database and of the Airflow metadata database (each row cast to text), every file under
the run's CCHC_HOME, and the command's output are searched for every clear form of each value.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import psycopg
import pytest
from export_fixtures import PERSON, UNITS, ExportApi, document, dossier, step, ts, write_export_day, write_reference_day

from cchc.extract import ApiSource
from cchc.land import land_day
from cchc_demo.simulator.corrupt import cp1258

CCHC = str(Path(sys.executable).parent / "cchc")
D = dt.date(2025, 5, 20)  # file mode, through `cchc run`
D_API = dt.date(2025, 5, 21)  # API mode, through land_day
KEY = "pii-test-key-not-secret-0123"
NAME, ID, PHONE, EMAIL = PERSON["ChuHoSo"], PERSON["SoGiayToChuHoSo"], PERSON["SoDienThoai"], PERSON["Email"]
PHONE_DIGITS = re.sub(r"\D", "", PHONE)
ID_DOTS = ".".join(ID[i:i + 3] for i in range(0, len(ID), 3))
NAME_ASCII = "".join(c for c in unicodedata.normalize("NFD", NAME) if not unicodedata.combining(c))


def _digits_pattern(digits: str) -> re.Pattern:
    """The digits in order, with at most two separators (space, dot, dash …) between them."""
    return re.compile(r"[\s.\-/()+]{0,2}".join(digits))


# what must never appear: each value exactly, in its variants, and normalised forms
NEEDLES: list[tuple[str, re.Pattern]] = [
    ("name", re.compile(re.escape(NAME), re.I)),
    ("name NFD", re.compile(re.escape(unicodedata.normalize("NFD", NAME)), re.I)),
    ("name without diacritics", re.compile(re.escape(NAME_ASCII), re.I)),
    ("name, last two words", re.compile(r"Minh[\s+_]Khai", re.I)),
    ("name, first two words", re.compile(re.escape(NAME.split()[0] + " " + NAME.split()[1]), re.I)),
    ("id", _digits_pattern(ID)),
    ("phone", _digits_pattern(PHONE_DIGITS)),
    ("phone without its leading 0", _digits_pattern(PHONE_DIGITS[1:])),
    ("e-mail", re.compile(re.escape(EMAIL), re.I)),
    ("e-mail local part", re.compile(r"minh\.khai@", re.I)),
]


def find_clear(text: str) -> list[str]:
    return [what for what, pattern in NEEDLES if pattern.search(text)]


def json_text(record: dict, **kw) -> str:
    return json.dumps(record, ensure_ascii=False, **kw)


def corpus(d: dt.date) -> dict[str, bytes]:
    """Malformed lines, each carrying the person (or a variant), by name."""
    base = {k: v for k, v in dossier("X", d).items() if k not in PERSON}
    full = dossier("P-TRUNC", d)
    text = json_text(full)
    py = {**dossier("P-REPR", d), "SoDienThoai": PHONE_DIGITS, "Email": EMAIL.upper()}
    lines = {
        "single_quotes": ("{'MaHoSo': 'P-SQ', 'ChuHoSo': '%s', 'SoGiayToChuHoSo': '%s', 'SoDienThoai': '%s', "  # noqa: UP031  literal braces
                          "'Email': '%s', 'NgayTiepNhan': '%s'}" % (NAME, ID_DOTS, PHONE, EMAIL, ts(d, 9))),
        "python_repr": repr(py),
        "python_repr_ints": repr({"MaHoSo": "P-REPR2", "ChuHoSo": NAME, "SoDienThoai": int(PHONE_DIGITS),
                                  "SoGiayToChuHoSo": int(ID), "Email": None, "NgayTiepNhan": ts(d, 9)}),
        "csv": f"P-CSV,1.004227,{UNITS[0]},{NAME},{ID},{PHONE},{EMAIL},{ts(d, 9)}",
        "csv_semicolons": f'"P-CSV2";"{NAME}";"{PHONE_DIGITS}";"{EMAIL.upper()}";"{ID_DOTS}"',
        "csv_ascii_name": f"P-CSV3\t{NAME_ASCII}\t{PHONE.replace(' ', '.')}\t{EMAIL.lower()}",
        "truncated_in_name": text[: text.index(NAME) + len("Nguyễn Thị Mi")],
        "truncated_in_phone": text[: text.index(PHONE) + 6],
        "truncated_in_email": text[: text.index(EMAIL) + 9],
        "truncated_after_id": text[: text.index(ID) + len(ID) + 1],
        "key_value": (f"MaHoSo=P-KV ChuHoSo={NAME} SoGiayToChuHoSo={ID} SoDienThoai={PHONE} "
                      f"Email={EMAIL} NgayTiepNhan={ts(d, 9)}"),
        "query_string": (f"MaHoSo=P-QS&ChuHoSo={NAME.replace(' ', '+')}&SoDienThoai={PHONE_DIGITS}"
                         f"&Email={EMAIL}&SoGiayToChuHoSo={ID}"),
        "yaml_ish": f"MaHoSo: P-YAML\tChuHoSo: {NAME}\tSoDienThoai: {PHONE}\tEmail: {EMAIL}\tSoGiayToChuHoSo: {ID_DOTS}",
        "xml_ish": (f"<HoSo><MaHoSo>P-XML</MaHoSo><ChuHoSo>{NAME}</ChuHoSo><SoGiayToChuHoSo>{ID}</SoGiayToChuHoSo>"
                    f"<SoDienThoai>{PHONE}</SoDienThoai><Email>{EMAIL}</Email></HoSo>"),
        "unquoted_keys": (f'{{MaHoSo: P-UQ, chu_ho_so: "{NAME}", so_dien_thoai: {PHONE.replace(" ", ".")}, '
                          f'EMAIL: {EMAIL}, so_giay_to: {ID}}}'),
        "extra_garbage": json_text(dossier("P-GARBAGE", d)) + f" -- gọi {NAME} {PHONE_DIGITS} hoặc {EMAIL}",
        "double_encoded": json.dumps(json_text(dossier("P-DOUBLE", d))),
        "escaped_ascii_truncated": json.dumps(dossier("P-ESC", d, TrichYeuHoSo=f"Hồ sơ của {NAME}"))[:-40],
        "nul_in_name": json_text(dossier("P-NUL", d)).replace(NAME, NAME.replace(" Minh", "\x00 Minh")),
        "free_text_only": f"khách {NAME}, CCCD {ID_DOTS}, ĐT {PHONE}, thư {EMAIL.upper()}",
        "odd_keys_json": json_text({**base, "MaHoSo": "P-ODD", "NguoiNop": {
            "HoTen": NAME, "CCCD": ID_DOTS, "SDT": PHONE_DIGITS, "mail": EMAIL.upper()}}),
        "lower_case_keys": json_text({"mahoso": "P-LOWER", "chuhoso": NAME, "sodienthoai": PHONE,
                                      "email": EMAIL, "sogiaytochuhoso": ID}),
        "array": json_text([dossier("P-ARRAY", d)]),
        "json_string": json.dumps(f"ChuHoSo: {NAME}; SĐT {PHONE}; {EMAIL}", ensure_ascii=False),
        "too_deep": json_text({"MaHoSo": "P-DEEP", "ChuHoSo": NAME, "SoDienThoai": PHONE, "Email": EMAIL,
                               "SoGiayToChuHoSo": ID})[:-1] + ', "x": ' + "[" * 3000 + "]" * 3000 + "}",
        "too_large": json_text(dossier("P-BIG", d, TrichYeuHoSo="x" * 300_000)),
    }
    out = {k: v.encode("utf-8") for k, v in lines.items()}
    out.update({
        "cp1258_truncated": cp1258(text)[:-30],
        "cp1258_csv": cp1258(f"P-1258,{NAME},{ID},{PHONE},{EMAIL}"),
        "latin1_replace": json_text(dossier("P-LATIN", d)).encode("latin-1", "replace")[:-5],
        "latin1_single_quotes": lines["single_quotes"].replace("P-SQ", "P-SQ-L1").encode("latin-1", "replace"),
        "utf16_truncated": json_text(dossier("P-UTF16", d)).encode("utf-16")[:-20],
        "utf16_repr": repr(dossier("P-UTF16R", d)).encode("utf-16"),
        "mixed_encodings": (b'{"MaHoSo": "P-MIXED", "ChuHoSo": "' + cp1258(NAME) + b'", "SoDienThoai": "'
                            + PHONE.encode() + b'", "TrichYeuHoSo": "' + f"của {NAME}".encode() + b'", "Email": "'
                            + EMAIL.encode("utf-16-le") + b'"'),
        "nul_bytes": json_text(dossier("P-NULB", d)).encode().replace(b", ", b",\x00 "),
    })
    return out


@pytest.fixture(scope="module")
def env(cchc_env) -> dict:
    return {**cchc_env, "CCHC_PSEUDONYM_KEY": KEY, "CCHC_LANDING_MAX_LINE_BYTES": "200000"}


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    """The export root (outside CCHC_HOME: it holds the clear values on purpose) and {corpus name: line_no}."""
    root = tmp_path_factory.mktemp("pii_sources")
    write_reference_day(root, D)
    good = [dossier(f"{UNITS[0]}-{D:%y%m%d}-{i:04d}", D) for i in range(150)]  # the person, well formed
    bad = corpus(D)
    lines: list = list(good)
    where = {}
    for i, line in enumerate(bad.values()):
        lines.insert(4 * i + 2, line)
    for n, line in enumerate(lines, 1):
        for name, b in bad.items():
            if line is b:
                where[name] = n
    write_export_day(root, "onestop", D, {"dossiers": lines, "steps": [step(g["MaHoSo"], 1, D) for g in good[:20]]})
    write_export_day(root, "edoc", D, {"documents": [document(f"DOC-{i}", D) for i in range(10)]})
    return root, where


@pytest.fixture(scope="module")
def run(env, sources):
    root, _ = sources
    res = subprocess.run([CCHC, "run", "--start", D.isoformat(), "--end", D.isoformat(), "--source-dir", str(root)],
                         env=env, capture_output=True, text=True, timeout=900)
    return res


@pytest.fixture(scope="module")
def api_landed(env, warehouse_db, tmp_path_factory, monkeypatch_module):
    """API items of odd types, each with the person, landed through land_day."""
    root = tmp_path_factory.mktemp("pii_api")
    write_reference_day(root, D_API)
    nested: object = {"ChuHoSo": NAME, "SoDienThoai": PHONE}
    for _ in range(60):
        nested = [nested]
    items = [
        dossier("API-OK", D_API),
        dossier("API-LIST-NAME", D_API, ChuHoSo=[NAME, NAME_ASCII], SoDienThoai=int(PHONE_DIGITS),
                Email={"value": EMAIL.upper()}, SoGiayToChuHoSo=float(ID)),
        dossier("API-BAD-CODE", D_API, KenhThucHien={"kenh": NAME}, TrichYeuHoSo=f"{NAME} {PHONE}"),
        dossier("API-NESTED", D_API, TaiLieuNop=[{"NguoiKy": {"HoTen": NAME, "SDT": PHONE_DIGITS}}]),
        [dossier("API-IN-LIST", D_API)],
        json.dumps(f"ChuHoSo={NAME}; SoDienThoai={PHONE}; Email={EMAIL}; CCCD={ID_DOTS}", ensure_ascii=False),
        int(ID),  # a JSON string item (str lines are written as they are) and a number item
        {"MaHoSo": "API-DEEP", "x": nested},
        dossier("API-HUGE", D_API, TrichYeuHoSo=f"{NAME} " + "y" * 300_000),
        dossier("API-NUL", D_API, TrichYeuHoSo=f"{NAME}\x00{PHONE}", MaHoSo="API\x00NUL"),
    ]
    write_export_day(root, "onestop", D_API, {"dossiers": items, "steps": []})
    write_export_day(root, "edoc", D_API, {"documents": []})
    monkeypatch_module.setenv("CCHC_LANDING_MAX_LINE_BYTES", "200000")
    with ExportApi(root) as api:
        src = ApiSource(api.url, "secret", page_limit=4, backoff=0.001)
        result = land_day(warehouse_db, src, D_API, pseudonym_key=KEY.encode(), run_id="pii-api")
    return result, len(items)


def scan_database(url: str) -> tuple[int, list[str]]:
    """Every row of every base table of every schema, cast to text; (rows scanned, findings)."""
    found, scanned = [], 0
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE' "
            "and table_schema not in ('pg_catalog', 'information_schema') and table_schema not like 'pg_toast%%'"
        ).fetchall()
        for schema, table in tables:
            with conn.cursor(name=f"scan_{scanned}") as cur:
                cur.itersize = 2000
                cur.execute(f'select x::text from "{schema}"."{table}" x')
                for (row,) in cur:
                    scanned += 1
                    for what in find_clear(row):
                        found.append(f"{what} in {schema}.{table}: …{row[:300]}…")
    return scanned, found


def scan_files(home: Path) -> tuple[int, list[str]]:
    found, files = [], 0
    for path in home.rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        files += 1
        data = path.read_bytes()
        texts = [data.decode("utf-8", "replace")]
        if b"\x00" in data:
            texts.append(data.replace(b"\x00", b"").decode("utf-8", "replace"))
        for text in texts:
            for what in find_clear(text):
                found.append(f"{what} in {path}")
    return files, found


def test_the_corpus_really_carries_the_person():
    """Guard against a corpus that proves nothing: each line holds the values in a findable form."""
    for name, line in corpus(D).items():
        readable = [line.decode("utf-8", "replace"), line.decode("cp1258", "replace"),
                    line.decode("utf-16", "replace") if name.startswith("utf16") else "",
                    line.replace(b"\x00", b"").decode("utf-8", "replace")]
        readable = [unicodedata.normalize("NFC", t) for t in readable]
        hits = set().union(*(find_clear(t) for t in readable))
        assert hits, name


def test_every_corpus_line_is_landed_or_rejected(run, sources, warehouse_db):
    _, where = sources
    with psycopg.connect(warehouse_db) as conn:
        steps = dict(conn.execute("select step, status from ops.pipeline_steps").fetchall()) \
            if conn.execute("select to_regclass('ops.pipeline_steps')").fetchone()[0] else {}
        batch = conn.execute("select batch_id, lines_read, rows_landed, rows_rejected from raw.load_batches "
                             "where feed = 'dossiers' and source_day = %s and status = 'landed'", (D,)).fetchone()
        assert batch is not None, (steps, run.stdout[-3000:], run.stderr[-5000:])
        rejected = dict(conn.execute("select line_no, reason_code from raw.rejects where batch_id = %s",
                                     (batch[0],)).fetchall())
        raw_text = dict(conn.execute("select line_no, raw_text from raw.rejects where batch_id = %s and "
                                     "raw_text is not null", (batch[0],)).fetchall())
    assert batch[1] == batch[2] + batch[3]
    assert set(rejected) | {where["odd_keys_json"]} >= set(where.values())  # odd keys: a full dossier, it lands
    assert rejected[where["too_deep"]] == "too_deep" and rejected[where["too_large"]] == "line_too_large"
    assert rejected[where["cp1258_csv"]] == "bad_encoding"
    # what is not personal stays readable for the operator
    assert "'MaHoSo': 'P-SQ'" in raw_text[where["single_quotes"]]
    assert ts(D, 9) in raw_text[where["single_quotes"]] and "'ChuHoSo': 'hmac256:" in raw_text[where["single_quotes"]]
    assert raw_text[where["key_value"]].startswith("MaHoSo=P-KV ChuHoSo=hmac256:")
    assert f"NgayTiepNhan={ts(D, 9)}" in raw_text[where["key_value"]]
    assert raw_text[where["csv"]].startswith(f"P-CSV,1.004227,{UNITS[0]},hmac256:")
    assert '"MaTTHC": "1.004227"' in raw_text[where["truncated_after_id"]]
    assert "\"TenLinhVuc\": \"Đất đai\"" in raw_text[where["truncated_after_id"]]


def test_api_items_of_odd_types_are_rows_or_rejects(api_landed, warehouse_db):
    result, n = api_landed
    b = result.feed("dossiers")
    assert b.lines_read == n and b.rows_landed + b.rows_rejected == n
    assert b.rows_landed == 3  # API-OK, API-LIST-NAME (odd types, hashed whole), API-NESTED
    codes = dict(psycopg.connect(warehouse_db).execute(
        "select line_no, reason_code from raw.rejects where batch_id = %s", (b.batch_id,)).fetchall())
    assert codes == {3: "unknown_code", 5: "not_an_object", 6: "not_an_object", 7: "not_an_object",
                     8: "too_deep", 9: "line_too_large", 10: "bad_encoding"}


def test_no_clear_value_anywhere(run, api_landed, env, warehouse_db, server_url):
    found = [f"{what} in the output of cchc run" for what in find_clear(run.stdout + run.stderr)]
    rows, in_db = scan_database(warehouse_db)
    airflow_rows, in_airflow = scan_database(env["CCHC_AIRFLOW_DB_URL"])
    files, in_files = scan_files(Path(env["CCHC_HOME"]))
    found += in_db + in_airflow + in_files
    assert not found, "\n".join(found[:40])
    assert rows > 200 and files > 0  # something was scanned
    with psycopg.connect(warehouse_db) as conn:
        hashed = conn.execute("select count(*) from raw.onestop__dossiers where payload->>'ChuHoSo' like 'hmac256:%%' "
                              "and payload->>'SoDienThoai' like 'hmac256:%%'").fetchone()[0]
    assert hashed >= 150
