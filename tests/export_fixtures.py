"""Hand-made export days for the extract and land tests.

``write_export_day`` writes ``{root}/{system}/{YYYY-MM-DD}/{feed}.jsonl.gz`` and ``_manifest.json``
from lists of lines (dicts are JSON-encoded, str is UTF-8 encoded, bytes are written as they are).
The record builders return valid records of each feed; override any field with keyword arguments.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

UNITS = ("000.00.01.H26", "000.00.02.H26", "000.01.30.H26")
PROCEDURES = ("1.004227", "1.001612", "2.000889")
PERSON = {
    "ChuHoSo": "Nguyễn Thị Minh Khai",
    "SoGiayToChuHoSo": "001190012345",
    "SoDienThoai": "0912 345 678",
    "Email": "Minh.Khai@Example.vn",
}


def line_bytes(line: Any) -> bytes:
    if isinstance(line, bytes):
        return line
    if isinstance(line, str):
        return line.encode("utf-8")
    return json.dumps(line, ensure_ascii=False).encode("utf-8")


def gz(lines: Iterable[Any]) -> bytes:
    data = b"".join(line_bytes(x) + b"\n" for x in lines)
    return gzip.compress(data, mtime=0)


def write_export_day(root: Path, system: str, day: dt.date | str, files: dict[str, list[Any]], *,
                     manifest: bool = True, manifest_override: dict[str, dict] | None = None,
                     generated_at: str | None = None) -> Path:
    """Write one day folder; ``manifest_override`` replaces entries ({"dossiers.jsonl.gz": {...}});
    ``generated_at`` (ISO 8601 with offset) goes into the manifest when given (older exporters
    write none)."""
    day = day if isinstance(day, str) else day.isoformat()
    folder = Path(root) / system / day
    folder.mkdir(parents=True, exist_ok=True)
    entries = {}
    for feed, lines in files.items():
        data = gz(lines)
        name = feed if feed.endswith(".jsonl.gz") else f"{feed}.jsonl.gz"
        (folder / name).write_bytes(data)
        entries[name] = {"lines": len(lines), "sha256": hashlib.sha256(data).hexdigest()}
    entries.update(manifest_override or {})
    if manifest:
        body: dict[str, Any] = {"files": entries}
        if generated_at is not None:
            body["generated_at"] = generated_at
        (folder / "_manifest.json").write_text(json.dumps(body, indent=1))
    return folder


def ts(day: dt.date, hh: int = 9, mm: int = 0, ss: int = 0) -> str:
    return f"{day:%Y%m%d}{hh:02d}{mm:02d}{ss:02d}"


def unit(unit_id: str, **kw) -> dict:
    return {"UnitId": unit_id, "Name": f"Đơn vị {unit_id}", "Level": "SO", "ParentId": "",
            "ValidFrom": "20200101000000", "ValidTo": "", "SuccessorId": "", **kw}


def procedure(code: str, **kw) -> dict:
    return {"MaTTHC": code, "TenTTHC": f"Thủ tục {code}", "MaLinhVuc": "LV01", "TenLinhVuc": "Đất đai",
            "CapThucHien": "TINH", "ThoiHanGiaiQuyet": 10, "DonViTinh": "NGAY_LAM_VIEC",
            "MucDoDVC": "TOAN_TRINH", "CoPhiLePhi": True, "TraKetQuaGiay": False, "DoiTuongCongDan": True,
            "ValidFrom": "20200101000000", "ValidTo": "", **kw}


def dossier(code: str, day: dt.date, **kw) -> dict:
    return {
        "MaHoSo": code, "MaTTHC": PROCEDURES[0], "TenTTHC": "Thủ tục", "MaLinhVuc": "LV01",
        "TenLinhVuc": "Đất đai", "DonViTiepNhan": UNITS[0], "DonViXuLy": UNITS[1], "KenhThucHien": "2",
        "LoaiDoiTuong": "1", **PERSON, "TrichYeuHoSo": "Cấp giấy chứng nhận",
        "NgayNopHoSo": ts(day, 8), "NgayTiepNhan": ts(day, 9), "NgayHenTra": ts(day + dt.timedelta(days=14), 17),
        "NgayKetThucXuLy": "", "NgayTra": "", "NgayTuChoi": "", "TrangThaiHoSo": "2", "HinhThucTra": "1",
        "DuocThanhToanTrucTuyen": "0", "HoSoCoThanhPhanSoHoa": "1", "TaiKhoanDuocXacThucVoiVNeID": "0",
        "DanhSachLePhi": [], "TaiLieuNop": [], "DanhSachHoSoBoSung": [], "DanhSachXinLoi": [],
        "DanhSachGiayToKetQua": [], "NgayCapNhat": ts(day, 10), **kw,
    }


def step(code: str, n: int, day: dt.date, **kw) -> dict:
    return {"MaHoSo": code, "BuocXuLy": n, "PhongBanXuLy": "Một cửa", "NguoiXuLy": "Cán bộ A",
            "ChucDanh": "Chuyên viên", "TrangThai": "2", "ThoiDiemXuLy": ts(day, 9),
            "NgayBatDau": ts(day, 9), "NgayKetThucTheoQuyDinh": ts(day, 17), "NoiDungXuLy": "Tiếp nhận",
            "NgayCapNhat": ts(day, 9, 30), **kw}


def document(doc_id: str, day: dt.date, **kw) -> dict:
    return {"DocumentId": doc_id, "Direction": "OUT", "OrganId": UNITS[0], "FromOrganId": UNITS[0],
            "CodeNumber": "12", "CodeNotation": "QĐ-UBND", "DocumentType": "QĐ", "Subject": "Quyết định",
            "PromulgationDate": ts(day, 8), "IsElectronic": True, "IsSecret": False, "Channel": "VXP",
            "SignerFullName": "Trần Văn B", "SignerPosition": "Chủ tịch", "SignerCompetence": "",
            "SignerIsLeader": True,
            "Signatures": [{"Kind": "SIGNER", "SignedAt": ts(day, 8, 30), "CertSerial": "ab", "Valid": True}],
            "RegisteredAt": ts(day, 9), "DispatchedAt": ts(day, 10), "AcknowledgedAt": "",
            "HandlingDueDate": "", "HandlingDoneAt": "", "Recipients": [{"OrganId": UNITS[2]}],
            "Statuses": [{"StatusCode": "01", "Timestamp": ts(day, 10)}], "NgayCapNhat": ts(day, 11), **kw}


def feedback(key: str, day: dt.date, **kw) -> dict:
    """A valid feedback record (feed onestop/feedback), received and answered on ``day``."""
    return {"MaPAKN": key, "Kenh": "1022", "MaHoSo": "", "DonViXuLy": UNITS[1], "PhanLoai": "TTHC",
            "NgayTiepNhan": ts(day, 8), "HanXuLy": ts(day + dt.timedelta(days=14), 17), "NgayXuLy": ts(day, 10),
            "KetQua": "HAI_LONG", "NgayCapNhat": ts(day, 11), **kw}


def rating(code: str, day: dt.date, **kw) -> dict:
    """A valid satisfaction vote (feed onestop/ratings) on dossier ``code``, cast on ``day``."""
    return {"MaHoSo": code, "MucDo": "1", "NgayDanhGia": ts(day, 14), "NgayCapNhat": ts(day, 14), **kw}


def target(unit_id: str, level: str, year: int, indicator: str, value, **kw) -> dict:
    """A targets row (reference list targets); ``unit_id`` "" = every unit of the level."""
    return {"UnitId": unit_id, "Level": level, "Year": year, "IndicatorCode": indicator, "TargetValue": value,
            "NgayCapNhat": "20250101000000", **kw}


def write_reference_day(root: Path, day: dt.date, units=UNITS, procedures=PROCEDURES, **kw) -> Path:
    return write_export_day(root, "reference", day, {"units": [unit(u) for u in units],
                                                      "procedures": [procedure(p) for p in procedures]}, **kw)


def write_good_day(root: Path, day: dt.date, n: int = 5) -> dict[str, list[dict]]:
    """A complete, valid day for every system; returns the records written per feed."""
    write_reference_day(root, day)
    dossiers = [dossier(f"{UNITS[0]}-{day:%y%m%d}-{i:04d}", day, ChuHoSo=f"Lê Văn Người {i}",
                        SoGiayToChuHoSo=f"0011900{i:05d}") for i in range(n)]
    steps = [step(d["MaHoSo"], 1, day) for d in dossiers]
    documents = [document(f"DOC-{day:%Y%m%d}-{i}", day) for i in range(n)]
    write_export_day(root, "onestop", day, {"dossiers": dossiers, "steps": steps})
    write_export_day(root, "edoc", day, {"documents": documents})
    return {"dossiers": dossiers, "steps": steps, "documents": documents}


# -- a tiny API server over an export folder ---------------------------------------------------

class ExportApi:
    """Serves ``{root}`` through the API contract (for tests that cannot use the simulator).

    For feed F and window [updated_from, updated_to] it serves the JSON objects of the export file of
    the window's day (lines that do not parse are left out), ``limit`` at a time with an offset
    cursor. ``faults`` is a list of (status, headers) answered, in order, before real answers;
    ``requests`` records every (path, query) served.
    """

    SYSTEMS = {"dossiers": "onestop", "steps": "onestop", "documents": "edoc",
               "units": "reference", "procedures": "reference",
               "feedback": "onestop", "ratings": "onestop", "targets": "reference"}
    #: feeds added to the contract later: a day folder without their file answers 404 (a server that
    #: does not carry them), as the simulator's server does
    ADDED_LATER = ("feedback", "ratings", "targets")

    def __init__(self, root: Path, token: str = "secret", faults: list[tuple[int, dict]] | None = None):
        self.root = Path(root)
        self.token = token
        self.faults = list(faults or [])
        self.requests: list[tuple[str, dict]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                api.handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def shutdown(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shutdown()

    def _send(self, h, status: int, body: Any, headers: dict | None = None) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    def handle(self, h) -> None:
        parts = urlsplit(h.path)
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        self.requests.append((parts.path, query))
        if self.faults:
            status, headers = self.faults.pop(0)
            return self._send(h, status, {"error": f"injected {status}"}, headers)
        if h.headers.get("Authorization") != f"Bearer {self.token}":
            return self._send(h, 401, {"error": "bad token"})
        feed = parts.path.rsplit("/", 1)[-1]
        if not parts.path.startswith("/api/v1/") or feed not in self.SYSTEMS:
            return self._send(h, 404, {"error": f"no feed {feed}"})
        try:
            start = query["updated_from"]
            day = dt.date(int(start[:4]), int(start[4:6]), int(start[6:8]))
            offset, limit = int(query.get("cursor") or 0), int(query.get("limit") or 100)
        except (KeyError, ValueError):
            return self._send(h, 400, {"error": "bad parameters"})
        items = []
        path = self.root / self.SYSTEMS[feed] / day.isoformat() / f"{feed}.jsonl.gz"
        if feed in self.ADDED_LATER and not path.exists():
            return self._send(h, 404, {"error": f"feed {feed} not delivered for {day}"})
        if path.exists():
            for raw in gzip.decompress(path.read_bytes()).splitlines():
                try:
                    items.append(json.loads(raw))
                except ValueError:
                    continue
        page = items[offset:offset + limit]
        nxt = str(offset + limit) if offset + limit < len(items) else None
        return self._send(h, 200, {"items": page, "next_cursor": nxt})
