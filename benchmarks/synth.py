"""History synthesised in bulk inside the warehouse, and a night's export folder from the same world.

The bench needs millions of dossiers of history without landing millions of lines. It builds a
*world* in the bench database — ``bench.dossiers`` (one row per dossier: where, what, when received,
when finished) and ``bench.documents`` — with ``generate_series``, then:

* :func:`synthesise_history` writes every version of every record dated on or before the last
  history day straight into the pipeline's own raw tables (``raw.onestop__dossiers``,
  ``raw.onestop__steps``, ``raw.edoc__documents``, reference lists), one ``raw.load_batches`` row
  per feed per day with disposition ``in_force`` and gate verdict ``passed`` (as if landed and gated
  on earlier nights; personal values already pseudonyms), payloads built with ``jsonb_build_object``
  in the shapes of the simulator's records (cchc_demo.simulator.dossiers / documents). From there the
  ledger (refresh_state) and dbt read them like any landed batch;
* :func:`write_night` adds the night's new dossiers to the world and writes that day's export
  folder (``{root}/{system}/{day}/{feed}.jsonl.gz`` + manifests, clear personal values, reference
  lists) for the real pipeline to extract, land, gate, build and publish: the night's changes are
  the dossiers received that day and those received earlier that finish that day.

A dossier's life: received (status 2, due date ``ThoiHanGiaiQuyet`` working days later, roughly)
with step 1; finished 1–14 days later (status 10, step 2), on time or late; one in 33 stays open.
Weekends see 1/20 of a working day's receptions; holidays are not modelled.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
from pathlib import Path

import psycopg

from cchc.raw import ensure_raw_schema
from cchc.raw.schema import FEEDS, ensure_all_partitions
from cchc_demo.simulator.export import default_generated_at
from cchc_demo.simulator.province import department_for, procedure_records, procedures, unit_records, units

#: documents per dossier received (the issue's 365-day demo: 19k documents for 51k dossiers)
DOCUMENTS_PER_DOSSIER = 0.37
TS = "YYYYMMDDHH24MISS"


def _pairs(day: dt.date) -> list[tuple]:
    """(unit_id, MaTTHC, TenTTHC, MaLinhVuc, TenLinhVuc, working days, weight): every procedure at
    every valid unit of its level (province-level procedures at their field's department)."""
    valid = [u for u in units() if u.valid_on(day)]
    by_level: dict[str, list] = {}
    for u in valid:
        by_level.setdefault(u.level, []).append(u)
    fields = {r["MaLinhVuc"]: r["TenLinhVuc"] for r in procedure_records()}
    out = []
    for p in procedures():
        if p.limit_unit != "NGAY_LAM_VIEC" or (p.valid_to and p.valid_to <= day):
            continue
        if p.level == "TINH":
            dept = department_for(p.field)
            where = [dept] if dept.valid_on(day) else []
        else:
            where = by_level.get(p.level, [])
        for u in where:
            out.append((u.unit_id, p.code, p.name, p.field, fields[p.field], max(1, int(p.limit)), int(p.weight)))
    return out


WORLD_DDL = """
drop schema if exists bench cascade;
create schema bench;
create table bench.pairs (pair_no int primary key, unit_id text, ma_tthc text, ten_tthc text,
                          ma_linh_vuc text, ten_linh_vuc text, days int);
create table bench.organs (organ_no int primary key, unit_id text);
create table bench.dossiers (
    dossier_code text primary key, day date not null, j int not null, h bigint not null,
    pair_no int not null, channel text not null, received_at timestamp not null, due_at timestamp not null,
    finish_day date, finished_at timestamp, step_count int not null
);
create table bench.documents (
    document_id text primary key, day date not null, k int not null, h bigint not null,
    organ_id text not null, direction text not null, registered_at timestamp not null,
    code_number int not null  -- consecutive per (organ, direction, year), as the registers number them
);
"""


def _h(*exprs: str) -> str:
    """A cheap deterministic hash of integer expressions (non-negative bigint)."""
    e = " + ".join(f"({x})::bigint * {m}" for x, m in zip(exprs, (2654435761, 40503, 69069), strict=False))
    return f"(abs(({e}) % 1000003))"


def dossiers_insert(day_from: str, day_to: str, per_day: str) -> str:
    """INSERT of the dossiers received from day_from to day_to (SQL expressions), ``per_day`` on a
    working day (an expression of ``d``)."""
    return f"""
    insert into bench.dossiers
    select code, d, j, h, pair_no, channel, received_at, due_at,
           case when h % 33 = 0 then null else finish_day end,
           case when h % 33 = 0 then null else finish_day + make_interval(secs => 28800 + (h * 7) % 25200) end,
           case when h % 33 = 0 then 1 else 2 end
    from (
        select d, j, h, pair_no, channel, received_at,
               x.unit_id || '-' || to_char(d, 'YYMMDD') || '-' || lpad(j::text, 5, '0') as code,
               d + make_interval(days => ceil(days * 7.0 / 5)::int) + time '17:00'
                 + case extract(isodow from d + ceil(days * 7.0 / 5)::int)
                       when 6 then interval '2 days' when 7 then interval '1 day' else interval '0' end as due_at,
               (d + (1 + h % 14)::int)
                 + case extract(isodow from d + (1 + h % 14)::int) when 6 then 2 when 7 then 1 else 0 end as finish_day
        from (
            select d::date as d, j, {_h("j", "d::date - date '2000-01-01'")} as h
            from generate_series({day_from}::date, {day_to}::date, interval '1 day') d
            cross join lateral generate_series(1, case when extract(isodow from d) >= 6
                                                       then greatest(1, ({per_day}) / 20) else ({per_day}) end) j
        ) base
        cross join lateral (
            select (base.h % (select count(*) from bench.pairs))::int as pair_no,
                   case when base.h % 3 = 0 then '1' else '2' end as channel,
                   base.d + make_interval(secs => 27000 + (base.h * 13) % 27000) as received_at
        ) y
        join bench.pairs x using (pair_no)
    ) z
    """


def documents_insert(day_from: str, day_to: str, per_day: str) -> str:
    return f"""
    insert into bench.documents
    with numbered as (  -- the last number given so far per (organ, direction, year)
        select organ_id, direction, date_trunc('year', day) as year, max(code_number) as last_number
        from bench.documents group by 1, 2, 3
    )
    select document_id, d, k, h, n.organ_id, n.direction, registered_at,
           coalesce(numbered.last_number, 0)
           + row_number() over (partition by n.organ_id, n.direction, date_trunc('year', d) order by d, k)
    from (
        select o.unit_id || case when h % 2 = 0 then '-DI-' else '-DEN-' end || to_char(d, 'YYMMDD') || '-'
                   || lpad(k::text, 5, '0') as document_id,
               d, k, h, o.unit_id as organ_id, case when h % 2 = 0 then 'OUT' else 'IN' end as direction,
               d + make_interval(secs => 27000 + (h * 11) % 25000) as registered_at
        from (
            select d::date as d, k, {_h("k", "d::date - date '2000-01-01'", "7")} as h
            from generate_series({day_from}::date, {day_to}::date, interval '1 day') d
            cross join lateral generate_series(1, case when extract(isodow from d) >= 6
                                                       then greatest(1, ({per_day}) / 20) else ({per_day}) end) k
        ) base
        join bench.organs o on o.organ_no = base.h % (select count(*) from bench.organs)
    ) n
    left join numbered on numbered.organ_id = n.organ_id and numbered.direction = n.direction
                      and numbered.year = date_trunc('year', n.d)
    """


def _personal(clear: bool, kind: str, expr: str) -> str:
    if clear:
        return {"name": f"'Nguyễn Văn ' || {expr}", "id": f"lpad(({expr})::text, 12, '0')",
                "phone": f"'09' || lpad((({expr}) % 100000000)::text, 8, '0')",
                "email": f"'nguoi' || {expr} || '@example.vn'"}[kind]
    return f"'hmac256:' || md5('{kind}' || {expr}) || md5({expr} || '{kind}')"


def dossier_payload(version: int, clear: bool) -> str:
    """jsonb of a dossier at version 1 (accepted) or 2 (finished); columns of bench.dossiers + pairs."""
    ts = lambda e: f"to_char({e}, '{TS}')"  # noqa: E731
    finished = version == 2
    return f"""jsonb_build_object(
        'MaHoSo', x.dossier_code, 'MaTTHC', p.ma_tthc, 'TenTTHC', p.ten_tthc,
        'MaLinhVuc', p.ma_linh_vuc, 'TenLinhVuc', p.ten_linh_vuc,
        'DonViTiepNhan', p.unit_id, 'DonViXuLy', p.unit_id, 'KenhThucHien', x.channel,
        'LoaiDoiTuong', '1',
        'ChuHoSo', {_personal(clear, "name", "x.h")}, 'SoGiayToChuHoSo', {_personal(clear, "id", "x.h")},
        'SoDienThoai', {_personal(clear, "phone", "x.h")}, 'Email', {_personal(clear, "email", "x.h")},
        'TrichYeuHoSo', p.ten_tthc,
        'NgayNopHoSo', {ts("x.received_at - interval '1 minute'")}, 'NgayTiepNhan', {ts("x.received_at")},
        'NgayHenTra', {ts("x.due_at")},
        'NgayKetThucXuLy', {ts("x.finished_at") if finished else "''"},
        'NgayTra', {ts("x.finished_at + interval '1 hour'") if finished else "''"},
        'NgayTuChoi', '', 'TrangThaiHoSo', '{"10" if finished else "2"}', 'HinhThucTra', '1',
        'DuocThanhToanTrucTuyen', '0', 'HoSoCoThanhPhanSoHoa', '1', 'TaiKhoanDuocXacThucVoiVNeID', '1',
        'DanhSachLePhi', '[]'::jsonb,
        'TaiLieuNop', jsonb_build_array(jsonb_build_object('MaThanhPhanHoSo', p.ma_tthc || '.TP01',
                      'DuocSoHoa', '1', 'DuocTaiSuDung', '0', 'DuocLayTuKhoDMQG', '0')),
        'DanhSachHoSoBoSung', '[]'::jsonb, 'DanhSachXinLoi', '[]'::jsonb, 'DanhSachGiayToKetQua', '[]'::jsonb,
        'NgayCapNhat', {ts("x.finished_at + interval '1 hour'") if finished else ts("x.received_at")})"""


def step_payload(step: int) -> str:
    ts = lambda e: f"to_char({e}, '{TS}')"  # noqa: E731
    if step == 1:
        start, done, due, status = ("x.received_at - interval '1 minute'", "x.received_at",
                                    "x.day + time '17:00'", "2")
    else:
        start, done, due, status = "x.received_at", "x.finished_at", "x.due_at", "10"
    return f"""jsonb_build_object(
        'MaHoSo', x.dossier_code, 'BuocXuLy', {step}, 'PhongBanXuLy', 'Bộ phận Một cửa',
        'NguoiXuLy', 'Công chức ' || (x.h % 97), 'ChucDanh', 'Công chức tiếp nhận và trả kết quả',
        'TrangThai', '{status}', 'ThoiDiemXuLy', {ts(done)}, 'NgayBatDau', {ts(start)},
        'NgayKetThucTheoQuyDinh', {ts(due)}, 'NoiDungXuLy', 'Xử lý hồ sơ', 'NgayCapNhat', {ts(done)})"""


def document_payload() -> str:
    ts = lambda e: f"to_char({e}, '{TS}')"  # noqa: E731
    return f"""jsonb_build_object(
        'DocumentId', x.document_id, 'Direction', x.direction, 'OrganId', x.organ_id,
        'FromOrganId', x.organ_id, 'CodeNumber', x.code_number::text, 'CodeNotation', 'CV-UBND', 'DocumentType', 'CV',
        'Subject', 'V/v triển khai nhiệm vụ', 'PromulgationDate', {ts("x.day::timestamp")},
        'IsElectronic', x.h % 10 <> 0, 'IsSecret', false,
        'Channel', case when x.h % 10 = 0 then 'PAPER' else 'LGSP' end,
        'SignerFullName', 'Lãnh đạo ' || (x.h % 53), 'SignerPosition', 'Phó Chủ tịch',
        'SignerCompetence', 'KT.', 'SignerIsLeader', x.h % 4 = 0,
        'Signatures', case when x.h % 10 = 0 then '[]'::jsonb else jsonb_build_array(
            jsonb_build_object('Kind', 'SIGNER', 'SignedAt', {ts("x.registered_at - interval '20 minutes'")},
                               'CertSerial', upper(substr(md5(x.document_id), 1, 20)), 'Valid', true),
            jsonb_build_object('Kind', 'ORGANIZATION', 'SignedAt', {ts("x.registered_at + interval '2 minutes'")},
                               'CertSerial', upper(substr(md5(x.document_id || 'o'), 1, 20)), 'Valid', true)) end,
        'RegisteredAt', {ts("x.registered_at")},
        'DispatchedAt', case when x.direction = 'OUT' then {ts("x.registered_at + interval '5 minutes'")} else '' end,
        'AcknowledgedAt', case when x.direction = 'IN' then {ts("x.registered_at + interval '2 minutes'")} else '' end,
        'HandlingDueDate', '', 'HandlingDoneAt', '',
        'Recipients', '[]'::jsonb,
        'Statuses', jsonb_build_array(jsonb_build_object('StatusCode', '01', 'Timestamp', {ts("x.registered_at")})),
        'NgayCapNhat', {ts("x.registered_at + interval '5 minutes'")})"""


def feed_versions(feed: str, day_cond: str, clear: bool) -> str:
    """select (source_day, record_key, updated_at_src, payload) of every version of ``feed`` whose day
    satisfies ``day_cond`` (SQL over the alias ``v``'s column source_day)."""
    join = "from bench.dossiers x join bench.pairs p using (pair_no)"
    if feed == "dossiers":
        parts = [f"select x.day as source_day, x.dossier_code as record_key, {dossier_payload(1, clear)} as payload "
                 f"{join}",
                 f"select x.finish_day, x.dossier_code, {dossier_payload(2, clear)} {join} "
                 "where x.finish_day is not null"]
    elif feed == "steps":
        parts = [f"select x.day as source_day, x.dossier_code || '|1' as record_key, {step_payload(1)} as payload "
                 f"{join}",
                 f"select x.finish_day, x.dossier_code || '|2', {step_payload(2)} {join} "
                 "where x.finish_day is not null"]
    elif feed == "documents":
        parts = [f"select x.day as source_day, x.document_id as record_key, {document_payload()} as payload "
                 "from bench.documents x"]
    else:
        raise ValueError(feed)
    body = " union all ".join(parts)
    return (f"select v.source_day, v.record_key, v.payload ->> 'NgayCapNhat' as updated_at_src, v.payload "
            f"from ({body}) v where {day_cond}")


SYNTH_FEEDS = (("onestop", "dossiers"), ("onestop", "steps"), ("edoc", "documents"))


def create_world(conn: psycopg.Connection, first_day: dt.date) -> None:
    conn.execute(WORLD_DDL)
    with conn.cursor() as cur:
        with cur.copy("copy bench.pairs from stdin") as cp:
            for i, pair in enumerate(_pairs(first_day)):
                cp.write_row((i, *pair[:6]))
        organs = sorted({u.unit_id for u in units() if u.valid_on(first_day)})
        with cur.copy("copy bench.organs from stdin") as cp:
            for i, o in enumerate(organs):
                cp.write_row((i, o))


def synthesise_history(url: str, first_day: dt.date, days: int, dossiers_per_day: int, *,
                       run_id: str = "bench-history") -> dict:
    """Create the world and write ``days`` days of history from ``first_day`` into the raw tables, in
    force. Returns counts (dossiers, documents, rows per feed, batches)."""
    last_day = first_day + dt.timedelta(days=days - 1)
    docs_per_day = max(1, round(dossiers_per_day * DOCUMENTS_PER_DOSSIER))
    with psycopg.connect(url) as conn:
        ensure_raw_schema(conn)
        create_world(conn, first_day)
        conn.execute(dossiers_insert(f"'{first_day}'", f"'{last_day}'", str(int(dossiers_per_day))))
        conn.execute(documents_insert(f"'{first_day}'", f"'{last_day}'", str(docs_per_day)))
        conn.execute("analyze bench.dossiers; analyze bench.documents")
        # one batch per feed per day, in force (as if landed and gated on earlier nights)
        conn.execute("""
            create table bench.batches as
            select f.system, f.feed, d::date as source_day from generate_series(%s::date, %s::date, interval '1 day') d
            cross join (values ('onestop', 'dossiers'), ('onestop', 'steps'), ('edoc', 'documents')) f(system, feed)
            union all select 'reference', feed, %s::date from (values ('units'), ('procedures')) r(feed)
        """, (first_day, last_day, first_day))
        conn.execute("""
            insert into raw.load_batches (system, feed, source_day, delivery, source_uri, content_sha256, status,
                message, run_id, finished_at, generated_at, disposition, disposition_reason, decided_at,
                gate_verdict, gate_run_id, gate_checked_at)
            select system, feed, source_day, 'file', 'bench:synthesised/' || system || '/' || source_day || '/' || feed,
                   md5(system || feed || source_day), 'landed', 'synthesised history (benchmarks.synth)', %s, now(),
                   (source_day + 1)::timestamp + time '03:10', 'in_force', 'synthesised history, in force', now(),
                   'passed', %s, now()
            from bench.batches order by source_day, system, feed
        """, (run_id, run_id))
        # the raw tables are partitioned by month: create every month the history writes into
        ensure_all_partitions(conn, [first_day + dt.timedelta(days=i) for i in range(days)], FEEDS)
        rows = {}
        for system, feed in SYNTH_FEEDS:  # no bind parameters: the payload SQL has % operators
            versions = feed_versions(feed, f"v.source_day <= date '{last_day}'", False)
            rows[feed] = conn.execute(
                f"insert into raw.{system}__{feed} "
                "(batch_id, source_day, line_no, record_key, updated_at_src, payload) "
                "select b.batch_id, v.source_day, row_number() over (partition by v.source_day order by v.record_key), "
                f"v.record_key, v.updated_at_src, v.payload "
                f"from ({versions}) v "
                f"join raw.load_batches b on b.system = '{system}' and b.feed = '{feed}' "
                f"and b.source_day = v.source_day and b.disposition = 'in_force'").rowcount
        for feed, records in (("units", unit_records()), ("procedures", procedure_records())):
            batch_id = conn.execute("select batch_id from raw.load_batches where system = 'reference' and feed = %s "
                                    "and disposition = 'in_force'", (feed,)).fetchone()[0]
            key = "UnitId" if feed == "units" else "MaTTHC"
            with conn.cursor() as cur, cur.copy(f"copy raw.reference__{feed} (batch_id, source_day, line_no, "
                                               "record_key, updated_at_src, payload) from stdin") as cp:
                for i, r in enumerate(records, 1):
                    cp.write_row((batch_id, first_day, i, r[key], r.get("NgayCapNhat"),
                                  json.dumps(r, ensure_ascii=False)))
        conn.execute("""
            update raw.load_batches b set lines_read = n, rows_landed = n, keys_delivered = n
            from (select batch_id, count(*) n from (
                select batch_id from raw.onestop__dossiers union all select batch_id from raw.onestop__steps
                union all select batch_id from raw.edoc__documents union all select batch_id from raw.reference__units
                union all select batch_id from raw.reference__procedures) t group by batch_id) c
            where c.batch_id = b.batch_id and b.run_id = %s""", (run_id,))
        for system, feed in (*SYNTH_FEEDS, ("reference", "units"), ("reference", "procedures")):
            conn.execute(f"analyze raw.{system}__{feed}")
        conn.execute("analyze raw.load_batches")
        dossiers, documents = conn.execute(
            "select (select count(*) from bench.dossiers), (select count(*) from bench.documents)").fetchone()
        batches = conn.execute("select count(*) from raw.load_batches where run_id = %s", (run_id,)).fetchone()[0]
        conn.commit()
    return {"first_day": first_day.isoformat(), "last_day": last_day.isoformat(), "days": days,
            "dossiers_per_working_day": dossiers_per_day, "dossiers": dossiers, "documents": documents,
            "raw_rows": rows, "batches": batches}


def write_night(url: str, root: Path, day: dt.date, changes: int) -> dict:
    """Add the night's receptions to the world so that ``day``'s dossiers file has about ``changes``
    lines (new receptions plus earlier dossiers finishing that day), and write that day's export
    folder under ``root`` (every system, with manifests and clear personal values)."""
    with psycopg.connect(url) as conn:
        finishing = conn.execute("select count(*) from bench.dossiers where finish_day = %s", (day,)).fetchone()[0]
        new = max(1, changes - finishing)
        if day.isoweekday() >= 6:
            new *= 20  # dossiers_insert divides a weekend's receptions by 20
        conn.execute("delete from bench.dossiers where day = %s", (day,))
        conn.execute("delete from bench.documents where day = %s", (day,))
        conn.execute(dossiers_insert(f"'{day}'", f"'{day}'", str(new)))
        conn.execute(documents_insert(f"'{day}'", f"'{day}'", str(max(1, round(new * DOCUMENTS_PER_DOSSIER)))))
        counts, written = {}, {}
        for system, feed in SYNTH_FEEDS:
            versions = feed_versions(feed, f"v.source_day = date '{day}'", True)
            lines = [r[0].encode("utf-8") for r in conn.execute(
                f"select v.payload::text from ({versions}) v order by v.record_key")]
            written.setdefault(system, {})[feed] = lines
            counts[feed] = len(lines)
        conn.commit()
    written["reference"] = {
        feed: [json.dumps(r, ensure_ascii=False, separators=(",", ":")).encode("utf-8") for r in records]
        for feed, records in (("units", unit_records()), ("procedures", procedure_records()))}
    for system, files in written.items():
        write_export_day(root, system, day, files)
    return {"day": day.isoformat(), "lines": counts, "receptions": new if day.isoweekday() < 6 else new // 20,
            "finishing": finishing}


def write_export_day(root: Path, system: str, day: dt.date, files: dict[str, list[bytes]]) -> Path:
    """``{root}/{system}/{day}/{feed}.jsonl.gz`` and the ``_manifest.json`` written last (as the
    simulator's exporter does)."""
    folder = root / system / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    entries = {}
    for feed, lines in files.items():
        data = gzip.compress(b"".join(x + b"\n" for x in lines), compresslevel=1, mtime=0)
        (folder / f"{feed}.jsonl.gz").write_bytes(data)
        entries[f"{feed}.jsonl.gz"] = {"lines": len(lines), "sha256": hashlib.sha256(data).hexdigest()}
    (folder / "_manifest.json").write_text(json.dumps({"files": entries, "generated_at": default_generated_at(day)},
                                                      indent=1))
    return folder
