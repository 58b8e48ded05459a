"""Extract and land against the source simulator: its files, its ground truth and its HTTP API."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid

import psycopg
import pytest

from cchc.extract import ApiSource, DeliveryRefused, FileSource, SourceAuthError
from cchc.land import land_day
from cchc.warehouse import create_database, drop_database

simulator = pytest.importorskip("cchc_demo.simulator")

START, END = dt.date(2025, 5, 5), dt.date(2025, 5, 7)  # Mon..Wed
DAYS = [START + dt.timedelta(days=i) for i in range((END - START).days + 1)]
KEY = b"simulator-test-key-0123456789"
PERSONAL = ("ChuHoSo", "SoGiayToChuHoSo", "SoDienThoai", "Email")
KIND_TO_REASON = {"truncated": "invalid_json"}  # every other kind is its own reason code


@pytest.fixture(scope="module")
def sim_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("sim")
    simulator.generate(root, simulator.SimulatorConfig(start=START, end=END, bad_rate=0.05))
    return root


@pytest.fixture(scope="module")
def landed(warehouse_db, sim_root):
    """Every day landed once from the files: {day: DayResult}."""
    src = FileSource(sim_root)
    return {d: land_day(warehouse_db, src, d, pseudonym_key=KEY, run_id="files") for d in DAYS}


@pytest.fixture()
def fresh_db(server_url):
    name = f"cchc_test_sim_{uuid.uuid4().hex[:8]}"
    yield create_database(server_url, name)
    drop_database(server_url, name)


def query(url: str, sql: str, *params) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def raw_snapshot(url: str) -> dict[str, list[tuple]]:
    with psycopg.connect(url) as conn:
        tables = [t for (t,) in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'raw'")]
        return {t: conn.execute(f"select * from raw.{t} order by 1, 2, 3").fetchall() for t in tables}


def test_bad_lines_match_the_injected_ground_truth(warehouse_db, sim_root, landed):
    injected = json.loads((sim_root / "_simulator" / "injected.json").read_text())
    assert len(injected) > 30
    expected = {(i["feed"], i["day"], i["line_no"]): (KIND_TO_REASON.get(i["kind"], i["kind"]), i["key"])
                for i in injected}
    got = {(feed, day.isoformat(), line_no): (code, key)
           for feed, day, line_no, code, key in query(
               warehouse_db, "select feed, source_day, line_no, reason_code, record_key from raw.rejects")}
    assert set(got) == set(expected)
    for where, (code, key) in expected.items():
        assert got[where][0] == code, where
        if code != "invalid_json":  # a truncated line may lose its key
            assert got[where][1] == key, where
    assert {c for c, _ in expected.values()} == {"missing_key", "unknown_code", "bad_timestamp",
                                                 "dates_out_of_order", "duplicate", "invalid_json", "bad_encoding"}
    for result in landed.values():
        assert {b.status for b in result} == {"landed"}
        for b in result:
            assert b.lines_read == b.rows_landed + b.rows_rejected


def test_landing_again_changes_nothing(warehouse_db, sim_root, landed):
    before = raw_snapshot(warehouse_db)
    for d in DAYS:
        again = land_day(warehouse_db, FileSource(sim_root), d, pseudonym_key=KEY, run_id="again")
        assert {b.status for b in again} == {"unchanged"}
    assert raw_snapshot(warehouse_db) == before


def test_api_lands_what_files_land_through_faults(warehouse_db, sim_root, landed):
    server = simulator.serve(sim_root, token="tok", fault_rate=0.15, seed=7)
    try:
        src = ApiSource(server.url, "tok", page_limit=150, backoff=0.01, max_retries=8)
        by_api = {d: land_day(warehouse_db, src, d, pseudonym_key=KEY, run_id="api") for d in DAYS}
        again = land_day(warehouse_db, src, DAYS[-1], pseudonym_key=KEY, run_id="api-again")
    finally:
        server.shutdown()
    assert src.retries > 0
    assert {b.status for b in again} == {"unchanged"}
    for d in DAYS:
        for f, a in zip(landed[d], by_api[d], strict=True):
            assert (f.feed, a.status) == (a.feed, "landed")
            sql = f"select record_key, payload::text from raw.{f.system}__{f.feed} where batch_id = %s"
            assert set(query(warehouse_db, sql, a.batch_id)) == set(query(warehouse_db, sql, f.batch_id)), f.feed


def test_wrong_token_fails_clearly(sim_root):
    server = simulator.serve(sim_root, token="tok")
    try:
        with pytest.raises(SourceAuthError, match="401"):
            ApiSource(server.url, "not-the-token").fetch("dossiers", START)
    finally:
        server.shutdown()


@pytest.mark.parametrize("how, words", [
    ("missing", "has no _manifest.json"),
    ("count", "line count expected"),
    ("checksum", "sha256 expected"),
])
def test_broken_manifests_are_refused_then_fixed(fresh_db, sim_root, how, words):
    day = START
    manifest = sim_root / "onestop" / day.isoformat() / "_manifest.json"
    good = manifest.read_bytes()
    try:
        simulator.break_manifest(sim_root, "onestop", day, how)
        with pytest.raises(DeliveryRefused) as exc:
            land_day(fresh_db, FileSource(sim_root), day, pseudonym_key=KEY)
        assert words in str(exc.value)
        statuses = {b.feed: b.status for b in exc.value.result}
        refused = {r.feed for r in exc.value.refusals}
        assert refused == ({"dossiers", "steps"} if how == "missing" else {"dossiers"})  # first file listed
        assert all(statuses[f] == "refused" for f in refused)
        assert statuses["documents"] == statuses["units"] == "landed"
        for feed in refused:
            assert query(fresh_db, f"select count(*) from raw.onestop__{feed}") == [(0,)]
    finally:
        manifest.write_bytes(good)
    fixed = land_day(fresh_db, FileSource(sim_root), day, pseudonym_key=KEY)
    # without the manifest, feedback and ratings (feeds added later, never landed here) were not delivered
    newly = refused | ({"feedback", "ratings"} if how == "missing" else set())
    assert {b.feed: b.status for b in fixed} == {
        **{f: "unchanged" for f in ("units", "procedures", "targets", "documents", "dossiers", "steps", "feedback",
                                    "ratings")},
        **{f: "landed" for f in newly}}


# -- no personal data in clear ------------------------------------------------------------------


def _source_people(root) -> dict[str, set[str]]:
    """Personal values of every dossier line delivered (UTF-8 or cp1258), by field."""
    import gzip

    people: dict[str, set[str]] = {f: set() for f in PERSONAL}
    for path in root.glob("onestop/*/dossiers.jsonl.gz"):
        for line in gzip.decompress(path.read_bytes()).splitlines():
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                text = line.decode("cp1258")
            try:
                record = json.loads(text)
            except ValueError:
                continue
            for f in PERSONAL:
                if isinstance(record, dict) and record.get(f):
                    people[f].add(str(record[f]))
    return people


def _public_values(root) -> set[str]:
    """Every string of the delivered files outside the personal fields (officials' names …)."""
    import gzip

    out: set[str] = set()

    def walk(v):
        if isinstance(v, str):
            out.add(v)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, dict):
            for k, x in v.items():
                if k not in PERSONAL:
                    walk(x)

    for path in root.glob("*/*/*.jsonl.gz"):
        for line in gzip.decompress(path.read_bytes()).splitlines():
            try:
                walk(json.loads(line))
            except ValueError:
                continue
    return out


NAME_RUN = re.compile(r"[^\W\d_]+(?:[ \u00a0][^\W\d_]+)+")


def test_no_personal_data_in_clear_anywhere(warehouse_db, sim_root, landed):
    """Scan every text and jsonb column of every table for the applicants' names, IDs, phones, e-mails."""
    people = _source_people(sim_root)
    assert sum(map(len, people.values())) > 500
    public = _public_values(sim_root)
    names = people["ChuHoSo"] - public  # a citizen may share an official's name, which is public
    numbers = {re.sub(r"\D", "", v) for f in ("SoGiayToChuHoSo", "SoDienThoai") for v in people[f]} - public
    emails = {v.lower() for v in people["Email"]}
    texts: list[str] = []
    with psycopg.connect(warehouse_db) as conn:
        columns = conn.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where data_type in ('text', 'jsonb', 'json', 'character varying') "
            "and table_schema not in ('pg_catalog', 'information_schema')").fetchall()
        for schema, table, column in columns:
            texts += [v for (v,) in conn.execute(f'select "{column}"::text from "{schema}"."{table}" '
                                                 f'where "{column}" is not null')]
    big = "\n".join(texts)
    assert len(big) > 1_000_000 and "hmac256:" in big
    leaked_numbers = set(re.findall(r"\d{9,}", big)) & numbers
    leaked_emails = {m.lower() for m in re.findall(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", big)} & emails
    leaked_names = set()
    for run in NAME_RUN.findall(big):
        words = run.split()
        for i in range(len(words)):
            for j in range(i + 2, min(len(words), i + 6) + 1):
                candidate = " ".join(words[i:j])
                if candidate in names:
                    leaked_names.add(candidate)
    assert not leaked_numbers and not leaked_emails and not leaked_names
