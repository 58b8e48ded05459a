"""Nothing wrong is ever published: the operator's scenarios, each through real `cchc run`s.

One simulated province (onestop, edoc, reference) of six days, delivered day by day into an export
root the test controls; every run is the real command (Airflow dag.test, dbt, GX, publish) on a
fresh database. The scenarios build on each other, in order:

1. a hole: day 3's one-stop delivery has no manifest; the run lands days 1-4, publishes as of day 2,
   says so loudly and records the hole; filling it publishes as of day 4;
2. a re-delivery with an older generated_at, and an empty one, change nothing in kpi, are listed
   by `cchc batches`, and a rerun publishes nothing new;
3. a day whose batch fails the gate stays blocked on every rerun until an operator accepts it;
4. a day with a dossier due in 2099 and a line nested 5,000 levels deep publishes (both are rejects);
   a BI view on kpi.tthc_report survives publications and a rollback;
5. a second run while one is in progress is refused at plan, naming the first; a full rebuild
   (`cchc rebuild`) publishes exactly what the incremental nights published.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from cchc_demo.simulator import SimulatorConfig, generate

pytestmark = pytest.mark.slow

DAYS = [dt.date(2025, 6, 2) + dt.timedelta(days=i) for i in range(6)]
CCHC = str(Path(sys.executable).parent / "cchc")


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("simulated")
    generate(root, SimulatorConfig(start=DAYS[0], end=DAYS[-1], seed=11, dossiers_per_day=30,
                                   documents_per_day=10, bad_rate=0.0))
    return root


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """The export root the runs read: days are copied in as the scenario delivers them."""
    return tmp_path_factory.mktemp("delivered")


def deliver(simulated: Path, root: Path, day: dt.date, systems=("reference", "onestop", "edoc")) -> None:
    for system in systems:
        src, dst = simulated / system / day.isoformat(), root / system / day.isoformat()
        if dst.exists():
            shutil.rmtree(dst)
        shutil.copytree(src, dst)


def redeliver(root: Path, system: str, day: dt.date, feed: str, lines: list[bytes], generated_at: str | None):
    """Replace one feed's file of a delivered day, and its manifest entry and generated_at."""
    folder = root / system / day.isoformat()
    data = gzip.compress(b"".join(line + b"\n" for line in lines), mtime=0)
    (folder / f"{feed}.jsonl.gz").write_bytes(data)
    manifest = json.loads((folder / "_manifest.json").read_text())
    manifest["files"][f"{feed}.jsonl.gz"] = {"lines": len(lines), "sha256": hashlib.sha256(data).hexdigest()}
    if generated_at is None:
        manifest.pop("generated_at", None)
    else:
        manifest["generated_at"] = generated_at
    (folder / "_manifest.json").write_text(json.dumps(manifest))


def lines_of(root: Path, system: str, day: dt.date, feed: str) -> list[bytes]:
    return gzip.decompress((root / system / day.isoformat() / f"{feed}.jsonl.gz").read_bytes()).splitlines()


@pytest.fixture(scope="module")
def env(cchc_env) -> dict:
    return {**cchc_env, "CCHC_OPERATOR": "test-operator"}


def cchc(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CCHC, *args], env=env, capture_output=True, text=True, timeout=900)


def run(env, root, start: dt.date, end: dt.date | None = None) -> subprocess.CompletedProcess:
    res = cchc(env, "run", "--start", start.isoformat(), "--end", (end or start).isoformat(),
               "--source-dir", str(root))
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-6000:]
    return res


def q(url: str, sql: str, params=()):
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def current(url: str) -> dict:
    with psycopg.connect(url) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute("select * from kpi.publications where is_current").fetchone()


def checksums(url: str) -> dict[str, str]:
    from cchc.publish import kpi_checksums

    with psycopg.connect(url) as conn:
        return kpi_checksums(conn)


def publications(url: str) -> int:
    return q(url, "select count(*) from kpi.publications")[0][0]


def test_a_hole_gives_a_publication_that_says_it_is_incomplete(env, simulated, root, warehouse_db):
    for day in DAYS[:4]:
        deliver(simulated, root, day)
    (root / "onestop" / DAYS[2].isoformat() / "_manifest.json").unlink()
    res = run(env, root, DAYS[0], DAYS[3])
    out = res.stdout + res.stderr
    assert "INCOMPLETE" in out and DAYS[2].isoformat() in out
    pub = current(warehouse_db)
    assert pub["as_of_date"] == DAYS[1]
    assert pub["complete_through"] == {"onestop": DAYS[1].isoformat(), "edoc": DAYS[3].isoformat()}
    assert pub["missing_days"] == {"onestop": [DAYS[2].isoformat()]}
    # never a claim past the hole: no reported period ends after day 2, no dossier of days 3-4
    assert q(warehouse_db, "select max(period_end) from kpi.tthc_report")[0][0] == DAYS[1]
    assert q(warehouse_db, "select count(*) from kpi.dossier_facts_daily where date > %s", (DAYS[1],))[0][0] == 0
    refused = q(warehouse_db, "select disposition from raw.load_batches where system = 'onestop' "
                "and source_day = %s", (DAYS[2],))
    assert refused and {r[0] for r in refused} == {"refused"}
    report = Path(pub["validation_report"]).read_text()
    assert "INCOMPLETE" in report and DAYS[2].isoformat() in report


def test_filling_the_hole_publishes_through_the_last_day(env, simulated, root, warehouse_db):
    deliver(simulated, root, DAYS[2], systems=("onestop",))
    run(env, root, DAYS[2])
    pub = current(warehouse_db)
    assert pub["as_of_date"] == DAYS[3] and pub["missing_days"] == {}
    assert pub["complete_through"] == {"onestop": DAYS[3].isoformat(), "edoc": DAYS[3].isoformat()}


def test_older_and_empty_redeliveries_change_nothing_and_are_listed(env, root, warehouse_db):
    before, n = checksums(warehouse_db), publications(warehouse_db)
    day = DAYS[3]
    original = lines_of(root, "onestop", day, "dossiers")
    older = [line.replace(b'"TrangThaiHoSo": "', b'"TrangThaiHoSo": "4') if i == 0 else line
             for i, line in enumerate(original)][1:]
    redeliver(root, "onestop", day, "dossiers", older, "2025-06-05T01:00:00+07:00")  # before the original
    run(env, root, day)
    redeliver(root, "onestop", day, "dossiers", [], "2025-06-06T09:00:00+07:00")  # a newer, empty one
    res = run(env, root, day)
    assert "nothing new" in res.stdout + res.stderr
    assert checksums(warehouse_db) == before and publications(warehouse_db) == n
    listing = cchc(env, "batches", "--day", day.isoformat(), "--feed", "dossiers")
    assert listing.returncode == 0
    assert "stale" in listing.stdout and "held" in listing.stdout and "in_force" in listing.stdout
    review = cchc(env, "batches", "--review")
    assert "empty re-delivery" in review.stdout


def test_a_blocked_batch_stays_blocked_until_an_operator_accepts_it(env, simulated, root, warehouse_db):
    day = DAYS[4]
    deliver(simulated, root, day)
    good = lines_of(root, "onestop", day, "dossiers")
    garbage = [b'{"MaHoSo": "broken-%d", ' % i for i in range(max(12, len(good)))]  # truncated lines
    redeliver(root, "onestop", day, "dossiers", good + garbage, "2025-06-07T03:10:00+07:00")
    first = run(env, root, day)
    assert "BLOCKED" in first.stdout + first.stderr
    pub, n = current(warehouse_db), publications(warehouse_db)
    assert pub["as_of_date"] == DAYS[3] and pub["missing_days"] == {"onestop": [day.isoformat()]}
    rerun = run(env, root, day)  # the same delivery again: unchanged, still blocked, nothing new
    assert "nothing new" in rerun.stdout + rerun.stderr and publications(warehouse_db) == n
    blocked = q(warehouse_db, "select batch_id, gate_failures from raw.load_batches where system = 'onestop' "
                "and feed = 'dossiers' and source_day = %s and disposition = 'blocked'", (day,))
    assert len(blocked) == 1 and "reject_share" in blocked[0][1]
    accepted = cchc(env, "batches", "accept", str(blocked[0][0]), "--reason", "rejects confirmed harmless")
    assert accepted.returncode == 0 and "in_force" in accepted.stdout
    run(env, root, day)
    assert current(warehouse_db)["as_of_date"] == day
    assert q(warehouse_db, "select reviewed_by, reason from raw.batch_reviews where batch_id = %s",
             (blocked[0][0],)) == [("test-operator", "rejects confirmed harmless")]


def test_a_bi_view_survives_publications_and_a_rollback(env, simulated, root, warehouse_db):
    with psycopg.connect(warehouse_db, autocommit=True) as conn:
        conn.execute("create view public.bi_month as select unit_id, received_total, publication_id "
                     "from kpi.tthc_report where period_type = 'month' and field_code = '*'")
    before = current(warehouse_db)
    sums_before = checksums(warehouse_db)
    deliver(simulated, root, DAYS[5])
    # one dossier due in 2099 and one line nested 5,000 levels deep: rejects, and the rest publishes
    good = lines_of(root, "onestop", DAYS[5], "dossiers")
    first = json.loads(good[0])
    far = dict(first, MaHoSo=first["MaHoSo"] + "-2099", NgayHenTra="20991231170000")
    deep = b'{"MaHoSo": "deep", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    redeliver(root, "onestop", DAYS[5], "dossiers",
              good + [json.dumps(far, ensure_ascii=False).encode(), deep], "2025-06-08T03:10:00+07:00")
    run(env, root, DAYS[5])
    rejects = dict(q(warehouse_db, "select r.reason_code, count(*) from raw.rejects r join raw.load_batches b "
                     "using (batch_id) where b.system = 'onestop' and b.feed = 'dossiers' and b.source_day = %s "
                     "group by 1", (DAYS[5],)))
    assert rejects == {"implausible_timestamp": 1, "too_deep": 1}
    after = current(warehouse_db)
    assert after["publication_id"] != before["publication_id"] and after["as_of_date"] == DAYS[5]
    assert {r[0] for r in q(warehouse_db, "select publication_id from public.bi_month")} == \
        {after["publication_id"]}
    res = cchc(env, "rollback", "--reason", "test")
    assert res.returncode == 0, res.stdout + res.stderr
    back = current(warehouse_db)
    assert back["publication_id"] == before["publication_id"] and back["rolled_back_from"] == after["publication_id"]
    assert checksums(warehouse_db) == sums_before
    assert {r[0] for r in q(warehouse_db, "select publication_id from public.bi_month")} == \
        {before["publication_id"]}


def test_a_second_run_at_the_same_time_is_refused_naming_the_first(env, root, warehouse_db):
    """The first is a full rebuild (it holds the lock through a whole dbt build); it must publish
    exactly what the incremental nights published."""
    latest = q(warehouse_db, "select max(publication_id) from kpi.publications")[0][0]
    forward = cchc(env, "rollback", "--to", str(latest), "--reason", "back to the latest night")
    assert forward.returncode == 0, forward.stdout + forward.stderr
    sums = checksums(warehouse_db)
    first = subprocess.Popen([CCHC, "rebuild"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    try:
        deadline = time.monotonic() + 300
        holder = None
        while time.monotonic() < deadline and holder is None:
            rows = q(warehouse_db, "select run_id from ops.run_lock where released_at is null")
            holder = rows[0][0] if rows else None
            time.sleep(0.5)
        assert holder, "the first run never took the lock"
        second = cchc(env, "run", "--start", DAYS[5].isoformat(), "--end", DAYS[5].isoformat(),
                      "--source-dir", str(root))
        assert second.returncode != 0
        assert "another run is in progress" in second.stderr and holder in second.stderr
    finally:
        out, err = first.communicate(timeout=600)
    assert first.returncode == 0, out[-2000:] + err[-4000:]
    assert checksums(warehouse_db) == sums  # full rebuild == the incremental path
