"""The simulator's feeds of issue 7: feedback, ratings and the targets list — deterministic by seed,
consistent with the simulated dossiers and units, served by the API as exported. No database."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
from pathlib import Path

import pytest
import requests

from cchc.contracts import code_sets
from cchc_demo.simulator import SimulatorConfig, generate, serve
from cchc_demo.simulator.province import units_by_id
from cchc_demo.simulator.targets import INDICATORS, LEVELS, NO_TARGET, REVISED, REVISION_DAY, UNIT_TARGETS

START, END = dt.date(2025, 5, 5), dt.date(2025, 6, 8)
CFG = dict(start=START, end=END, seed=77, dossiers_per_day=60, documents_per_day=5)


def read(root: Path, system: str, day: dt.date, feed: str) -> list[dict]:
    path = root / system / day.isoformat() / f"{feed}.jsonl.gz"
    return [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]


def days():
    return [START + dt.timedelta(days=i) for i in range((END - START).days + 1)]


@pytest.fixture(scope="module")
def sim(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("sim7")
    return root, generate(root, SimulatorConfig(**CFG))


def test_same_seed_same_bytes_and_manifests_list_the_new_feeds(sim, tmp_path):
    root, summary = sim
    again = generate(tmp_path, SimulatorConfig(**CFG))
    for d in (START, END):
        for system, feed in (("onestop", "feedback"), ("onestop", "ratings"), ("reference", "targets")):
            a = (root / system / d.isoformat() / f"{feed}.jsonl.gz").read_bytes()
            b = (tmp_path / system / d.isoformat() / f"{feed}.jsonl.gz").read_bytes()
            assert a == b
            manifest = json.loads((root / system / d.isoformat() / "_manifest.json").read_bytes())
            assert manifest["files"][f"{feed}.jsonl.gz"]["sha256"] == hashlib.sha256(a).hexdigest()
    assert again["totals"] == summary["totals"]
    other = generate(tmp_path / "other", SimulatorConfig(**{**CFG, "seed": 78}))
    assert other["totals"]["onestop/feedback"] != summary["totals"]["onestop/feedback"] or \
        read(tmp_path / "other", "onestop", END, "ratings") != read(root, "onestop", END, "ratings")


def test_adding_the_feeds_changed_no_dossier_and_an_older_exporter_omits_them(sim, tmp_path):
    root, _ = sim
    cut = START + dt.timedelta(days=10)
    generate(tmp_path, SimulatorConfig(**{**CFG, "added_feeds_from": cut}))
    for d in (START, cut, END):
        for system, feed in (("onestop", "dossiers"), ("onestop", "steps"), ("edoc", "documents")):
            assert (root / system / d.isoformat() / f"{feed}.jsonl.gz").read_bytes() == \
                (tmp_path / system / d.isoformat() / f"{feed}.jsonl.gz").read_bytes()
    before = json.loads((tmp_path / "onestop" / START.isoformat() / "_manifest.json").read_bytes())
    assert set(before["files"]) == {"dossiers.jsonl.gz", "steps.jsonl.gz"}
    assert not (tmp_path / "reference" / START.isoformat() / "targets.jsonl.gz").exists()
    # from the cut on, the same lines as a simulator that always had them
    assert read(tmp_path, "onestop", cut, "feedback") == read(root, "onestop", cut, "feedback")
    assert read(tmp_path, "onestop", END, "ratings") == read(root, "onestop", END, "ratings")


def test_ratings_are_on_finished_dossiers_and_feedback_on_known_units_and_dossiers(sim):
    root, _ = sim
    status_by_day: dict[str, dict[dt.date, str]] = {}
    for d in days():
        for rec in read(root, "onestop", d, "dossiers"):
            status_by_day.setdefault(rec["MaHoSo"], {})[d] = rec["TrangThaiHoSo"]
    units = {u["UnitId"] for u in read(root, "reference", END, "units")}
    codes = code_sets()
    ratings, feedback = [], []
    for d in days():
        for rec in read(root, "onestop", d, "ratings"):
            assert rec["NgayCapNhat"].startswith(f"{d:%Y%m%d}") and rec["NgayDanhGia"] <= rec["NgayCapNhat"]
            history = status_by_day[rec["MaHoSo"]]  # the rated dossier was simulated ...
            assert any(s in ("9", "10") for day_, s in history.items() if day_ <= d)  # ... and finished by then
            assert rec["MucDo"] in codes["rating_level"]
            ratings.append((d, rec))
        for rec in read(root, "onestop", d, "feedback"):
            received = dt.date(int(rec["NgayTiepNhan"][:4]), int(rec["NgayTiepNhan"][4:6]), int(rec["NgayTiepNhan"][6:8]))
            assert rec["DonViXuLy"] in units and units_by_id()[rec["DonViXuLy"]].valid_on(received)
            assert rec["Kenh"] in codes["feedback_channel"] and rec["PhanLoai"] in codes["feedback_category"]
            assert rec["KetQua"] in codes["feedback_verdict"] | {""}
            if rec["MaHoSo"]:
                assert rec["MaHoSo"] in status_by_day and rec["MaPAKN"] == f"PAKN-{rec['MaHoSo']}"
            assert rec["NgayTiepNhan"] <= (rec["NgayXuLy"] or "99") and rec["NgayTiepNhan"] < rec["HanXuLy"]
            feedback.append(rec)
    assert len(ratings) > 50 and len(feedback) > 30
    assert {r["MucDo"] for _, r in ratings} == {"1", "2", "3"}
    revotes = {}
    for _, r in ratings:
        revotes.setdefault(r["MaHoSo"], set()).add(r["NgayDanhGia"])
    assert any(len(v) > 1 for v in revotes.values())  # a later vote replaces an earlier one
    final = {}
    for rec in feedback:
        final[rec["MaPAKN"]] = rec
    final = list(final.values())
    kinds = {
        "hotline 1022": [f for f in final if f["Kenh"] == "1022"],
        "about an official": [f for f in final if f["PhanLoai"] == "CANBO"],
        "about a dossier": [f for f in final if f["MaHoSo"]],
        "about no dossier": [f for f in final if not f["MaHoSo"]],
        "answered late": [f for f in final if f["NgayXuLy"] and f["NgayXuLy"] > f["HanXuLy"]],
        "unanswered": [f for f in final if not f["NgayXuLy"]],
        "satisfied": [f for f in final if f["KetQua"] == "HAI_LONG"],
        "not satisfied": [f for f in final if f["KetQua"] == "KHONG_HAI_LONG"],
    }
    assert all(kinds.values()), {k: len(v) for k, v in kinds.items()}


def test_targets_per_level_and_year_with_unit_rows_a_gap_and_a_revision(sim):
    root, _ = sim
    before, after = read(root, "reference", REVISION_DAY - dt.timedelta(days=1), "targets"), \
        read(root, "reference", REVISION_DAY, "targets")
    units = units_by_id()
    for rows in (before, after):
        level_rows = {(r["Level"], r["Year"], r["IndicatorCode"]) for r in rows if r["UnitId"] == ""}
        years = {r["Year"] for r in rows}
        assert years == {2024, 2025}
        for year in years:
            for level in LEVELS:
                for indicator in INDICATORS:
                    assert ((level, year, indicator) in level_rows) == ((level, indicator) != NO_TARGET)
        unit_rows = [r for r in rows if r["UnitId"]]
        assert len(unit_rows) == len(UNIT_TARGETS) * len(years)
        assert all(units[r["UnitId"]].level == r["Level"] for r in unit_rows)
        assert all(isinstance(r["TargetValue"], float) and 0 <= r["TargetValue"] <= 1 for r in rows)
        assert len({(r["UnitId"], r["Level"], r["Year"], r["IndicatorCode"]) for r in rows}) == len(rows)
    value = {(r["UnitId"], r["Year"], r["IndicatorCode"]): r["TargetValue"] for r in before}
    revised = {(r["UnitId"], r["Year"], r["IndicatorCode"]): r["TargetValue"] for r in after}
    changed = {k for k in value if value[k] != revised[k]}
    assert changed == {(REVISED[0], 2025, REVISED[1])} and revised[(REVISED[0], 2025, REVISED[1])] == REVISED[2]


def test_the_api_serves_the_new_feeds_as_exported_and_404_where_an_older_exporter_had_none(sim, tmp_path):
    root, _ = sim
    old = tmp_path / "old"
    generate(old, SimulatorConfig(**{**CFG, "end": START + dt.timedelta(days=3), "added_feeds_from":
                                     START + dt.timedelta(days=2)}))
    server = serve(root, token="t")
    old_server = serve(old, token="t")
    try:
        auth = {"Authorization": "Bearer t"}
        d = START + dt.timedelta(days=8)
        window = {"updated_from": f"{d:%Y%m%d}000000", "updated_to": f"{d:%Y%m%d}235959", "limit": "1000"}
        for feed, system in (("feedback", "onestop"), ("ratings", "onestop"), ("targets", "reference")):
            body = requests.get(f"{server.url}/api/v1/{feed}", params=window, headers=auth, timeout=10).json()
            assert sorted(json.dumps(i, sort_keys=True) for i in body["items"]) == \
                sorted(json.dumps(i, sort_keys=True) for i in read(root, system, d, feed))
        early = {"updated_from": f"{START:%Y%m%d}000000", "updated_to": f"{START:%Y%m%d}235959"}
        for feed in ("feedback", "ratings", "targets"):
            assert requests.get(f"{old_server.url}/api/v1/{feed}", params=early, headers=auth,
                                timeout=10).status_code == 404
        assert requests.get(f"{old_server.url}/api/v1/dossiers", params=early, headers=auth,
                            timeout=10).status_code == 200
        late = START + dt.timedelta(days=3)
        assert requests.get(f"{old_server.url}/api/v1/feedback", headers=auth, timeout=10, params={
            "updated_from": f"{late:%Y%m%d}000000", "updated_to": f"{late:%Y%m%d}235959"}).status_code == 200
    finally:
        server.shutdown()
        old_server.shutdown()
