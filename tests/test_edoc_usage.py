"""E-documents and digital signatures: hand-built landed batches → real `dbt build` → exact numbers.

A small province (H26) in November 2026: the province's People's Committee P, two departments
(D issues and receives documents, D2 has none), a commune C, and a district abolished on
1 July 2025 (no row any more). Every expected number below was worked out by hand from the
documents listed here; the comments say why each document counts where it does.

Calendar facts used (seeds/calendar_exceptions.csv): 21–22 Nov 2026 is a weekend; Tuesday
24 Nov 2026 is a day off (Vietnam Culture Day). Working days are counted in (signed, dispatched].
"""

from __future__ import annotations

import datetime as dt
import json
import time
from decimal import Decimal
from fractions import Fraction

import pytest

from cchc.contracts import feed_named
from cchc.raw import ensure_raw_schema
from cchc.raw.schema import ensure_partitions
from cchc.transform import build
from cchc.warehouse import connect

AS_OF = "2026-11-30"
PUBLICATION_ID = 42

P = "000.00.00.H26"  # Ủy ban nhân dân tỉnh (province)
D = "000.14.00.H26"  # Sở Nội vụ (department with documents)
D2 = "000.05.00.H26"  # Sở Tư pháp (department without documents: a row of zeros)
C = "000.30.01.H26"  # commune, valid from 1 July 2025
H = "000.00.11.H26"  # district abolished on 30 June 2025: no row in November 2026
MINISTRY = "000.00.00.G02"  # an outside sender (not a unit of the list)


def ts(text: str) -> str:
    """'2026-11-02 09:00' -> '20261102090000' (the sources' timestamp format)."""
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M").strftime("%Y%m%d%H%M%S")


def unit(uid, name, level, parent="", valid_from="2020-01-01", valid_to=None, successor=""):
    return {"UnitId": uid, "Name": name, "Level": level, "ParentId": parent,
            "ValidFrom": valid_from.replace("-", "") + "000000",
            "ValidTo": valid_to.replace("-", "") + "235959" if valid_to else "",
            "SuccessorId": successor, "NgayCapNhat": "20211231000000"}


UNITS = [
    unit(P, "Ủy ban nhân dân tỉnh Thử Nghiệm", "TINH"),
    unit(D, "Sở Nội vụ", "SO", P),
    unit(D2, "Sở Tư pháp", "SO", P),
    unit(C, "Ủy ban nhân dân xã An Bình", "XA", P, valid_from="2025-07-01"),
    unit(H, "Ủy ban nhân dân huyện Cũ", "HUYEN", P, valid_to="2025-06-30", successor=C),
]

LEADER_D = ("Trần Văn Giám", "Giám đốc", "", True)
DEPUTY_D = ("Phạm Văn Phó", "Phó Giám đốc", "KT.", True)
CLERK_D = ("Lê Thị Văn", "Chánh Văn phòng", "TL.", False)
LEADER_C = ("Hoàng Văn Chủ", "Chủ tịch", "TM.", True)
CLERK_C = ("Ngô Thị Thư", "Công chức Văn phòng - Thống kê", "TL.", False)
LEADER_P = ("Đỗ Văn Tỉnh", "Chủ tịch", "TM.", True)
DEPUTY_P = ("Vũ Thị Phó", "Phó Chủ tịch", "KT.", True)


def sig(kind: str, at: str, valid: bool = True) -> dict:
    return {"Kind": kind, "SignedAt": ts(at), "CertSerial": f"{kind[:3]}-{at[:10]}", "Valid": valid}


def out_doc(doc_id, organ, number, notation, doc_type, day, *, signer, channel="VXP", secret=False,
            signer_at=None, signer_valid=True, org_at=None, org_valid=True, registered, dispatched=None,
            subject=None, recipients=(), updated=None) -> dict:
    signatures = []
    if signer_at:
        signatures.append(sig("SIGNER", signer_at, signer_valid))
    if org_at:
        signatures.append(sig("ORGANIZATION", org_at, org_valid))
    name, position, competence, leader = signer
    return {
        "DocumentId": doc_id, "Direction": "OUT", "OrganId": organ, "FromOrganId": organ,
        "CodeNumber": number, "CodeNotation": notation, "DocumentType": doc_type,
        "Subject": subject or f"{doc_type} {doc_id}", "PromulgationDate": ts(day + " 00:00"),
        "IsElectronic": channel != "PAPER", "IsSecret": secret, "Channel": channel,
        "SignerFullName": name, "SignerPosition": position, "SignerCompetence": competence,
        "SignerIsLeader": leader, "Signatures": signatures, "RegisteredAt": ts(registered),
        "DispatchedAt": ts(dispatched) if dispatched else "", "AcknowledgedAt": "",
        "HandlingDueDate": "", "HandlingDoneAt": "",
        "Recipients": [{"OrganId": r} for r in recipients], "Statuses": [],
        "NgayCapNhat": ts(updated or dispatched or registered),
    }


def in_doc(doc_id, organ, sender, number, channel, *, registered, arrived=None, acknowledged=None,
           secret=False, signed=None, due=None, done=None) -> dict:
    electronic = channel != "PAPER"
    statuses = []
    if arrived:
        statuses = [{"StatusCode": "01", "Timestamp": ts(arrived)},
                    {"StatusCode": "03", "Timestamp": ts(registered)}]
    signatures = [sig("SIGNER", signed), sig("ORGANIZATION", signed[:-2] + "30")] if signed else []
    last = max(x for x in (registered, acknowledged, done) if x)
    return {
        "DocumentId": doc_id, "Direction": "IN", "OrganId": organ, "FromOrganId": sender,
        "CodeNumber": number, "CodeNotation": "VP", "DocumentType": "CV", "Subject": f"CV {doc_id}",
        "PromulgationDate": ts(registered[:10] + " 00:00"), "IsElectronic": electronic,
        "IsSecret": secret, "Channel": channel, "SignerFullName": "Bùi Văn Gửi",
        "SignerPosition": "Chánh Văn phòng", "SignerCompetence": "TL.", "SignerIsLeader": False,
        "Signatures": signatures, "RegisteredAt": ts(registered), "DispatchedAt": "",
        "AcknowledgedAt": ts(acknowledged) if acknowledged else "",
        "HandlingDueDate": ts(due) if due else "", "HandlingDoneAt": ts(done) if done else "",
        "Recipients": [], "Statuses": statuses, "NgayCapNhat": ts(last),
    }


# -- department D, outgoing: numbers 1–8, 10, 10 in 2026 (9 missing, 10 twice; 8 is secret) -----
E00 = out_doc("D-OUT-00", D, "01", "QĐ-SNV", "QĐ", "2025-12-30", signer=LEADER_D,
              signer_at="2025-12-30 09:00", org_at="2025-12-30 09:15", registered="2025-12-30 09:10",
              dispatched="2025-12-30 09:30")  # number 1 of 2025: no duplicate of 2026's number 1
E01 = out_doc("D-OUT-01", D, "01", "QĐ-SNV", "QĐ", "2026-11-02", signer=LEADER_D,
              signer_at="2026-11-02 09:00", org_at="2026-11-02 09:15", registered="2026-11-02 09:10",
              dispatched="2026-11-02 09:30", recipients=[P])  # fully signed, VXP, 0 working days
E02_V1 = out_doc("D-OUT-02", D, "2", "SNV-VP", "CV", "2026-11-20", signer=CLERK_D, channel="LGSP",
                 signer_at="2026-11-20 16:00", org_at="2026-11-20 16:20",
                 registered="2026-11-20 16:10")  # first version: not dispatched yet
E02 = out_doc("D-OUT-02", D, "2", "SNV-VP", "CV", "2026-11-20", signer=CLERK_D, channel="LGSP",
              signer_at="2026-11-20 16:00", org_at="2026-11-20 16:20", registered="2026-11-20 16:10",
              dispatched="2026-11-23 08:30")  # Fri -> Mon: 1 working day (calendar: 3 days)
E03 = out_doc("D-OUT-03", D, "3", "TB-SNV", "TB", "2026-11-23", signer=DEPUTY_D, channel="EMAIL",
              signer_at="2026-11-23 10:00", registered="2026-11-23 10:05",
              dispatched="2026-11-25 09:00")  # signer only; Mon -> Wed over Tue 24 Nov off: 1 day
E03_AFTER = {**E03, "Signatures": E03["Signatures"] + [sig("ORGANIZATION", "2026-12-01 08:00")],
             "NgayCapNhat": ts("2026-12-01 08:00")}  # after as_of_date: must be ignored
E04 = out_doc("D-OUT-04", D, "4", "KH-SNV", "KH", "2026-11-20", signer=LEADER_D, channel="INTERNAL",
              signer_at="2026-11-20 10:00", org_at="2026-11-20 10:20", registered="2026-11-20 10:10",
              dispatched="2026-11-25 14:00")  # Fri -> Wed: Mon 23, Wed 25 = 2 working days: late
E05 = out_doc("D-OUT-05", D, "5", "SNV-VP", "CV", "2026-11-04", signer=CLERK_D,
              signer_at="2026-11-04 09:00", signer_valid=False, org_at="2026-11-04 09:10",
              registered="2026-11-04 09:05", dispatched="2026-11-04 10:00")  # invalid signer signature
E06 = out_doc("D-OUT-06", D, "6", "QĐ-SNV", "QĐ", "2026-11-05", signer=DEPUTY_D, channel="PAPER",
              registered="2026-11-05 14:00", dispatched="2026-11-05 15:00",
              subject="Quyết định khen thưởng tập thể, cá nhân")  # paper, signed by a leader
E07 = out_doc("D-OUT-07", D, "7", "BC-SNV", "BC", "2026-11-06", signer=CLERK_D, channel="PAPER",
              registered="2026-11-06 10:00", dispatched="2026-11-06 11:00")  # paper, not a leader
S01 = out_doc("D-OUT-08", D, "8", "QĐ-SNV", "QĐ", "2026-11-06", signer=LEADER_D, channel="PAPER",
              secret=True, registered="2026-11-06 15:00",
              dispatched="2026-11-06 16:00")  # secret: out of every count, but holds number 8
E09 = out_doc("D-OUT-09", D, "10", "SNV-VP", "CV", "2026-11-09", signer=CLERK_D,
              signer_at="2026-11-09 09:00", org_at="2026-11-09 09:15", registered="2026-11-09 09:10",
              dispatched="2026-11-09 10:00")
E10_WRONG = out_doc("D-OUT-10", D, "11", "TB-SNV", "TB", "2026-11-10", signer=CLERK_D, channel="LGSP",
                    signer_at="2026-11-10 09:00", org_at="2026-11-10 09:15",
                    registered="2026-11-10 09:10", dispatched="2026-11-10 10:00")  # replaced
E10 = {**E10_WRONG, "CodeNumber": "10"}  # corrected re-delivery of 10 Nov: duplicate number 10

# -- commune C, outgoing: numbers 1, 2, 4, 5, 6, 7 (3 missing) -----------------------------------
E11 = out_doc("C-OUT-01", C, "1", "UBND-VP", "CV", "2026-11-10", signer=LEADER_C, channel="LGSP",
              signer_at="2026-11-10 14:00", org_at="2026-11-10 14:15", registered="2026-11-10 14:10",
              dispatched="2026-11-10 14:30")
E12 = out_doc("C-OUT-02", C, "2", "TB-UBND", "TB", "2026-11-11", signer=CLERK_C, channel="LGSP",
              signer_at="2026-11-11 15:00", registered="2026-11-11 15:10",
              dispatched="2026-11-12 08:30")  # signer only, 1 working day
E13 = out_doc("C-OUT-04", C, "4", "QĐ-UBND", "QĐ", "2026-11-12", signer=LEADER_C, channel="PAPER",
              registered="2026-11-12 10:00", dispatched="2026-11-12 11:00")  # paper, leader
E14 = out_doc("C-OUT-05", C, "5", "UBND-VP", "CV", "2026-11-13", signer=CLERK_C, channel="INTERNAL",
              org_at="2026-11-13 09:20", registered="2026-11-13 09:10",
              dispatched="2026-11-13 09:40")  # organisation signature without the signer's
E15 = out_doc("C-OUT-06", C, "6", "UBND-VP", "CV", "2026-11-16", signer=CLERK_C,
              signer_at="2026-11-16 09:00", org_at="2026-11-16 08:50", registered="2026-11-16 09:00",
              dispatched="2026-11-16 10:00")  # organisation signed before the signer and the number
E16 = out_doc("C-OUT-07", C, "7", "GM-UBND", "GM", "2026-11-17", signer=CLERK_C,
              signer_at="2026-11-17 09:00", org_at="2026-11-17 11:00", registered="2026-11-17 09:05",
              dispatched="2026-11-17 10:00", updated="2026-11-17 11:00")  # signed after dispatch

# -- province P, outgoing ---------------------------------------------------------------------------
P01 = out_doc("P-OUT-01", P, "1", "QĐ-UBND", "QĐ", "2026-11-02", signer=LEADER_P,
              signer_at="2026-11-02 15:00", org_at="2026-11-02 15:15", registered="2026-11-02 15:10",
              dispatched="2026-11-03 08:30")
P02 = out_doc("P-OUT-02", P, "2", "CT-UBND", "CT", "2026-11-04", signer=DEPUTY_P, channel="PAPER",
              registered="2026-11-04 10:00", dispatched="2026-11-04 11:00")

# -- incoming ---------------------------------------------------------------------------------------
I01 = in_doc("D-IN-01", D, MINISTRY, "1250", "VXP", arrived="2026-11-03 08:00",
             registered="2026-11-03 08:30", acknowledged="2026-11-03 08:31", signed="2026-11-02 14:00",
             due="2026-11-10 23:59", done="2026-11-09 10:00")  # acknowledged the day it arrived
I02 = in_doc("D-IN-02", D, D2, "15", "LGSP", arrived="2026-11-06 16:30", registered="2026-11-09 08:00",
             acknowledged="2026-11-09 08:05", signed="2026-11-06 14:00")  # arrived Fri, ack Mon: late
I03 = in_doc("D-IN-03", D, C, "3", "PAPER", registered="2026-11-10 09:00")  # paper: C's number 3
I04 = in_doc("D-IN-04", D, "000.00.00.G05", "88", "EMAIL", registered="2026-11-12 10:00",
             acknowledged="2026-11-12 11:00")  # no edXML status: arrival = registration; same day
I05 = in_doc("D-IN-05", D, MINISTRY, "9", "VXP", arrived="2026-11-13 08:00", registered="2026-11-13 08:30",
             acknowledged="2026-11-16 08:00", secret=True)  # secret: not counted
I06 = in_doc("C-IN-01", C, D, "16", "LGSP", arrived="2026-11-18 09:00", registered="2026-11-18 09:20",
             acknowledged="2026-11-18 09:30", signed="2026-11-18 08:00")

LANDED_DOCUMENTS = [E00, E01, E02_V1, E02, E03, E04, E05, E06, E07, S01, E09, E10, E11, E12, E13, E14,
                    E15, E16, P01, P02, I01, I02, I03, I04, I05, I06]


def source_day(record: dict) -> dt.date:
    return dt.datetime.strptime(record["NgayCapNhat"], "%Y%m%d%H%M%S").date()


def land_batch(conn, system: str, feed: str, day: dt.date, records: list[dict], key: str,
               status: str = "landed") -> int:
    """Write one batch the way the loader does: its load_batches row and its rows."""
    batch_id = conn.execute(
        "insert into raw.load_batches (system, feed, source_day, delivery, source_uri, lines_read, "
        "rows_landed, status, finished_at) values (%s, %s, %s, 'file', %s, %s, %s, %s, now()) "
        "returning batch_id",
        (system, feed, day, f"test://{system}/{day}/{feed}", len(records),
         len(records) if status == "landed" else 0, status)).fetchone()[0]
    ensure_partitions(conn, feed_named(feed), [day])
    for line_no, record in enumerate(records, 1):
        conn.execute(
            f"insert into raw.{system}__{feed} (batch_id, source_day, line_no, record_key, "
            "updated_at_src, payload) values (%s, %s, %s, %s, %s, %s)",
            (batch_id, day, line_no, record[key], record["NgayCapNhat"], json.dumps(record)))
    return batch_id


@pytest.fixture(scope="module")
def built(warehouse_db):
    with connect(warehouse_db) as conn:
        ensure_raw_schema(conn)
        land_batch(conn, "reference", "units", dt.date(2026, 11, 30), UNITS, "UnitId")
        by_day: dict[dt.date, list[dict]] = {}
        for record in LANDED_DOCUMENTS:
            by_day.setdefault(source_day(record), []).append(record)
        for day in sorted(by_day):
            if day == dt.date(2026, 11, 10):  # a first delivery of the day, replaced by the second
                land_batch(conn, "edoc", "documents", day,
                           [E10_WRONG if r is E10 else r for r in by_day[day]], "DocumentId")
            land_batch(conn, "edoc", "documents", day, by_day[day], "DocumentId")
        # a refused delivery (never read) and a day after as_of_date (not included)
        land_batch(conn, "edoc", "documents", dt.date(2026, 11, 26),
                   [{**E05, "CodeNumber": "99", "NgayCapNhat": ts("2026-11-26 08:00")}], "DocumentId",
                   status="refused")
        land_batch(conn, "edoc", "documents", dt.date(2026, 12, 1), [E03_AFTER], "DocumentId")
        conn.commit()
    t0 = time.monotonic()
    build(warehouse_db, as_of_date=AS_OF, publication_id=PUBLICATION_ID, run_id="test_edoc_usage")
    print(f"dbt build: {time.monotonic() - t0:.1f}s")
    return warehouse_db


def rows(url: str, query: str, *params) -> list[dict]:
    with connect(url) as conn:
        cur = conn.execute(query, params)
        names = [c.name for c in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


COUNTS = ("outgoing_documents", "issued_electronically", "fully_signed", "signer_only",
          "invalid_signature", "paper", "paper_signed_by_leader", "via_axis",
          "dispatched_within_one_working_day", "incoming_documents", "incoming_electronic",
          "incoming_via_axis", "acknowledged_same_day")
RATES = {  # rate -> (numerator, denominator)
    "electronic_rate": ("issued_electronically", "outgoing_documents"),
    "fully_signed_rate": ("fully_signed", "outgoing_documents"),
    "signer_only_rate": ("signer_only", "outgoing_documents"),
    "invalid_signature_rate": ("invalid_signature", "outgoing_documents"),
    "paper_rate": ("paper", "outgoing_documents"),
    "via_axis_rate": ("via_axis", "outgoing_documents"),
    "dispatched_within_one_working_day_rate": ("dispatched_within_one_working_day", "outgoing_documents"),
    "incoming_via_axis_rate": ("incoming_via_axis", "incoming_documents"),
    "acknowledged_same_day_rate": ("acknowledged_same_day", "incoming_electronic"),
}

# November 2026, worked out by hand (secret D-OUT-08 and D-IN-05 left out everywhere):
EXPECTED_NOVEMBER = {
    # D: out 01 02 03 04 05 06 07 09 10; electronic all but the paper 06, 07; fully signed 01 02 04
    # 09 10 (05's signer signature is invalid); signer only 03; via VXP/LGSP 01 02 05 09 10;
    # within one working day 01 02 03 05 09 10 (04 took 2; paper 06, 07 have no signing time);
    # in 01 02 03 04: electronic 01 02 04, via axis 01 02, acknowledged the arrival day 01 04.
    D: dict(outgoing_documents=9, issued_electronically=7, fully_signed=5, signer_only=1,
            invalid_signature=1, paper=2, paper_signed_by_leader=1, via_axis=5,
            dispatched_within_one_working_day=6, incoming_documents=4, incoming_electronic=3,
            incoming_via_axis=2, acknowledged_same_day=2),
    # C: out 01 02 04 05 06 07; fully 01 06 07; signer only 02; 05 has only the organisation's
    # signature; paper 04 (leader); via axis 01 02 06 07; within 01 02 06 07; in: C-IN-01.
    C: dict(outgoing_documents=6, issued_electronically=5, fully_signed=3, signer_only=1,
            invalid_signature=0, paper=1, paper_signed_by_leader=1, via_axis=4,
            dispatched_within_one_working_day=4, incoming_documents=1, incoming_electronic=1,
            incoming_via_axis=1, acknowledged_same_day=1),
    D2: {c: 0 for c in COUNTS},
}
# the province's own documents (P-OUT-01 fully signed, VXP, 1 working day; P-OUT-02 paper, leader)
# plus every unit under it
_P_OWN = dict(outgoing_documents=2, issued_electronically=1, fully_signed=1, signer_only=0,
              invalid_signature=0, paper=1, paper_signed_by_leader=1, via_axis=1,
              dispatched_within_one_working_day=1, incoming_documents=0, incoming_electronic=0,
              incoming_via_axis=0, acknowledged_same_day=0)
EXPECTED_NOVEMBER[P] = {c: _P_OWN[c] + EXPECTED_NOVEMBER[D][c] + EXPECTED_NOVEMBER[C][c] for c in COUNTS}
assert EXPECTED_NOVEMBER[P]["outgoing_documents"] == 17 and EXPECTED_NOVEMBER[P]["fully_signed"] == 9


def month_rows(url: str) -> dict[str, dict]:
    found = rows(url, "select * from kpi_build.esignature_usage "
                      "where period_type = 'month' and period_start = date '2026-11-01'")
    return {r["unit_id"]: r for r in found}


def test_month_row_counts_for_each_unit_and_the_province(built):
    got = month_rows(built)
    assert set(got) == {P, D, D2, C}  # every unit valid in November, the abolished district not
    for unit_id, expected in EXPECTED_NOVEMBER.items():
        assert {c: got[unit_id][c] for c in COUNTS} == expected, unit_id


def test_month_row_rates(built):
    got = month_rows(built)
    assert round(got[D]["electronic_rate"], 6) == Decimal("0.777778")  # 7 of 9
    for unit_id, expected in EXPECTED_NOVEMBER.items():
        for rate, (num, den) in RATES.items():
            value = got[unit_id][rate]
            if expected[den] == 0:
                assert value is None, (unit_id, rate)
            else:
                assert abs(Fraction(value) - Fraction(expected[num], expected[den])) < Fraction(1, 10**15), \
                    (unit_id, rate, value)
    assert got[P]["acknowledged_same_day_rate"] == Decimal("0.75")  # 3 of 4 electronic incoming
    assert got[D]["acknowledged_same_day_rate"] * 3 == pytest.approx(2)


def test_month_row_shape(built):
    got = month_rows(built)
    assert got[D]["unit_name"] == "Sở Nội vụ"
    assert got[P]["period_end"] == dt.date(2026, 11, 30)
    assert {r["publication_id"] for r in got.values()} == {PUBLICATION_ID}
    year = rows(built, "select * from kpi_build.esignature_usage where period_type = 'year' "
                       "and period_start = date '2026-01-01' and unit_id = %s", D)
    assert year[0]["outgoing_documents"] == 9 and year[0]["period_end"] == dt.date(2026, 11, 30)


def test_leader_paper_documents(built):
    got = rows(built, "select * from kpi_build.leader_paper_documents order by document_id")
    assert [(r["month"], r["unit_id"], r["document_id"]) for r in got] == [
        (dt.date(2026, 11, 1), C, "C-OUT-04"),
        (dt.date(2026, 11, 1), D, "D-OUT-06"),
        (dt.date(2026, 11, 1), P, "P-OUT-02"),
    ]  # not D-OUT-07 (not a leader), not the secret D-OUT-08, not the electronic ones
    d06 = got[1]
    assert (d06["code_number"], d06["code_notation"], d06["document_type"]) == ("6", "QĐ-SNV", "QĐ")
    assert (d06["signer_full_name"], d06["signer_position"]) == ("Phạm Văn Phó", "Phó Giám đốc")
    assert d06["promulgation_date"] == dt.date(2026, 11, 5)
    assert d06["subject"] == "Quyết định khen thưởng tập thể, cá nhân"
    assert d06["unit_name"] == "Sở Nội vụ" and d06["publication_id"] == PUBLICATION_ID


def test_anomalies_are_exactly_the_ones_built(built):
    got = rows(built, "select anomaly_kind, organ_id, numbering_year, code_number, document_id "
                      "from marts.fct_document_anomalies")
    assert sorted((r["anomaly_kind"], r["organ_id"], r["numbering_year"], r["code_number"], r["document_id"])
                  for r in got) == sorted([
        ("numbering_gap", D, 2026, 9, None),
        ("numbering_gap", C, 2026, 3, None),  # D's incoming copy numbered 3 does not fill it
        ("numbering_duplicate", D, 2026, 10, None),
        ("organisation_signature_without_signer", C, 2026, 5, "C-OUT-05"),
        ("organisation_signature_before_signer", C, 2026, 6, "C-OUT-06"),
        ("organisation_signature_before_registration", C, 2026, 6, "C-OUT-06"),
        ("signature_after_dispatch", C, 2026, 7, "C-OUT-07"),
        ("late_dispatch", D, 2026, 4, "D-OUT-04"),
    ])
    dup = rows(built, "select detail from marts.fct_document_anomalies "
                      "where anomaly_kind = 'numbering_duplicate'")
    assert "D-OUT-09, D-OUT-10" in dup[0]["detail"]


def test_document_rules(built):
    docs = {r["document_id"]: r for r in rows(built, "select * from marts.fct_documents")}
    assert docs["D-OUT-02"]["dispatch_working_days"] == 1  # across the weekend
    assert docs["D-OUT-03"]["dispatch_working_days"] == 1  # across Tuesday 24 Nov 2026, a day off
    assert docs["D-OUT-04"]["dispatch_working_days"] == 2
    assert docs["D-OUT-04"]["dispatched_within_one_working_day"] is False
    assert docs["D-OUT-03"]["is_signer_only"] is True  # its 1 Dec version is after as_of_date
    assert docs["D-OUT-10"]["code_number"] == 10  # the corrected delivery of the day
    assert docs["D-OUT-05"]["code_number"] == 5  # the refused delivery is never read
    assert docs["D-OUT-01"]["code_number"] == 1 and docs["D-OUT-00"]["numbering_year"] == 2025
    assert docs["D-IN-02"]["arrival_source"] == "edxml_status_01"
    assert docs["D-IN-02"]["acknowledged_same_day"] is False
    assert docs["D-IN-04"]["arrival_source"] == "registered_at"
    assert docs["D-IN-04"]["acknowledged_same_day"] is True
    assert docs["D-IN-03"]["acknowledged_same_day"] is None  # paper: not expected electronically
    assert docs["D-OUT-08"]["is_in_esignature_kpi"] is False
    sigs = rows(built, "select * from marts.fct_document_signatures where document_id = 'D-OUT-05'")
    assert sorted((s["signature_kind"], s["is_valid"]) for s in sigs) == [
        ("ORGANIZATION", True), ("SIGNER", False)]


def test_daily_fact(built):
    got = rows(built, "select * from marts.fct_esignature_daily where unit_id = %s "
                      "and date_day = date '2026-11-20'", D)
    # D-OUT-02 and D-OUT-04 were promulgated on Friday 20 Nov; both fully signed, one via LGSP
    assert len(got) == 1
    assert (got[0]["outgoing_documents"], got[0]["fully_signed"], got[0]["via_axis"],
            got[0]["dispatched_within_one_working_day"]) == (2, 2, 1, 1)
    total = rows(built, "select sum(outgoing_documents) as n from marts.fct_esignature_daily")
    assert total[0]["n"] == 18  # 17 in November + D-OUT-00 of 2025; the secret one never


def test_quality_gate_passes_on_the_candidates(built, tmp_path):
    from cchc.quality import run_gate

    result = run_gate(built, ["esignature_usage", "leader_paper_documents"],
                      schema_map={"kpi": "kpi_build"}, run_id="test_edoc_gate", report_dir=tmp_path)
    assert result.success, result.failures
    assert result.checks_evaluated >= 30


def test_quality_gate_catches_a_broken_candidate(built, tmp_path):
    """Last in the module: it breaks a row of the candidate (and puts it back)."""
    from cchc.quality import run_gate

    with connect(built) as conn:
        conn.execute("update kpi_build.esignature_usage set fully_signed = issued_electronically + 1, "
                     "paper_signed_by_leader = paper + 1 "
                     "where period_type = 'month' and unit_id = %s", (D,))
        conn.commit()
    try:
        result = run_gate(built, ["esignature_usage", "leader_paper_documents"],
                          schema_map={"kpi": "kpi_build"}, run_id="test_edoc_gate_broken",
                          report_dir=tmp_path)
    finally:
        with connect(built) as conn:
            conn.execute("update kpi_build.esignature_usage set fully_signed = %s, "
                         "paper_signed_by_leader = %s where period_type = 'month' and unit_id = %s",
                         (EXPECTED_NOVEMBER[D]["fully_signed"], EXPECTED_NOVEMBER[D]["paper_signed_by_leader"], D))
            conn.commit()
    failed = {f.split(":")[0] for f in result.failures}
    assert not result.success
    assert {"esignature_usage.electronic_counts_nest", "esignature_usage.outgoing_parts_within_outgoing",
            "esignature_usage.outgoing_rates_formula",
            "leader_paper_documents.agrees_with_esignature_usage"} <= failed, result.failures
