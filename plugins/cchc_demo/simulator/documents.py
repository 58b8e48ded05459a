"""E-documents (văn bản đi / đến) of the province's units, emitted as daily snapshots.

Outgoing (OUT): every unit valid on the day issues documents in turn. The signer signs (SIGNER
signature), the clerk registers the document in the outgoing book — this gives the number — and
applies the organisation's signature (ORGANIZATION), then the document is dispatched: mostly the
same or the next working day, sometimes later. Some are signer-only, a few carry an invalid
signature; paper issuance (IsElectronic false, Channel PAPER, no signatures) is concentrated in the
units of :data:`cchc_demo.simulator.province.PAPER_SHARE`, and includes documents signed by leaders.
Each internal recipient gets an incoming (IN) record; ministries send IN documents too.
Exchanged documents (VXP, LGSP) carry edXML statuses: on an IN record the recipient's own (01
arrived, 02 refused, 03 registered, 04 assigned, 05 processing, 06 done); on an OUT record the first
recipient's 01 and 03 (and 13 when the sender revoked it).

Numbering: CodeNumber counts from 1 per issuing organisation (OrganId of OUT records) per calendar
year of RegisteredAt, over **all** its outgoing documents: electronic, paper and secret ones share
one sequence, and the world starts empty at the simulated start. A few numbering anomalies are
injected on purpose (valid records with a business anomaly, unrelated to ``bad_rate``): a *gap*
(a number never used) or a *duplicate* (one number given to two documents). Each one is listed in
``_simulator/numbering_anomalies.json`` as {OrganId, year, CodeNumber, kind}; every run with
enough outgoing documents has at least one of each.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections import Counter

from cchc_demo.working_days import CalendarError, add_working_days, is_working_day, next_working_day
from cchc_demo.simulator import people
from cchc_demo.simulator.clock import (at, day_ts, end_of_day, morning, next_office_time, office_time, soon_after,
                                  times_between, ts)
from cchc_demo.simulator.config import SimulatorConfig
from cchc_demo.simulator.province import EXTERNAL_ORGANS, PAPER_SHARE, Unit, office, units_by_id, valid_units
from cchc_demo.simulator.rand import pick, stream
from cchc_demo.simulator.timeline import DayBuckets, emit_states

DOC_TYPES = (("CV", 45), ("QĐ", 14), ("TB", 10), ("BC", 10), ("KH", 8), ("TTr", 5), ("GM", 6), ("CT", 2))
SUBJECTS = {
    "CV": ("V/v triển khai Chỉ thị về đẩy mạnh cải cách hành chính",
           "V/v đôn đốc xử lý hồ sơ thủ tục hành chính trễ hạn", "V/v cung cấp thông tin phục vụ kiểm tra công vụ",
           "V/v tăng cường sử dụng chữ ký số trong văn bản điện tử",
           "V/v số hóa hồ sơ, kết quả giải quyết thủ tục hành chính", "V/v góp ý dự thảo văn bản"),
    "QĐ": ("Quyết định công bố danh mục thủ tục hành chính", "Quyết định phê duyệt kế hoạch cải cách hành chính",
           "Quyết định ban hành quy chế làm việc", "Quyết định khen thưởng tập thể, cá nhân"),
    "TB": ("Thông báo kết luận cuộc họp giao ban", "Thông báo lịch tiếp công dân", "Thông báo kết quả kiểm tra"),
    "BC": ("Báo cáo kết quả công tác cải cách hành chính", "Báo cáo tình hình chuyển đổi số",
           "Báo cáo kết quả thực hiện nhiệm vụ tháng"),
    "KH": ("Kế hoạch kiểm tra công tác cải cách hành chính", "Kế hoạch tuyên truyền dịch vụ công trực tuyến"),
    "TTr": ("Tờ trình đề nghị phê duyệt dự toán", "Tờ trình đề nghị khen thưởng"),
    "GM": ("Giấy mời dự hội nghị trực tuyến", "Giấy mời họp giao ban"),
    "CT": ("Chỉ thị về chấn chỉnh kỷ luật, kỷ cương hành chính",),
}
LEADER_SHARE = {"QĐ": 1.0, "CT": 1.0, "TTr": 1.0, "KH": 0.8, "BC": 0.8, "CV": 0.55, "TB": 0.4, "GM": 0.3}
EXTERNAL_SIGNERS = (("Bộ trưởng", "", True), ("Thứ trưởng", "KT.", True), ("Chánh Văn phòng", "TL.", False),
                    ("Vụ trưởng", "TUQ.", False))


def _serial(*parts) -> str:
    return hashlib.sha1(":".join(map(str, parts)).encode()).hexdigest()[:20].upper()


def _notation(doc_type: str, abbrev: str) -> str:
    return f"{abbrev}-VP" if doc_type == "CV" else f"{doc_type}-{abbrev}"


class DocumentSimulator:
    """Creates each day's documents and hands out the snapshot lines of each day, in day order."""

    def __init__(self, cfg: SimulatorConfig):
        self.cfg = cfg
        self.buckets = DayBuckets()
        self.numbers: Counter[tuple[str, int]] = Counter()
        self.anomalies: list[dict] = []
        self.created: dict[dt.date, int] = {}
        self._ids: Counter[tuple[str, str, dt.date]] = Counter()
        self._issuers: list[str] = []
        self._recipients: list[str] = []
        self._out_count = 0
        self.cut_short = 0  # lives cut where the working-day calendar ends

    def day(self, day: dt.date) -> list[str]:
        """The ``documents`` lines of ``day`` (call for every day, in order)."""
        self._create(day)
        return self.buckets.pop(day)

    def _document_id(self, organ: str, direction: str, day: dt.date) -> str:
        self._ids[(organ, direction, day)] += 1
        tag = "DI" if direction == "OUT" else "DEN"
        return f"{organ}-{tag}-{day:%y%m%d}-{self._ids[(organ, direction, day)]:04d}"

    def _next(self, queue: list[str], rng: random.Random, day: dt.date) -> Unit:
        """Round-robin over the units valid on ``day``, so every unit takes part."""
        by_id = units_by_id()
        while queue and not by_id[queue[0]].valid_on(day):
            queue.pop(0)
        if not queue:
            fresh = [u.unit_id for u in valid_units(day)]
            rng.shuffle(fresh)
            queue.extend(fresh)
        return by_id[queue.pop(0)]

    def _create(self, day: dt.date) -> None:
        rng = stream(self.cfg.seed, "edoc", day.isoformat())
        working = is_working_day(day)
        total = self.cfg.documents_per_day * (rng.uniform(0.85, 1.15) if working else rng.uniform(0.0, 0.05))
        drafts = [self._draft_out(rng, day, self._next(self._issuers, rng, day))
                  for _ in range(round(total * 0.3) if working else 0)]
        drafts.sort(key=lambda d: (d["registered"], d["issuer"].unit_id))
        count = 0
        for draft in drafts:
            count += 1 + self._issue(rng, draft)
        for _ in range(round(total * 0.15)):
            self._external_in(rng, day, self._next(self._recipients, rng, day))
            count += 1
        self.created[day] = count

    # -- outgoing -------------------------------------------------------------------------------
    def _signer(self, rng: random.Random, unit: Unit, doc_type: str) -> tuple[str, str, str, bool]:
        """(name, position, competence, is leader) of the official who signs."""
        if rng.random() < LEADER_SHARE[doc_type]:
            name, titles = office(unit, "leaders")
            who = rng.choice((0, 1, 1, len(titles) - 1))
            official = people.roster(self.cfg.seed, unit.unit_id, name, titles)[who]
            if who == 0:  # noqa: SIM108  a nested conditional expression reads worse
                competence = "" if unit.level == "SO" else "TM."
            else:
                competence = "KT."
            return official.name, official.title, competence, True
        if unit.level != "XA" and rng.random() < 0.4:
            name, titles = office(unit, "processing", rng.choice(("HT", "DKKD", "LD")))
            official = people.roster(self.cfg.seed, unit.unit_id, name, titles)[0]
            return official.name, f"{official.title} {name[len('Phòng '):] if name.startswith('Phòng ') else name}", \
                "TUQ.", False
        name, titles = office(unit, "clerical")
        official = people.roster(self.cfg.seed, unit.unit_id, name, titles)[0]
        return official.name, official.title, "TL.", False

    def _draft_out(self, rng: random.Random, day: dt.date, issuer: Unit) -> dict:
        doc_type = pick(rng, DOC_TYPES)
        secret = rng.random() < 0.015
        paper = secret or rng.random() < PAPER_SHARE.get(issuer.unit_id, 0.015)
        prev = self._previous_working_day(day)
        if prev is not None and rng.random() < 0.15:
            signed = office_time(rng, prev)
            registered = morning(rng, day)
        else:
            signed = office_time(rng, day)
            if signed > at(day, 15, 30):
                signed -= dt.timedelta(hours=2)
            registered = signed + dt.timedelta(minutes=rng.randint(5, 90), seconds=rng.randrange(60))
        r = rng.random()
        try:
            if r < 0.75:
                dispatched = soon_after(rng, registered, 5, 60)
            elif r < 0.92:
                dispatched = next_office_time(rng, at(next_working_day(day), 0))
            else:
                dispatched = next_office_time(rng, at(add_working_days(day, rng.randint(2, 5)), 0))
        except CalendarError:  # dispatched beyond the working-day calendar
            dispatched, self.cut_short = None, self.cut_short + 1
        return {"issuer": issuer, "type": doc_type, "secret": secret, "paper": paper, "signed": signed,
                "registered": registered, "dispatched": dispatched}

    def _previous_working_day(self, day: dt.date) -> dt.date | None:
        prev = day - dt.timedelta(days=1)
        while prev >= self.cfg.start:
            if is_working_day(prev):
                return prev
            prev -= dt.timedelta(days=1)
        return None

    def _number(self, rng: random.Random, organ: str, year: int) -> str:
        """The next CodeNumber of ``organ`` in ``year``, now and then with a gap or a duplicate."""
        self._out_count += 1
        key = (organ, year)
        last = self.numbers[key]
        kinds = {a["kind"] for a in self.anomalies}
        rate = self.cfg.numbering_anomaly_rate
        if last >= 1 and (rng.random() < rate or ("gap" not in kinds and self._out_count >= 6)):
            last += 1
            self.anomalies.append({"OrganId": organ, "year": year, "CodeNumber": str(last), "kind": "gap"})
        elif last >= 1 and (rng.random() < rate or ("duplicate" not in kinds and self._out_count >= 10)):
            self.anomalies.append({"OrganId": organ, "year": year, "CodeNumber": str(last), "kind": "duplicate"})
            return str(last)
        self.numbers[key] = last + 1
        return str(last + 1)

    def _recipients_of(self, rng: random.Random, issuer: Unit, day: dt.date) -> tuple[list[str], list[str]]:
        """(internal recipients, external recipients) of an outgoing document."""
        by_level = {lv: [u.unit_id for u in valid_units(day, lv)] for lv in ("TINH", "SO", "HUYEN", "XA")}
        local = by_level["HUYEN"] or by_level["XA"]
        if issuer.level == "TINH":
            pool = by_level["SO"] + local
            internal = rng.sample(pool, rng.randint(1, 4))
        elif issuer.level == "SO":
            pool = [u for u in by_level["SO"] if u != issuer.unit_id] + local
            internal = rng.sample(pool, rng.randint(1, 3))
            if rng.random() < 0.5:
                internal.insert(0, by_level["TINH"][0])
        elif issuer.level == "HUYEN":
            children = [u for u in by_level["XA"] if units_by_id()[u].parent_id == issuer.unit_id]
            internal = rng.sample(children, min(len(children), rng.randint(1, 3)))
            internal.append(rng.choice(by_level["TINH"] + by_level["SO"]))
        else:
            parent = issuer.parent_id if units_by_id()[issuer.parent_id].valid_on(day) else by_level["TINH"][0]
            internal = [parent] + ([rng.choice(by_level["SO"])] if rng.random() < 0.3 else [])
        external = []
        if issuer.level in ("TINH", "SO") and rng.random() < 0.2:
            external = [rng.choice(EXTERNAL_ORGANS)[0]]
        return internal, external

    def _issue(self, rng: random.Random, d: dict) -> int:
        """Emit one outgoing document and its recipients' incoming copies; returns how many copies."""
        cfg, issuer, day = self.cfg, d["issuer"], d["registered"].date()
        signed, registered, dispatched = d["signed"], d["registered"], d["dispatched"]
        internal, external = self._recipients_of(rng, issuer, day)
        if d["paper"]:
            channel = "PAPER"
        elif rng.random() < 0.08:
            channel, internal, external = "INTERNAL", [issuer.unit_id], []
        elif internal:
            channel = pick(rng, (("LGSP", 80), ("VXP", 12), ("EMAIL", 8)))
        else:
            channel = pick(rng, (("VXP", 85), ("EMAIL", 15)))
        signer, position, competence, leader = self._signer(rng, issuer, d["type"])
        signatures = []
        if channel != "PAPER":
            signatures.append({"Kind": "SIGNER", "SignedAt": ts(signed), "CertSerial": _serial(cfg.seed, signer),
                               "Valid": rng.random() >= 0.015})
            if rng.random() >= 0.05:  # else signed by the signer only
                signatures.append({"Kind": "ORGANIZATION",
                                   "SignedAt": ts(registered + dt.timedelta(minutes=rng.randint(1, 10))),
                                   "CertSerial": _serial(cfg.seed, issuer.unit_id), "Valid": rng.random() >= 0.01})
            dispatched = max(dispatched, registered + dt.timedelta(minutes=11)) if dispatched else None
        number = self._number(rng, issuer.unit_id, registered.year)
        doc_id = self._document_id(issuer.unit_id, "OUT", day)
        base = {
            "DocumentId": doc_id, "Direction": "OUT", "OrganId": issuer.unit_id, "FromOrganId": issuer.unit_id,
            "CodeNumber": number, "CodeNotation": _notation(d["type"], issuer.abbrev), "DocumentType": d["type"],
            "Subject": rng.choice(SUBJECTS[d["type"]]), "PromulgationDate": day_ts(day),
            "IsElectronic": channel != "PAPER", "IsSecret": d["secret"], "Channel": channel,
            "SignerFullName": signer, "SignerPosition": position, "SignerCompetence": competence,
            "SignerIsLeader": leader, "Signatures": signatures, "RegisteredAt": ts(registered),
            "DispatchedAt": "", "AcknowledgedAt": "", "HandlingDueDate": "", "HandlingDoneAt": "",
            "Recipients": [{"OrganId": o} for o in internal + external], "Statuses": [], "NgayCapNhat": "",
        }
        changes = [(registered, {})]
        copies = 0
        if dispatched is not None:
            changes.append((dispatched, {"DispatchedAt": ts(dispatched)}))
            try:
                copies = self._deliver(rng, base, channel, internal, dispatched, changes)
            except CalendarError:
                self.cut_short += 1
        changes.sort(key=lambda c: c[0])
        emit_states(self.buckets, doc_id, base, changes, cfg.end)
        return copies

    def _deliver(self, rng: random.Random, base: dict, channel: str, internal: list[str], dispatched: dt.datetime,
                 changes: list) -> int:
        """Recipients' IN copies and the edXML statuses they send back (appends to ``changes``)."""
        copies = 0
        arrivals, registrations = [], []
        if channel != "INTERNAL":
            for organ in internal:
                try:
                    received = self._internal_in(rng, base, organ, channel, dispatched)
                except CalendarError:
                    received, self.cut_short = None, self.cut_short + 1
                if received is not None:
                    copies += 1
                    arrivals.append(received[0])
                    if received[1] is not None:
                        registrations.append(received[1])
        if channel in ("VXP", "LGSP"):  # the first recipient's edXML statuses come back to the sender
            arrived = min(arrivals) if arrivals else dispatched + dt.timedelta(minutes=rng.randint(1, 5))
            registered_there = min(registrations) if registrations else next_office_time(rng, arrived)
            statuses = [{"StatusCode": "01", "Timestamp": ts(arrived)}]
            changes.append((arrived, {"Statuses": list(statuses)}))
            statuses.append({"StatusCode": "03", "Timestamp": ts(registered_there)})
            changes.append((registered_there, {"Statuses": list(statuses)}))
            if rng.random() < 0.005:
                revoked = next_office_time(rng, registered_there + dt.timedelta(days=1))
                statuses.append({"StatusCode": "13", "Timestamp": ts(revoked)})
                changes.append((revoked, {"Statuses": list(statuses)}))
        return copies

    # -- incoming -------------------------------------------------------------------------------
    def _internal_in(self, rng: random.Random, out: dict, organ: str, channel: str,
                     dispatched: dt.datetime) -> tuple[dt.datetime, dt.datetime | None] | None:
        """The recipient's IN record of an outgoing document: (arrival, registration) or None."""
        if channel == "PAPER":
            arrived = office_time(rng, add_working_days(dispatched.date(), rng.randint(1, 3)))
        else:
            arrived = dispatched + dt.timedelta(minutes=rng.randint(1, 5))
        if not units_by_id()[organ].valid_on(arrived.date()):
            return None  # the recipient was abolished meanwhile
        record = {k: out[k] for k in ("CodeNumber", "CodeNotation", "DocumentType", "Subject", "PromulgationDate",
                                      "IsSecret", "SignerFullName", "SignerPosition", "SignerCompetence",
                                      "SignerIsLeader", "Signatures")}
        record["Signatures"] = [dict(s) for s in record["Signatures"]]
        return arrived, self._receive(rng, organ, out["OrganId"], channel, arrived, record)

    def _external_in(self, rng: random.Random, day: dt.date, recipient: Unit) -> None:
        sender, abbrev = rng.choice(EXTERNAL_ORGANS)
        doc_type = pick(rng, DOC_TYPES)
        channel = pick(rng, (("VXP", 85), ("EMAIL", 5), ("PAPER", 10)))
        if is_working_day(day):
            arrived = office_time(rng, day)
        else:
            arrived = dt.datetime.combine(day, dt.time(7)) + dt.timedelta(seconds=rng.randrange(14 * 3600))
        issued = day - dt.timedelta(days=rng.randint(0, 3))
        position, competence, leader = rng.choice(EXTERNAL_SIGNERS)
        signer = people.full_name(rng)
        signatures = []
        if channel != "PAPER":
            signed = dt.datetime.combine(issued, dt.time(8)) + dt.timedelta(minutes=rng.randrange(420))
            signed = min(signed, arrived - dt.timedelta(minutes=30))
            signatures = [
                {"Kind": "SIGNER", "SignedAt": ts(signed), "CertSerial": _serial(sender, signer), "Valid": True},
                {"Kind": "ORGANIZATION", "SignedAt": ts(signed + dt.timedelta(minutes=rng.randint(5, 25))),
                 "CertSerial": _serial(sender), "Valid": True},
            ]
        record = {"CodeNumber": str(rng.randint(1, 4000)), "CodeNotation": _notation(doc_type, abbrev),
                  "DocumentType": doc_type, "Subject": rng.choice(SUBJECTS[doc_type]),
                  "PromulgationDate": day_ts(issued), "IsSecret": rng.random() < 0.01, "SignerFullName": signer,
                  "SignerPosition": position, "SignerCompetence": competence, "SignerIsLeader": leader,
                  "Signatures": signatures}
        self._receive(rng, recipient.unit_id, sender, channel, arrived, record)

    def _receive(self, rng: random.Random, organ: str, sender: str, channel: str, arrived: dt.datetime,
                 record: dict) -> dt.datetime | None:
        """Emit an IN record arriving at ``arrived``; returns its registration time (None: refused)."""
        exchanged = channel in ("VXP", "LGSP")
        doc_id = self._document_id(organ, "IN", arrived.date())
        base = {"DocumentId": doc_id, "Direction": "IN", "OrganId": organ, "FromOrganId": sender}
        base.update({k: record[k] for k in ("CodeNumber", "CodeNotation", "DocumentType", "Subject",
                                            "PromulgationDate")})
        base.update({"IsElectronic": channel != "PAPER", "IsSecret": record["IsSecret"], "Channel": channel})
        base.update({k: record[k] for k in ("SignerFullName", "SignerPosition", "SignerCompetence",
                                            "SignerIsLeader", "Signatures")})
        base.update({"RegisteredAt": "", "DispatchedAt": "", "AcknowledgedAt": "", "HandlingDueDate": "",
                     "HandlingDoneAt": "", "Recipients": [], "Statuses": [], "NgayCapNhat": ""})
        statuses = [{"StatusCode": "01", "Timestamp": ts(arrived)}] if exchanged else []
        changes = [(arrived, {"Statuses": list(statuses)})]
        registered = None
        try:
            registered = self._handle(rng, base, channel, arrived, statuses, changes)
        except CalendarError:  # the rest of its life lies beyond the working-day calendar
            self.cut_short += 1
        changes.sort(key=lambda c: c[0])
        emit_states(self.buckets, doc_id, base, changes, self.cfg.end)
        return registered

    def _handle(self, rng: random.Random, base: dict, channel: str, arrived: dt.datetime, statuses: list[dict],
                changes: list) -> dt.datetime | None:
        """Registration, acknowledgement and handling of an IN document (appends to ``changes``)."""
        exchanged = channel in ("VXP", "LGSP")
        if rng.random() < 0.85:
            registered = office_time(rng, arrived.date(), arrived) or morning(rng, next_working_day(arrived.date()))
        else:
            registered = next_office_time(rng, at(add_working_days(arrived.date(), rng.randint(1, 3)), 0))
        if exchanged and rng.random() < 0.01:  # refused: wrong recipient
            statuses.append({"StatusCode": "02", "Timestamp": ts(registered)})
            changes.append((registered, {"AcknowledgedAt": ts(registered), "Statuses": list(statuses)}))
            return None
        fields = {"RegisteredAt": ts(registered)}
        if exchanged or (channel == "EMAIL" and rng.random() < 0.7):
            fields["AcknowledgedAt"] = ts(registered + dt.timedelta(seconds=rng.randint(5, 120)))
        if exchanged:
            statuses.append({"StatusCode": "03", "Timestamp": ts(registered)})
            fields["Statuses"] = list(statuses)
        changes.append((registered, fields))
        assigned = soon_after(rng, registered, 10, 240) if rng.random() < 0.7 else next_office_time(
            rng, at(next_working_day(registered.date()), 0))
        if exchanged:
            statuses.append({"StatusCode": "04", "Timestamp": ts(assigned)})
            changes.append((assigned, {"Statuses": list(statuses)}))
        if base["DocumentType"] in ("CV", "KH", "CT", "QĐ", "TTr") and rng.random() < 0.7:
            due = end_of_day(add_working_days(assigned.date(), rng.choice((3, 5, 7, 10, 15))))
            if exchanged:  # the assignment sets the deadline
                changes[-1] = (assigned, {**changes[-1][1], "HandlingDueDate": ts(due)})
            else:
                changes.append((assigned, {"HandlingDueDate": ts(due)}))
            r = rng.random()
            done = None
            if r < 0.8:
                found = times_between(rng, assigned, due, 2)
                done = found[-1] if found else None
                started = found[0] if len(found) == 2 else None
            elif r < 0.95:
                done = office_time(rng, add_working_days(due.date(), rng.randint(1, 10)))
                started = next_office_time(rng, assigned)
            else:
                started = next_office_time(rng, assigned)
            if exchanged and started is not None and (done is None or started < done):
                statuses.append({"StatusCode": "05", "Timestamp": ts(started)})
                changes.append((started, {"Statuses": list(statuses)}))
            if done is not None:
                fields = {"HandlingDoneAt": ts(done)}
                if exchanged:
                    statuses.append({"StatusCode": "06", "Timestamp": ts(done)})
                    fields["Statuses"] = list(statuses)
                changes.append((done, fields))
        return registered
