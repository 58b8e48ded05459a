"""The simulator's HTTP API over real export files, real HTTP on 127.0.0.1 (port 0), no mocks."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import requests

from cchc_demo.simulator import SimulatorConfig, generate, serve

START = dt.date(2025, 6, 23)
DAYS = [START + dt.timedelta(days=i) for i in range(6)]
TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
KEYS = {"dossiers": ("MaHoSo",), "steps": ("MaHoSo", "BuocXuLy"), "documents": ("DocumentId",)}
SYSTEM = {"dossiers": "onestop", "steps": "onestop", "documents": "edoc"}


def window(first: dt.date, last: dt.date | None = None) -> dict[str, str]:
    return {"updated_from": first.strftime("%Y%m%d") + "000000",
            "updated_to": (last or first).strftime("%Y%m%d") + "235959"}


def canon(record: dict) -> str:
    return json.dumps(record, sort_keys=True, ensure_ascii=False)


def servable(root: Path, feed: str, days: list[dt.date]) -> dict:
    """What the API must answer for a window of whole days: latest parseable version per key."""
    out, anonymous = {}, []
    for day in days:
        path = root / SYSTEM[feed] / day.isoformat() / f"{feed}.jsonl.gz"
        for line in gzip.decompress(path.read_bytes()).split(b"\n")[:-1]:
            try:
                record = json.loads(line.decode("utf-8"))
            except ValueError:
                continue
            key = tuple(record.get(k) for k in KEYS[feed])
            if not all(key):
                anonymous.append(canon(record))
            elif key not in out or record["NgayCapNhat"] >= out[key]["NgayCapNhat"]:
                out[key] = record
    return Counter([canon(r) for r in out.values()] + anonymous)


def walk(url: str, feed: str, params: dict, limit: int) -> list[dict]:
    items, cursor, pages = [], "", 0
    while True:
        r = requests.get(f"{url}/api/v1/{feed}", params={**params, "cursor": cursor, "limit": limit},
                         headers=AUTH, timeout=30)
        assert r.status_code == 200, r.text
        body = r.json()
        items += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items
        assert len(body["items"]) == limit and pages < 10_000


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export")
    generate(out, SimulatorConfig(start=DAYS[0], end=DAYS[-1], seed=11, dossiers_per_day=30, documents_per_day=30,
                                  bad_rate=0.05))
    return out


@pytest.fixture(scope="module")
def server(root):
    running = serve(root, port=0, token=TOKEN)
    yield running
    running.shutdown()


def test_health_and_auth(server):
    assert server.url == f"http://127.0.0.1:{server.port}"
    assert requests.get(f"{server.url}/health", timeout=5).status_code == 200
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        r = requests.get(f"{server.url}/api/v1/dossiers", params=window(START), headers=headers, timeout=5)
        assert r.status_code == 401 and "error" in r.json()


@pytest.mark.parametrize("params, status", [
    ({"updated_from": "2025-06-23"}, 400),
    ({"updated_to": "20251345000000"}, 400),
    ({"updated_from": "20250624000000", "updated_to": "20250623000000"}, 400),
    ({"cursor": "not-a-cursor"}, 400),
    ({"limit": "0"}, 400),
    ({"limit": "5001"}, 400),
    ({"limit": "ten"}, 400),
])
def test_bad_parameters(server, params, status):
    r = requests.get(f"{server.url}/api/v1/dossiers", params=params, headers=AUTH, timeout=5)
    assert r.status_code == status and "error" in r.json()


def test_unknown_feed_and_cursor_of_another_feed(server):
    assert requests.get(f"{server.url}/api/v1/nothing", headers=AUTH, timeout=5).status_code == 404
    first = requests.get(f"{server.url}/api/v1/steps", params={**window(START), "limit": 1}, headers=AUTH,
                         timeout=5).json()
    r = requests.get(f"{server.url}/api/v1/dossiers", params={"cursor": first["next_cursor"]}, headers=AUTH,
                     timeout=5)
    assert r.status_code == 400


@pytest.mark.parametrize("feed", ["dossiers", "steps", "documents"])
def test_pagination_walks_the_snapshot_exactly_once(server, root, feed):
    day = DAYS[1]
    items = walk(server.url, feed, window(day), limit=7)
    assert Counter(canon(i) for i in items) == servable(root, feed, [day])
    order = [(i["NgayCapNhat"]) for i in items]
    assert order == sorted(order)
    # a window over several days: the latest version of each key
    items = walk(server.url, feed, window(DAYS[0], DAYS[-1]), limit=5000)
    assert Counter(canon(i) for i in items) == servable(root, feed, DAYS)
    assert any(not i.get(KEYS[feed][0]) for i in items), "bad records are served as they are"


def test_reference_lists_are_whole(server, root):
    units = walk(server.url, "units", {"updated_from": "20250629000000", "updated_to": "20250624235959"}, limit=10)
    path = root / "reference" / "2025-06-24" / "units.jsonl.gz"
    assert [canon(u) for u in units] == sorted(
        (canon(json.loads(x)) for x in gzip.decompress(path.read_bytes()).splitlines()),
        key=lambda c: (json.loads(c)["NgayCapNhat"], json.loads(c)["UnitId"]))
    assert walk(server.url, "procedures", {}, limit=5000)
    assert walk(server.url, "units", {"updated_to": "20250101000000"}, limit=10) == []


def test_pagination_is_stable_when_days_arrive(root, tmp_path):
    live = tmp_path / "live"
    for system in ("onestop", "edoc", "reference"):
        for day in DAYS[:2]:
            shutil.copytree(root / system / day.isoformat(), live / system / day.isoformat())
    with serve(live, token=TOKEN) as running:
        params = {**window(DAYS[0], DAYS[2]), "limit": 20}
        first = requests.get(f"{running.url}/api/v1/dossiers", params=params, headers=AUTH, timeout=10).json()
        for system in ("onestop", "edoc", "reference"):  # day 3 is delivered while the client pages
            shutil.copytree(root / system / DAYS[2].isoformat(), live / system / DAYS[2].isoformat())
        items, cursor = list(first["items"]), first["next_cursor"]
        while cursor:
            body = requests.get(f"{running.url}/api/v1/dossiers", params={**params, "cursor": cursor}, headers=AUTH,
                                timeout=10).json()
            items += body["items"]
            cursor = body["next_cursor"]
    served = Counter(canon(i) for i in items)
    assert max(served.values()) == 1, "nothing is served twice"
    expected = servable(root, "dossiers", DAYS[:3])
    assert not expected - served, "every latest version is served"
    newest = {i.get("MaHoSo"): i["NgayCapNhat"] for i in items}
    for extra in served - expected:  # an older version served before its newer one arrived
        record = json.loads(extra)
        assert record["NgayCapNhat"] < newest[record["MaHoSo"]]


def test_fault_injection_rate(root):
    with serve(root, token=TOKEN, fault_rate=0.3, seed=5) as running:
        codes, retry_after = Counter(), set()
        with requests.Session() as session:
            for _ in range(300):
                r = session.get(f"{running.url}/api/v1/units", params={"limit": 1}, headers=AUTH, timeout=5)
                codes[r.status_code] += 1
                if r.status_code == 429:
                    retry_after.add(r.headers["Retry-After"])
        assert set(codes) == {200, 429, 503}
        assert 0.22 < (codes[429] + codes[503]) / 300 < 0.38
        assert retry_after <= {"0", "1"}
        assert requests.get(f"{running.url}/health", timeout=5).status_code == 200


def test_module_runs_the_server_in_the_foreground(root):
    proc = subprocess.Popen([sys.executable, "-m", "cchc_demo.simulator.server", "--root", str(root), "--host",
                             "127.0.0.1", "--port", "0", "--token", TOKEN], stderr=subprocess.PIPE, text=True)
    try:
        line = ""
        deadline = time.monotonic() + 20
        while "serving" not in line and time.monotonic() < deadline:
            line = proc.stderr.readline()
        port = int(line.rsplit(":", 1)[1])
        assert requests.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
        r = requests.get(f"http://127.0.0.1:{port}/api/v1/units", headers=AUTH, timeout=5)
        assert r.status_code == 200 and r.json()["items"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
