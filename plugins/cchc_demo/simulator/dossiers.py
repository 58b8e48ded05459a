"""One-stop dossiers (hồ sơ) and their processing steps: whole lifecycles, emitted as daily snapshots.

Each simulated day creates new dossiers (≈ ``dossiers_per_day`` on a working day, a few online
submissions on other days), each with its whole future life drawn at once from its own random
stream (seeded by the seed and MaHoSo), so a day's files do not depend on the simulated range's end.
What happens after ``end`` is cut off: those dossiers are still open in the last snapshots.

A life: online submission (status 1) then acceptance (2) or refusal (3) at the desk — in person
the submission is the acceptance — then transfer to processing (4); optionally one or two supplement
requests (5; the due date restarts when the supplement arrives: NgayHenTra = NgayHenTraMoi), a
payment wait (6), withdrawal (7) or stop (8), otherwise finishing (9) early, on the due day or late
(late share per competent unit, see :func:`cchc_demo.simulator.province.late_rate`), with an apology slip
for most late ones (``SimulatorConfig.apology_share``; the slip does not move NgayHenTra: it is no
lawful extension), and the return of the result (10).

Wrong due dates (issue 9, the due-date audit): a few dossiers, drawn from their own stream (no
other draw moves), have every recorded due date (NgayHenTra, NgayHenTraTruoc, NgayHenTraMoi) a few
working days later or earlier than the statutory one (``SimulatorConfig.due_later_rate``,
``due_earlier_rate``); the staff then work to the date they recorded (the finish is drawn
around it, an apology slip is issued when that date is missed), so a later date hides lateness.
The ground truth is
:func:`wrong_due_dates` (re-derived from the config, never read by the pipeline).

NgayCapNhat moves only when a field of the dossier changes; purely internal steps (appraisal,
submission to the leader) are in the ``steps`` feed only.

Near the end of the working-day calendar (the last covered year), a life whose next event needs a
date of an uncovered year stops there (:class:`cchc_demo.working_days.CalendarError` is never guessed
around): such a dossier keeps the events before that point, e.g. stays "registered online" when its
due date cannot be computed. ``generate`` logs how many lives were cut.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter

from cchc_demo.working_days import (CalendarError, add_working_days, is_working_day, next_working_day,
                                    working_days_between)
from cchc_demo.simulator import clock, people
from cchc_demo.simulator.clock import (at, due_time, end_of_day, morning, next_office_time, office_time,
                                  office_time_within, soon_after, times_between, ts, working_days_after,
                                  working_days_range)
from cchc_demo.simulator.config import SimulatorConfig
from cchc_demo.simulator.engagement import EngagementSimulator
from cchc_demo.simulator.province import (DIGITISATION, FIELDS, REFORM_DAY, Procedure, Unit, department_for,
                                     late_rate, office, procedures, valid_units)
from cchc_demo.simulator.rand import pick, stream
from cchc_demo.simulator.timeline import DayBuckets, emit_states

CHANNEL_MIX = {"TOAN_TRINH": (("2", 55), ("1", 40), ("3", 5)),
               "MOT_PHAN": (("2", 30), ("1", 64), ("3", 6)),
               "": (("1", 95), ("3", 5))}
RESULT_ONLINE_SHARE = {"TINH": 0.9, "SO": 0.9, "HUYEN": 0.75, "XA": 0.55}
REFUSALS = ("Hồ sơ không thuộc thẩm quyền giải quyết", "Thành phần hồ sơ không đầy đủ theo quy định",
            "Thông tin kê khai không chính xác", "Người nộp không đủ điều kiện thực hiện thủ tục")
SUPPLEMENT_REASONS = ("Bổ sung bản sao giấy tờ chứng minh quyền sở hữu", "Bổ sung tờ khai theo mẫu",
                      "Bổ sung bản vẽ, sơ đồ thửa đất", "Bổ sung xác nhận của cơ quan có thẩm quyền",
                      "Điều chỉnh thông tin kê khai không thống nhất")
DELAY_REASONS = ("Hồ sơ phải lấy ý kiến của cơ quan liên quan", "Phải xác minh thực địa",
                 "Cán bộ xử lý chậm chuyển hồ sơ", "Hệ thống phần mềm gặp sự cố",
                 "Khối lượng hồ sơ tồn đọng lớn")
FINANCIAL_FIELDS = ("DD", "XD")


def due_error(cfg: SimulatorConfig, code: str) -> int:
    """The working days by which dossier ``code``'s recorded due dates are wrong (0: right), from
    its own stream: later (1 .. due_error_max_working_days) with ``due_later_rate``, earlier (-1 or
    -2) with ``due_earlier_rate``."""
    if cfg.due_later_rate <= 0 and cfg.due_earlier_rate <= 0:
        return 0
    rng = stream(cfg.seed, "due-error", code)
    r = rng.random()
    if r < cfg.due_later_rate:
        return rng.randint(1, cfg.due_error_max_working_days)
    if r < cfg.due_later_rate + cfg.due_earlier_rate:
        return -rng.randint(1, 2)
    return 0


def shift_working_days(moment: dt.datetime, n: int) -> dt.datetime:
    """``moment`` moved ``n`` working days (n < 0: back), at the same time of day."""
    day = moment.date()
    if n >= 0:
        day = add_working_days(day, n)
    else:
        for _ in range(-n):
            day -= dt.timedelta(days=1)
            while not is_working_day(day):
                day -= dt.timedelta(days=1)
    return dt.datetime.combine(day, moment.time())


def wrong_due_dates(cfg: SimulatorConfig) -> dict[str, int]:
    """Ground truth of the due-date audit: MaHoSo -> working days by which its recorded due date is
    wrong, for every dossier received (accepted) by ``cfg.end``, re-derived by replaying the
    simulation of ``cfg`` (the export files are not read)."""
    sim = DossierSimulator(cfg)
    for day in cfg.days():
        sim.day(day)
    return dict(sorted(sim.wrong_due.items()))


class DossierSimulator:
    """Creates each day's dossiers and hands out the snapshot lines of each day, in day order."""

    def __init__(self, cfg: SimulatorConfig):
        self.cfg = cfg
        self.dossiers = DayBuckets()
        self.steps = DayBuckets()
        self.created: dict[dt.date, int] = {}
        self.cut_short = 0  # lives cut where the working-day calendar ends (see module doc)
        #: MaHoSo -> working days its recorded due date is wrong by, for the dossiers accepted by
        #: cfg.end (the ground truth of :func:`wrong_due_dates`)
        self.wrong_due: dict[str, int] = {}
        #: feedback and ratings, drawn from each life (own streams: no dossier draw changes)
        self.engagement = EngagementSimulator(cfg)

    def day(self, day: dt.date) -> tuple[list[str], list[str]]:
        """The ``dossiers`` and ``steps`` lines of ``day`` (call for every day, in order)."""
        self._create(day)
        return self.dossiers.pop(day), self.steps.pop(day)

    def engagement_day(self, day: dt.date) -> tuple[list[str], list[str]]:
        """The ``feedback`` and ``ratings`` lines of ``day`` (call after :meth:`day` of the same day)."""
        return self.engagement.day(day)

    # -- creation ---------------------------------------------------------------------------------
    def _create(self, day: dt.date) -> None:
        rng = stream(self.cfg.seed, "onestop", day.isoformat())
        working = is_working_day(day)
        share = rng.uniform(0.85, 1.15) if working else rng.uniform(0.03, 0.07)
        drafts = [self._draft(rng, day, working) for _ in range(round(self.cfg.dossiers_per_day * share))]
        drafts.sort(key=lambda d: (d[0], d[1].unit_id))
        seq: Counter[str] = Counter()
        for created, unit, proc, channel in drafts:
            seq[unit.unit_id] += 1
            code = f"{unit.unit_id}-{day:%y%m%d}-{seq[unit.unit_id]:04d}"
            life = _Life(self.cfg, code, created, unit, proc, channel)
            try:
                life.run()
            except CalendarError:  # the rest of this life lies in a year the calendar does not cover
                self.cut_short += 1
            emit_states(self.dossiers, code, life.base, life.changes, self.cfg.end)
            if life.due_shift and life.accepted_at is not None and life.accepted_at.date() <= self.cfg.end:
                self.wrong_due[code] = life.due_shift
            self.engagement.from_dossier(code, unit, channel, life.changes)
            for step in life.steps:
                moment_day = step.pop("_day")
                if moment_day <= self.cfg.end:
                    self.steps.add(moment_day, (step["NgayCapNhat"], code, step["BuocXuLy"]), step)
        self.created[day] = len(drafts)

    def _draft(self, rng: random.Random, day: dt.date, working: bool):
        levels = (("XA", 45), ("HUYEN", 30), ("TINH", 25)) if day < REFORM_DAY else (("XA", 70), ("TINH", 30))
        level = pick(rng, levels)
        candidates = [p for p in procedures() if p.level == level and p.valid_on(day)
                      and (working or p.online)]
        proc = rng.choices(candidates, [p.weight for p in candidates])[0]
        if level == "TINH":
            unit = department_for(proc.field)
        else:
            pool = valid_units(day, level)
            unit = rng.choices(pool, [_size(u) for u in pool])[0]
        channel = pick(rng, CHANNEL_MIX[proc.online]) if working else "2"
        if channel == "2":
            created = dt.datetime.combine(day, dt.time(6)) + dt.timedelta(seconds=rng.randrange(17 * 3600))
        else:
            created = office_time(rng, day)
            if channel == "1" and rng.random() < 0.03:
                channel = None  # not recorded: counts as in person
        return created, unit, proc, channel


def _size(unit: Unit) -> float:
    """Relative dossier volume of a unit among its level (city wards are busier)."""
    return 1.0 + (sum(map(ord, unit.unit_id)) % 3) * 0.4 + (0.6 if ".11." in unit.unit_id else 0.0)


class _Life:
    """The whole life of one dossier: timed field changes and processing steps."""

    def __init__(self, cfg: SimulatorConfig, code: str, created: dt.datetime, unit: Unit, proc: Procedure,
                 channel: str | None):
        self.cfg, self.code, self.created, self.unit, self.proc, self.channel = cfg, code, created, unit, proc, channel
        self.rng = stream(cfg.seed, code)
        self.changes: list[tuple[dt.datetime, dict]] = []
        self.steps: list[dict] = []
        self.status = ""
        self.now = created  # time of the latest event
        self.step_start = created  # NgayBatDau of the next step
        self.cursor = created  # processing can continue after this time
        self.due = created  # the statutory due time in force (work_due: the one recorded)
        self.due_shift = due_error(cfg, code)  # working days the recorded due dates are wrong by
        self.accepted_at: dt.datetime | None = None
        self.supplements: list[dict] = []
        self.base = self._base()

    @property
    def in_person(self) -> bool:
        return self.channel in ("1", None)

    def _base(self) -> dict:
        rng, proc, unit = self.rng, self.proc, self.unit
        if proc.citizens:
            kind = pick(rng, (("1", 88), ("2", 10), ("4", 2)))
        else:
            kind = pick(rng, (("2", 85), ("3", 10), ("4", 5)))
        applicant = people.citizen(rng) if kind in ("1", "4") else people.business(rng)
        online = self.channel == "2"
        if proc.fee:
            pay = pick(rng, (("1", 55), ("2", 30), ("0", 15)) if online else (("2", 15), ("0", 85)))
            fees = [{"MaPhiLePhi": f"LP.{proc.code}", "TenPhiLePhi": f"Lệ phí {proc.name[0].lower()}{proc.name[1:]}",
                     "Gia": proc.fee, "HinhThucThu": "3" if pay != "0" else pick(rng, (("1", 80), ("2", 20)))}]
        else:
            pay, fees = "0", []
        digitised = 1.0 if online else DIGITISATION[unit.level]
        parts = []
        for i in range(1, rng.randint(2, 5) + 1):
            scanned = rng.random() < digitised
            parts.append({"MaThanhPhanHoSo": f"{proc.code}.TP{i:02d}", "DuocSoHoa": "1" if scanned else "0",
                          "DuocTaiSuDung": "1" if scanned and rng.random() < 0.2 else "0",
                          "DuocLayTuKhoDMQG": "1" if scanned and rng.random() < 0.1 else "0"})
        if online:
            delivery = pick(rng, (("3", 50), ("1", 40), ("2", 10)))
        elif self.channel == "3":
            delivery = pick(rng, (("2", 80), ("1", 20)))
        else:
            delivery = pick(rng, (("1", 85), ("2", 10), ("3", 5)))
        return {
            "MaHoSo": self.code, "MaTTHC": proc.code, "TenTTHC": proc.name, "MaLinhVuc": proc.field,
            "TenLinhVuc": FIELDS[proc.field], "DonViTiepNhan": unit.unit_id, "DonViXuLy": unit.unit_id,
            "KenhThucHien": self.channel, "LoaiDoiTuong": kind, "ChuHoSo": applicant.name,
            "SoGiayToChuHoSo": applicant.id_number, "SoDienThoai": applicant.phone, "Email": applicant.email,
            "TrichYeuHoSo": proc.name, "NgayNopHoSo": "", "NgayTiepNhan": "", "NgayHenTra": "",
            "NgayKetThucXuLy": "", "NgayTra": "", "NgayTuChoi": "", "TrangThaiHoSo": "",
            "HinhThucTra": delivery, "DuocThanhToanTrucTuyen": pay,
            "HoSoCoThanhPhanSoHoa": "1" if any(p["DuocSoHoa"] == "1" for p in parts) else "0",
            "TaiKhoanDuocXacThucVoiVNeID": "1" if rng.random() < (0.85 if online else 0.2) else "0",
            "DanhSachLePhi": fees, "TaiLieuNop": parts, "DanhSachHoSoBoSung": [], "DanhSachXinLoi": [],
            "DanhSachGiayToKetQua": [], "NgayCapNhat": "",
        }

    # -- recording --------------------------------------------------------------------------------
    @property
    def work_due(self) -> dt.datetime:
        """The due time the system records and the staff work to: the statutory one, or a wrong one
        (see module doc)."""
        return shift_working_days(self.due, self.due_shift) if self.due_shift else self.due

    def recorded_due(self) -> str:
        return ts(self.work_due)

    def _clamp(self, moment: dt.datetime) -> dt.datetime:
        """Events are strictly ordered: a time at or before the previous event moves just after it."""
        return moment if moment > self.now else self.now + dt.timedelta(minutes=1)

    def change(self, moment: dt.datetime, **fields) -> dt.datetime:
        """Record changed fields at ``moment`` (already clamped by the caller when fields use it)."""
        moment = self._clamp(moment)
        self.now = moment
        if "TrangThaiHoSo" in fields:
            self.status = fields["TrangThaiHoSo"]
        self.changes.append((moment, fields))
        return moment

    def step(self, moment: dt.datetime, role: str, content: str, days: int = 0) -> None:
        """A processing step at ``moment`` (the time of the change it records, if any)."""
        moment = max(moment, self.now)
        self.now = moment
        name, titles = office(self.unit, role, self.proc.field)
        # a unit's head seldom signs results: deputies sign most of them
        who = self.rng.choice((0, 1, 1, 1, len(titles) - 1)) if role == "leaders" else self.rng.randrange(len(titles))
        official = people.roster(self.cfg.seed, self.unit.unit_id, name, titles)[who]
        start = self.step_start
        statutory_end = end_of_day(working_days_after(start.date(), days))
        if statutory_end <= start:
            statutory_end = end_of_day(add_working_days(start.date(), max(days, 1)))
        self.steps.append({
            "MaHoSo": self.code, "BuocXuLy": len(self.steps) + 1, "PhongBanXuLy": name,
            "NguoiXuLy": official.name, "ChucDanh": official.title, "TrangThai": self.status,
            "ThoiDiemXuLy": ts(moment), "NgayBatDau": ts(start), "NgayKetThucTheoQuyDinh": ts(statutory_end),
            "NoiDungXuLy": content, "NgayCapNhat": ts(moment), "_day": moment.date(),
        })
        self.step_start = moment

    # -- the life ---------------------------------------------------------------------------------
    def run(self) -> None:
        rng, created = self.rng, self.created
        if self.channel == "2":
            self.change(created, TrangThaiHoSo="1", NgayNopHoSo=ts(created))
            accepted = self._acceptance_time()
            day = accepted.date()
            if not (self.unit.valid_on(day) and self.proc.valid_on(day)) or rng.random() < 0.04:
                if not self.unit.valid_on(day):
                    accepted = created + dt.timedelta(minutes=rng.randint(5, 60))
                self._refuse(accepted)
                return
        else:
            accepted = created
            if rng.random() < 0.03:
                self._refuse(accepted, NgayNopHoSo=ts(created))
                return
        self._accept(accepted)
        fate = rng.random()
        if fate < 0.025:
            self._terminal("7", "desk", "Công dân có văn bản đề nghị rút hồ sơ")
            return
        if fate < 0.045:
            self._terminal("8", "leaders", "Dừng xử lý hồ sơ do không đủ điều kiện giải quyết")
            return
        chance = 0.2 if self.proc.field in FINANCIAL_FIELDS else 0.08
        for n in (1, 2):
            if rng.random() >= (chance if n == 1 else 0.2):
                break
            if not self._supplement(n):
                return
        self._process()

    def _acceptance_time(self) -> dt.datetime:
        rng, created = self.rng, self.created
        day = created.date()
        if not is_working_day(day) and created.hour < 12 and rng.random() < 0.3:  # officer on weekend duty
            return created + dt.timedelta(minutes=rng.randint(10, 240))
        if is_working_day(day) and created.hour < 15 and rng.random() < 0.5:
            moment = office_time(rng, day, created)
            if moment is not None:
                return moment
        nxt = next_working_day(day)
        if rng.random() < 0.15:
            nxt = next_working_day(nxt)
        return office_time(rng, nxt)

    def _refuse(self, moment: dt.datetime, **fields) -> None:
        moment = self._clamp(moment)
        self.change(moment, TrangThaiHoSo="3", NgayTuChoi=ts(moment), **fields)
        self.step(moment, "desk", "Từ chối tiếp nhận hồ sơ: " + self.rng.choice(REFUSALS))

    def _accept(self, moment: dt.datetime) -> None:
        rng, proc = self.rng, self.proc
        moment = self._clamp(moment)
        self.due = due_time(proc.limit, proc.limit_unit, moment, self.in_person, self.cfg.in_person_cutoff_hour)
        self.accepted_at = moment
        recorded = self.recorded_due()
        fields = {"TrangThaiHoSo": "2", "NgayTiepNhan": ts(moment), "NgayHenTra": recorded}
        if self.channel != "2":
            fields["NgayNopHoSo"] = ts(moment)
        self.change(moment, **fields)
        self.step(moment, "desk", f"Tiếp nhận hồ sơ, hẹn trả kết quả {clock.parse_ts(recorded):%H:%M ngày %d/%m/%Y}")
        if proc.limit_unit == "GIO":  # same-day services go straight to the official
            transfer = soon_after(rng, moment, 2, 20)
        elif moment.hour >= self.cfg.in_person_cutoff_hour or rng.random() < 0.12:
            transfer = morning(rng, next_working_day(moment.date()))
        else:
            transfer = soon_after(rng, moment, 5, 90)
        transfer = self.change(transfer, TrangThaiHoSo="4")
        target, _ = office(self.unit, "processing", proc.field)
        self.step(transfer, "desk", f"Chuyển hồ sơ đến {target}", days=1)
        self.cursor = transfer

    def _terminal(self, status: str, role: str, content: str) -> None:
        last = self.due.date() + dt.timedelta(days=self.rng.randint(-3, 3))
        moment = office_time_within(self.rng, self.cursor, last) or next_office_time(self.rng, self.cursor)
        moment = self._clamp(moment)
        self.change(moment, TrangThaiHoSo=status, NgayKetThucXuLy=ts(moment))
        self.step(moment, role, content)

    def _supplement(self, n: int) -> bool:
        """A supplement request; False when the applicant never supplements (the life ends)."""
        rng, proc = self.rng, self.proc
        asked = office_time_within(rng, self.cursor, max(self.due.date(), self.cursor.date()))
        asked = self._clamp(asked or next_office_time(rng, self.cursor))
        entry = {"HoSoBoSungId": f"{self.code}-BS{n}", "NgayYeuCauBoSung": ts(asked), "NgayTiepNhanBoSung": "",
                 "NgayHenTraTruoc": self.recorded_due(), "NgayHenTraMoi": ""}
        self.supplements.append(entry)
        self.change(asked, TrangThaiHoSo="5", DanhSachHoSoBoSung=[dict(e) for e in self.supplements])
        self.step(asked, "processing", "Yêu cầu bổ sung hồ sơ: " + rng.choice(SUPPLEMENT_REASONS))
        if rng.random() < 0.12:  # never comes back; often stopped after a while
            if rng.random() < 0.6:
                stop = next_office_time(rng, asked + dt.timedelta(days=rng.randint(15, 30)))
                self.change(stop, TrangThaiHoSo="8", NgayKetThucXuLy=ts(stop))
                self.step(stop, "leaders", "Dừng xử lý do công dân không bổ sung hồ sơ theo yêu cầu")
            return False
        wait = dt.timedelta(days=rng.choice((0, 1, 1, 2, 2, 3, 4, 5, 7, 10)))
        back = self._clamp(next_office_time(rng, asked + wait))
        self.due = due_time(proc.limit, proc.limit_unit, back, self.in_person, self.cfg.in_person_cutoff_hour)
        entry.update(NgayTiepNhanBoSung=ts(back), NgayHenTraMoi=self.recorded_due())
        self.change(back, TrangThaiHoSo="4", NgayHenTra=self.recorded_due(),
                    DanhSachHoSoBoSung=[dict(e) for e in self.supplements])
        self.step(back, "desk", "Tiếp nhận hồ sơ bổ sung", days=1)
        self.cursor = back
        return True

    def _finish_time(self) -> dt.datetime:
        rng, due, cursor = self.rng, self.work_due, self.cursor
        p_late = late_rate(self.unit.unit_id)
        r = rng.random()
        outcome = "late" if r < p_late else ("on_time" if r < p_late + (1 - p_late) * 0.3 else "early")
        if outcome == "early":
            days = working_days_range(cursor.date(), due.date() - dt.timedelta(days=1))
            if days:
                moment = office_time(rng, rng.choice(days[len(days) // 3:]), cursor)
                if moment is not None:
                    return moment
        if outcome in ("early", "on_time"):
            if cursor < due:
                found = times_between(rng, max(cursor, at(due.date(), 7, 30)), due, 1)
                if found:
                    return found[0]
            return next_office_time(rng, cursor)  # no time left before the due time: as soon as possible
        if self.proc.limit_unit == "GIO":
            day = add_working_days(max(due.date(), cursor.date()), rng.choice((0, 1, 1, 2)))
        else:
            days_late = rng.choice((1, 1, 1, 1, 2, 2, 2, 3, 3, 4, 5, 6, 8, 10, 15))
            day = add_working_days(max(due.date(), cursor.date()), days_late)
        return office_time(rng, day, max(cursor, due)) or next_office_time(rng, max(cursor, due))

    def _process(self) -> None:
        rng, proc = self.rng, self.proc
        finish = self._finish_time()
        pay = proc.fee > 0 and proc.field in FINANCIAL_FIELDS and rng.random() < 0.5
        kinds = ["review", "pay_request", "paid", "submit"] if pay else ["review", "submit"]
        moments = times_between(rng, self.cursor, finish, len(kinds))
        if len(moments) < len(kinds):
            kinds = ["review", "submit"][: len(moments)]
        events = list(zip(moments, kinds, strict=False))  # fewer moments: the last kinds drop
        if finish > self.work_due and rng.random() < self.cfg.apology_share:
            lo = max(self.cursor, self.work_due - dt.timedelta(days=2))
            found = times_between(rng, lo, finish, 1)
            if found and found[0] not in moments:
                events.append((found[0], "apology"))
        for moment, kind in sorted(events):
            self._internal(moment, kind, finish)
        results = []
        if rng.random() < RESULT_ONLINE_SHARE[self.unit.level]:
            results = [{"MaGiayToKetQua": f"KQ.{self.code}.{i}",
                        "DuongDanTepTinKetQua": f"https://dichvucong.sonha.gov.vn/ketqua/{self.code}/KQ{i}.pdf"}
                       for i in range(1, rng.choice((1, 1, 1, 2)) + 1)]
        finish = self._clamp(finish)
        self.change(finish, TrangThaiHoSo="9", NgayKetThucXuLy=ts(finish), DanhSachGiayToKetQua=results)
        self.step(finish, "leaders", "Phê duyệt kết quả giải quyết hồ sơ")
        if rng.random() < 0.1:
            return  # the result has not been collected
        if self.base["HinhThucTra"] == "3" or rng.random() < 0.4:
            returned = soon_after(rng, finish, 5, 120)
        else:
            later = add_working_days(finish.date(), rng.choice((1, 1, 2, 3, 5)))
            returned = office_time(rng, later) or morning(rng, later)
        returned = self._clamp(returned)
        self.change(returned, TrangThaiHoSo="10", NgayTra=ts(returned))
        self.step(returned, "desk", "Trả kết quả giải quyết hồ sơ cho tổ chức, cá nhân")

    def _internal(self, moment: dt.datetime, kind: str, finish: dt.datetime) -> None:
        rng = self.rng
        moment = self._clamp(moment)
        if kind == "review":
            self.step(moment, "processing", "Thẩm định hồ sơ, đề xuất phương án giải quyết",
                      days=max(1, self.proc.limit // 2) if self.proc.limit_unit != "GIO" else 0)
        elif kind == "submit":
            self.step(moment, "processing", "Trình lãnh đạo ký duyệt kết quả", days=1)
        elif kind == "pay_request":
            moment = self.change(moment, TrangThaiHoSo="6")
            self.step(moment, "processing", "Thông báo thực hiện nghĩa vụ tài chính")
        elif kind == "paid":
            moment = self.change(moment, TrangThaiHoSo="4")
            self.step(moment, "desk", "Xác nhận tổ chức, cá nhân đã hoàn thành nghĩa vụ tài chính", days=1)
        elif kind == "apology":
            late_days = working_days_between(self.work_due.date(), finish.date())
            promised = end_of_day(add_working_days(self.work_due.date(), late_days + rng.choice((0, 0, 1, 2))))
            moment = self._clamp(moment)
            slip = {"NgayXinLoi": ts(moment), "NgayHenTraMoi": ts(promised), "LyDo": rng.choice(DELAY_REASONS)}
            self.change(moment, DanhSachXinLoi=[slip])
            self.step(moment, "leaders", f"Ban hành phiếu xin lỗi và hẹn lại ngày trả kết quả {promised:%d/%m/%Y}")
