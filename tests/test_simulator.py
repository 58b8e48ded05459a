"""The source simulator's export files: determinism, manifests, snapshots, domain rules, bad lines.

Real files in temporary folders, small volumes; the ground truth is the simulator's own
``_simulator/`` folder and the spec (shared/spec/sources.md, domain.md).
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from cchc_demo.working_days import is_working_day
from cchc_demo.simulator import SimulatorConfig, break_manifest, generate
from cchc_demo.simulator.clock import due_time, parse_ts
from cchc_demo.simulator.corrupt import KINDS
from cchc_demo.simulator.dossiers import shift_working_days, wrong_due_dates
from cchc_demo.simulator.province import procedures, units

START, END = dt.date(2025, 6, 16), dt.date(2025, 7, 5)  # 20 days across the 1/7/2025 reorganisation
SNAPSHOT_FEEDS = {"onestop": ("dossiers", "steps"), "edoc": ("documents",)}
ALL_FEEDS = {"onestop": ("dossiers", "steps", "feedback", "ratings"), "edoc": ("documents",),
             "reference": ("units", "procedures", "targets")}
UNITS = {u.unit_id: u for u in units()}
PROCS = {p.code: p for p in procedures()}
STATUSES = {str(i) for i in range(1, 11)}


def cfg(**kw) -> SimulatorConfig:
    base = dict(start=START, end=END, seed=7, dossiers_per_day=40, documents_per_day=60, bad_rate=0.0)
    base.update(kw)
    return SimulatorConfig(**base)


def read_lines(path: Path) -> list[bytes]:
    data = gzip.decompress(path.read_bytes())
    assert data == b"" or data.endswith(b"\n")
    return data.split(b"\n")[:-1] if data else []


def records(root: Path, system: str, feed: str) -> dict[dt.date, list[dict]]:
    out = {}
    for folder in sorted((root / system).iterdir()):
        out[dt.date.fromisoformat(folder.name)] = [json.loads(b) for b in read_lines(folder / f"{feed}.jsonl.gz")]
    return out


def file_hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("clean")
    return root, generate(root, cfg())


@pytest.fixture(scope="module")
def dossiers(clean) -> dict[dt.date, list[dict]]:
    return records(clean[0], "onestop", "dossiers")


@pytest.fixture(scope="module")
def latest(dossiers) -> dict[str, dict]:
    out = {}
    for day in sorted(dossiers):
        for r in dossiers[day]:
            out[r["MaHoSo"]] = r
    return out


@pytest.fixture(scope="module")
def documents(clean) -> dict[dt.date, list[dict]]:
    return records(clean[0], "edoc", "documents")


@pytest.fixture(scope="module")
def bad(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("bad")
    return root, generate(root, cfg(end=START + dt.timedelta(days=9), bad_rate=0.05))


# -- delivery ---------------------------------------------------------------------------------------
def test_same_config_gives_byte_identical_files(tmp_path):
    small = cfg(end=START + dt.timedelta(days=3), dossiers_per_day=15, documents_per_day=10, bad_rate=0.05)
    generate(tmp_path / "a", small)
    generate(tmp_path / "b", small)
    generate(tmp_path / "c", SimulatorConfig(**{**small.to_json(), "seed": 8}))
    a, b, c = (file_hashes(tmp_path / x) for x in "abc")
    assert a == b and len(a) > 20
    assert a["onestop/2025-06-16/dossiers.jsonl.gz"] != c["onestop/2025-06-16/dossiers.jsonl.gz"]


def test_layout_and_manifests_match_files(clean):
    root, summary = clean
    for system, feeds in ALL_FEEDS.items():
        days = sorted(p.name for p in (root / system).iterdir())
        assert days == [d.isoformat() for d in cfg().days()]
        for day in days:
            folder = root / system / day
            manifest = json.loads((folder / "_manifest.json").read_text())
            assert set(manifest["files"]) == {f"{f}.jsonl.gz" for f in feeds}
            assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary files left
            for name, entry in manifest["files"].items():
                data = (folder / name).read_bytes()
                assert entry["sha256"] == hashlib.sha256(data).hexdigest()
                assert entry["lines"] == len(read_lines(folder / name))
                assert entry["lines"] == summary["files"][f"{system}/{name[:-9]}"][day]["lines"]
    assert json.loads((root / "_simulator" / "config.json").read_text())["start"] == START.isoformat()
    assert json.loads((root / "_simulator" / "injected.json").read_text()) == []


def test_daily_snapshots_hold_the_days_changes(clean):
    root, _ = clean
    for system, feeds in SNAPSHOT_FEEDS.items():
        for feed in feeds:
            for day, recs in records(root, system, feed).items():
                assert recs or not is_working_day(day), (system, feed, day)
                assert {r["NgayCapNhat"][:8] for r in recs} <= {day.strftime("%Y%m%d")}
                keys = [(r.get("MaHoSo"), r.get("BuocXuLy"), r.get("DocumentId")) for r in recs]
                assert len(keys) == len(set(keys)), "one state per record and day"
    lists = [(root / "reference" / d.isoformat() / "units.jsonl.gz").read_bytes() for d in cfg().days()]
    assert len(set(lists)) == 1, "reference lists are delivered whole, every day"


def test_break_manifest(tmp_path):
    root = tmp_path / "x"
    generate(root, cfg(end=START, dossiers_per_day=5, documents_per_day=5, systems=("onestop",)))
    folder = root / "onestop" / START.isoformat()
    before = json.loads((folder / "_manifest.json").read_text())
    break_manifest(root, "onestop", START, "count")
    after = json.loads((folder / "_manifest.json").read_text())["files"]
    assert [after[f]["lines"] - before["files"][f]["lines"] for f in sorted(after)] == [1, 0, 0, 0]  # +feedback, ratings
    break_manifest(root, "onestop", START.isoformat(), "checksum")
    after2 = json.loads((folder / "_manifest.json").read_text())["files"]
    name = sorted(after2)[0]
    assert re.fullmatch(r"[0-9a-f]{64}", after2[name]["sha256"]) and after2[name]["sha256"] != after[name]["sha256"]
    break_manifest(root, "onestop", START, "missing")
    assert not (folder / "_manifest.json").exists() and (folder / "dossiers.jsonl.gz").exists()
    with pytest.raises(FileNotFoundError):
        break_manifest(root, "onestop", START, "missing")
    with pytest.raises(ValueError):
        SimulatorConfig(start=END, end=START)
    with pytest.raises(ValueError, match="calendar"):
        SimulatorConfig(start=dt.date(2021, 12, 30), end=dt.date(2022, 1, 5))


# -- reference lists --------------------------------------------------------------------------------
def test_units_and_procedures(clean):
    root, _ = clean
    unit_list = records(root, "reference", "units")[END]
    by_id = {u["UnitId"]: u for u in unit_list}
    levels = Counter(u["Level"] for u in unit_list)
    assert levels["TINH"] == 1 and levels["SO"] >= 3 and levels["HUYEN"] >= 2
    assert all(re.fullmatch(r"000\.\d\d\.\d\d\.H99", uid) for uid in by_id)
    assert all(re.search(r"[^\x00-\x7f]", u["Name"]) for u in unit_list)
    province = by_id["000.00.00.H99"]
    assert province["Level"] == "TINH" and province["ParentId"] == "" and province["ValidTo"] == ""
    for u in unit_list:
        assert parse_ts(u["ValidFrom"]) and (u["ValidTo"] == "" or parse_ts(u["ValidTo"]))
        if u["Level"] in ("SO", "HUYEN"):
            assert u["ParentId"] == province["UnitId"]
        if u["Level"] == "SO":
            assert u["ValidTo"] == "" and u["SuccessorId"] == ""
        if u["Level"] == "HUYEN" or (u["Level"] == "XA" and u["ValidFrom"] < "20250701"):
            assert (u["ValidFrom"], u["ValidTo"][:8]) == ("20200101000000", "20250630")
            assert by_id[u["SuccessorId"]]["ValidFrom"] == "20250701000000"
    old_communes = [u for u in unit_list if u["Level"] == "XA" and u["ValidTo"]]
    per_district = Counter(u["ParentId"] for u in old_communes)
    assert all(by_id[d]["Level"] == "HUYEN" for d in per_district) and min(per_district.values()) >= 5
    new_communes = [u for u in unit_list if u["Level"] == "XA" and u["ValidFrom"] == "20250701000000"]
    assert 0 < len(new_communes) < len(old_communes)
    merged_from = Counter(u["SuccessorId"] for u in old_communes)
    assert set(merged_from) == {u["UnitId"] for u in new_communes}
    assert set(merged_from.values()) <= {2, 3}

    procs = records(root, "reference", "procedures")[END]
    assert len(procs) >= 30 and len({p["MaLinhVuc"] for p in procs}) >= 6
    assert len({p["MaTTHC"] for p in procs}) == len(procs)
    assert all(re.fullmatch(r"[12]\.\d{6}", p["MaTTHC"]) for p in procs)
    assert Counter(p["DonViTinh"] for p in procs).keys() == {"NGAY_LAM_VIEC", "NGAY", "GIO"}
    assert {p["MucDoDVC"] for p in procs} == {"TOAN_TRINH", "MOT_PHAN", ""}
    assert {p["CapThucHien"] for p in procs} == {"TINH", "HUYEN", "XA"}


# -- dossiers ---------------------------------------------------------------------------------------
def _timestamps(r: dict) -> list[str]:
    """The record's past timestamps (due dates lie ahead)."""
    out = [r[f] for f in ("NgayNopHoSo", "NgayTiepNhan", "NgayKetThucXuLy", "NgayTra", "NgayTuChoi")]
    for s in r["DanhSachHoSoBoSung"]:
        out += [s["NgayYeuCauBoSung"], s["NgayTiepNhanBoSung"]]
    out += [s["NgayXinLoi"] for s in r["DanhSachXinLoi"]]
    return [t for t in out if t]


def test_every_status_and_channel_occurs(dossiers):
    seen = [r for recs in dossiers.values() for r in recs]
    assert {r["TrangThaiHoSo"] for r in seen} == STATUSES
    assert {r["KenhThucHien"] for r in seen} == {"1", "2", "3", None}
    assert {r["LoaiDoiTuong"] for r in seen} >= {"1", "2"}


def test_dossier_fields_are_consistent(dossiers):
    handler: dict[str, str] = {}
    wrong_due = wrong_due_dates(cfg())  # the due dates recorded wrong on purpose (the due-date audit's)
    for recs in dossiers.values():
        for r in recs:
            status, unit = r["TrangThaiHoSo"], r["DonViXuLy"]
            assert re.fullmatch(re.escape(r["DonViTiepNhan"]) + r"-\d{6}-\d{4}", r["MaHoSo"])
            assert dt.datetime.strptime(r["MaHoSo"][-11:-5], "%y%m%d").date() >= START
            assert handler.setdefault(r["MaHoSo"], unit) == unit, "DonViXuLy never changes"
            assert r["NgayNopHoSo"] >= START.strftime("%Y%m%d")
            stamps = _timestamps(r)
            assert all(parse_ts(t) for t in stamps) and max(stamps) <= r["NgayCapNhat"]
            chain = [r[f] for f in ("NgayNopHoSo", "NgayTiepNhan", "NgayKetThucXuLy", "NgayTra") if r[f]]
            assert chain == sorted(chain), r["MaHoSo"]
            assert bool(r["NgayTiepNhan"]) == (status not in ("1", "3"))
            assert bool(r["NgayTuChoi"]) == (status == "3")
            assert bool(r["NgayKetThucXuLy"]) == (status in ("7", "8", "9", "10"))
            assert bool(r["NgayTra"]) == (status == "10")
            if status == "1":
                assert r["KenhThucHien"] == "2"
            if status == "5":
                assert r["DanhSachHoSoBoSung"][-1]["NgayTiepNhanBoSung"] == ""
            proc, u = PROCS[r["MaTTHC"]], UNITS[unit]
            assert u.level == {"TINH": "SO"}.get(proc.level, proc.level)
            assert (r["TenTTHC"], r["MaLinhVuc"]) == (proc.name, proc.field)
            if r["NgayTiepNhan"]:
                received = parse_ts(r["NgayTiepNhan"])
                assert u.valid_on(received.date()) and proc.valid_on(received.date())
                done = [s for s in r["DanhSachHoSoBoSung"] if s["NgayTiepNhanBoSung"]]
                if done:
                    assert r["NgayHenTra"] == done[-1]["NgayHenTraMoi"]
                    assert r["DanhSachHoSoBoSung"][0]["NgayHenTraTruoc"] != done[-1]["NgayHenTraMoi"]
                else:
                    expected = due_time(proc.limit, proc.limit_unit, received, r["KenhThucHien"] in ("1", None), 15)
                    assert parse_ts(r["NgayHenTra"]) == shift_working_days(expected, wrong_due.get(r["MaHoSo"], 0))
            if r["LoaiDoiTuong"] == "1":
                assert re.fullmatch(r"\d{12}", r["SoGiayToChuHoSo"])
            assert re.fullmatch(r"09\d{8}", r["SoDienThoai"])
            assert r["HoSoCoThanhPhanSoHoa"] == ("1" if any(t["DuocSoHoa"] == "1" for t in r["TaiLieuNop"]) else "0")


def test_after_15h_in_person_counts_from_next_working_day():
    received = dt.datetime(2025, 6, 20, 15, 30)  # a Friday
    assert due_time(3, "NGAY_LAM_VIEC", received, True, 15) == dt.datetime(2025, 6, 26, 17, 0)
    assert due_time(3, "NGAY_LAM_VIEC", received, False, 15) == dt.datetime(2025, 6, 25, 17, 0)
    # office hours 07:30-11:30, 13:30-17:00: 2.5 h + 3.5 h on Friday, 2 h on Monday
    assert due_time(8, "GIO", dt.datetime(2025, 6, 20, 9, 0), True, 15) == dt.datetime(2025, 6, 23, 9, 30)
    assert due_time(10, "NGAY", dt.datetime(2025, 6, 20, 9, 0), True, 15) == dt.datetime(2025, 6, 30, 17, 0)
    assert due_time(2, "NGAY_LAM_VIEC", dt.datetime(2025, 4, 29, 9, 0), True, 15) == dt.datetime(2025, 5, 6, 17, 0)


def test_lifecycles_cover_outcomes_and_open_dossiers(latest, clean):
    finished = [r for r in latest.values() if r["TrangThaiHoSo"] in ("9", "10")]
    late = [r for r in finished if r["NgayKetThucXuLy"] > r["NgayHenTra"]]
    early = [r for r in finished if r["NgayKetThucXuLy"][:8] < r["NgayHenTra"][:8]]
    on_time = [r for r in finished if r not in late and r not in early]
    assert late and early and on_time
    apologised = [r for r in late if r["DanhSachXinLoi"]]
    assert len(apologised) >= len(late) / 2
    end = END.strftime("%Y%m%d") + "235959"
    still_open = [r for r in latest.values() if r["TrangThaiHoSo"] in ("2", "4", "5", "6")]
    assert any(r["NgayHenTra"] < end for r in still_open) and any(r["NgayHenTra"] >= end for r in still_open)
    assert any(len(r["DanhSachHoSoBoSung"]) == 2 for r in latest.values())
    assert any(r["DanhSachGiayToKetQua"] for r in finished)
    assert {r["DuocThanhToanTrucTuyen"] for r in latest.values()} == {"0", "1", "2"}
    created = clean[1]["created"]["dossiers"]
    working = [n for d, n in created.items() if is_working_day(dt.date.fromisoformat(d))]
    other = [n for d, n in created.items() if not is_working_day(dt.date.fromisoformat(d))]
    assert min(working) > 5 * max(other)


def test_steps_follow_the_dossiers(clean, dossiers):
    steps = [s for recs in records(clean[0], "onestop", "steps").values() for s in recs]
    by_dossier = defaultdict(list)
    for s in steps:
        assert s["NgayCapNhat"] == s["ThoiDiemXuLy"]
        assert s["NgayBatDau"] <= s["ThoiDiemXuLy"] and s["NgayBatDau"] <= s["NgayKetThucTheoQuyDinh"]
        assert s["NguoiXuLy"] and s["ChucDanh"] and s["PhongBanXuLy"] and s["NoiDungXuLy"]
        by_dossier[s["MaHoSo"]].append(s)
    for items in by_dossier.values():
        items.sort(key=lambda s: s["BuocXuLy"])
        assert [s["BuocXuLy"] for s in items] == list(range(1, len(items) + 1))
        assert [s["ThoiDiemXuLy"] for s in items] == sorted(s["ThoiDiemXuLy"] for s in items)
    for recs in dossiers.values():
        for r in recs:
            if r["TrangThaiHoSo"] == "1":
                continue  # no official has touched it yet
            done = [s for s in by_dossier[r["MaHoSo"]] if s["ThoiDiemXuLy"] <= r["NgayCapNhat"]]
            assert done[-1]["TrangThai"] == r["TrangThaiHoSo"], r["MaHoSo"]


# -- documents --------------------------------------------------------------------------------------
def test_documents(documents, clean):
    root, _ = clean
    latest = {}
    for day in sorted(documents):
        for r in documents[day]:
            latest[r["DocumentId"]] = r
    docs = list(latest.values())
    out = [d for d in docs if d["Direction"] == "OUT"]
    incoming = [d for d in docs if d["Direction"] == "IN"]
    assert {d["Channel"] for d in docs} == {"VXP", "LGSP", "EMAIL", "PAPER", "INTERNAL"}
    for unit in units():
        if sum(unit.valid_on(d) for d in cfg().days()) >= 5:
            assert any(d["OrganId"] == unit.unit_id for d in out), unit.unit_id
            assert any(d["OrganId"] == unit.unit_id for d in incoming), unit.unit_id
    for d in out:
        assert d["FromOrganId"] == d["OrganId"] and d["Recipients"]
        assert d["CodeNotation"].endswith(UNITS[d["OrganId"]].abbrev) or d["CodeNotation"].startswith(
            UNITS[d["OrganId"]].abbrev)
        assert d["RegisteredAt"] <= d["DispatchedAt"] or not d["DispatchedAt"]
        kinds = [s["Kind"] for s in d["Signatures"]]
        if d["Channel"] == "PAPER":
            assert kinds == [] and d["IsElectronic"] is False
        else:
            assert kinds in (["SIGNER"], ["SIGNER", "ORGANIZATION"])
            assert d["Signatures"][0]["SignedAt"] <= d["RegisteredAt"]
            if len(kinds) == 2:
                assert d["RegisteredAt"] <= d["Signatures"][1]["SignedAt"] <= (d["DispatchedAt"] or "9")
    paper = [d for d in out if d["Channel"] == "PAPER" and not d["IsSecret"]]
    assert any(d["SignerIsLeader"] for d in paper)
    assert Counter(d["OrganId"] for d in paper).most_common(1)[0][1] >= len(paper) / 4
    assert any(len(d["Signatures"]) == 1 for d in out)
    assert any(not s["Valid"] for d in out for s in d["Signatures"])
    assert {d["SignerCompetence"] for d in out} == {"", "TM.", "KT.", "TL.", "TUQ."}
    acknowledged = [d for d in incoming if d["AcknowledgedAt"] and d["Statuses"]]
    same_day = [d for d in acknowledged if d["AcknowledgedAt"][:8] == d["Statuses"][0]["Timestamp"][:8]]
    assert len(acknowledged) / 2 < len(same_day) < len(acknowledged)
    assert any(d["HandlingDoneAt"] for d in incoming) and any(d["HandlingDueDate"] and not d["HandlingDoneAt"]
                                                             for d in incoming)
    codes = {s["StatusCode"] for d in docs for s in d["Statuses"]}
    assert {"01", "03", "04", "05", "06"} <= codes <= {"01", "02", "03", "04", "05", "06", "13"}

    numbers = defaultdict(Counter)
    for d in out:
        numbers[(d["OrganId"], int(d["RegisteredAt"][:4]))][int(d["CodeNumber"])] += 1
    found = []
    for (organ, year), used in numbers.items():
        found += [(organ, year, n, "gap") for n in range(1, max(used) + 1) if n not in used]
        found += [(organ, year, n, "duplicate") for n, k in used.items() if k > 1]
    truth = json.loads((root / "_simulator" / "numbering_anomalies.json").read_text())
    assert sorted(found) == sorted((a["OrganId"], a["year"], int(a["CodeNumber"]), a["kind"]) for a in truth)
    assert {a["kind"] for a in truth} == {"gap", "duplicate"}


# -- bad records ------------------------------------------------------------------------------------
CODES = {"TrangThaiHoSo": STATUSES, "TrangThai": STATUSES, "KenhThucHien": {"1", "2", "3", None},
         "LoaiDoiTuong": {"1", "2", "3", "4"}, "Direction": {"OUT", "IN"},
         "Channel": {"VXP", "LGSP", "EMAIL", "PAPER", "INTERNAL"}}
KEY = {"dossiers": "MaHoSo", "steps": "MaHoSo", "documents": "DocumentId"}
TIMESTAMPS = ("NgayNopHoSo", "NgayTiepNhan", "NgayHenTra", "NgayKetThucXuLy", "NgayTra", "NgayTuChoi", "ThoiDiemXuLy",
              "NgayBatDau", "NgayKetThucTheoQuyDinh", "PromulgationDate", "RegisteredAt", "DispatchedAt",
              "AcknowledgedAt", "HandlingDueDate", "HandlingDoneAt")


def _is_kind(kind: str, feed: str, line: bytes, earlier: set[bytes]) -> bool:
    if kind == "bad_encoding":
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            return True
        return False
    text = line.decode("utf-8")
    if kind == "truncated":
        try:
            json.loads(text)
        except ValueError:
            return True
        return False
    r = json.loads(text)
    if kind == "duplicate":
        return line in earlier
    if kind == "missing_key":
        return not r.get(KEY[feed])
    if kind == "unknown_code":
        return any(f in r and r[f] not in allowed for f, allowed in CODES.items())
    if kind == "bad_timestamp":
        return any(r.get(f) and not parse_ts(r[f]) for f in TIMESTAMPS)
    if feed == "dossiers":
        return r["NgayKetThucXuLy"] < r["NgayTiepNhan"]
    if feed == "steps":
        return r["NgayBatDau"] > r["ThoiDiemXuLy"]
    return r["Direction"] == "OUT" and r["DispatchedAt"] < r["RegisteredAt"]


def test_bad_lines_are_recorded_and_leave_valid_records_alone(bad, tmp_path):
    root, summary = bad
    injected = json.loads((root / "_simulator" / "injected.json").read_text())
    at = {(i["system"], i["feed"], i["day"], i["line_no"]): i for i in injected}
    assert len(at) == len(injected)
    clean_root = tmp_path / "clean"
    generate(clean_root, SimulatorConfig(**{**summary["config"], "bad_rate": 0.0}))
    for system, feeds in SNAPSHOT_FEEDS.items():
        for feed in feeds:
            kinds, bad_lines, total = Counter(), 0, 0
            for folder in sorted((root / system).iterdir()):
                lines = read_lines(folder / f"{feed}.jsonl.gz")
                valid, earlier = [], set()
                for no, line in enumerate(lines, start=1):
                    item = at.get((system, feed, folder.name, no))
                    if item is None:
                        record = json.loads(line)
                        assert record.get(KEY[feed]) and record["NgayCapNhat"][:8] == folder.name.replace("-", "")
                        valid.append(line)
                    else:
                        assert _is_kind(item["kind"], feed, line, earlier), item
                        kinds[item["kind"]] += 1
                        bad_lines += 1
                    earlier.add(line)
                total += len(lines)
                assert valid == read_lines(clean_root / system / folder.name / f"{feed}.jsonl.gz")
                entry = summary["files"][f"{system}/{feed}"][folder.name]
                assert (entry["valid"], entry["lines"]) == (len(valid), len(lines))
            assert 0.035 < bad_lines / total < 0.065, (feed, bad_lines, total)
            assert set(kinds) == set(KINDS), (feed, kinds)
            assert max(kinds.values()) <= 2 * min(kinds.values()) + 2
