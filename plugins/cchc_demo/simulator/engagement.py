"""Citizens' feedback (PAKN, incl. hotline 1022) and satisfaction votes, consistent with the dossiers.

:class:`EngagementSimulator` is fed every dossier life as it is simulated (:meth:`from_dossier`) and
creates, each day, feedback that concerns no dossier (:meth:`general`). Every dossier draws from its
own streams (``stream(seed, "feedback", MaHoSo)``, ``stream(seed, "rating", MaHoSo)``), so adding
these feeds changed no dossier, and a day's files do not depend on the range's end.

- **ratings** (``MucDo`` 1 very satisfied, 2 satisfied, 3 not satisfied): on a share of the dossiers
  whose processing finished (status 9; online applicants vote more often, late dossiers less
  happily), cast after the result was handed over (or after the finish when it was not collected);
  about 6 % vote again a few days later, and the later vote replaces the first (same key MaHoSo).
- **feedback** about a dossier (``MaPAKN`` = ``PAKN-<MaHoSo>``, at most one per dossier): late
  dossiers and refusals draw more; category TTHC or CANBO (an official's conduct); channels 1022
  (any hour), portal, desk, e-mail, phone; deadline ``HanXuLy`` = 10 working days after reception;
  most answered in time, some late, some never (``NgayXuLy`` empty); a verdict (``KetQua``
  HAI_LONG / KHONG_HAI_LONG) after most answers, "" otherwise. The unit is the dossier's competent
  unit, or its successor when it no longer exists on the day the feedback arrives.
- **general feedback** (``PAKN-<yyMMdd>-<NNNN>``, no MaHoSo): a few a day about a unit valid that day,
  categories TTHC, CANBO, KHAC.

Neither feed carries applicant data (sources.md has no such field), and no free text.
"""

from __future__ import annotations

import datetime as dt
import random

from cchc_demo.simulator.clock import at, end_of_day, next_office_time, office_time, ts
from cchc_demo.simulator.config import SimulatorConfig
from cchc_demo.simulator.province import Unit, units_by_id, valid_units
from cchc_demo.simulator.rand import pick, stream
from cchc_demo.simulator.timeline import DayBuckets, emit_states
from cchc_demo.working_days import CalendarError, add_working_days, is_working_day, next_working_day

FEEDBACK_CHANNELS = (("1022", 30), ("portal", 30), ("desk", 15), ("phone", 15), ("email", 10))
ONLINE_CHANNELS = frozenset({"1022", "portal", "email"})  # received at any hour (desk, phone: office hours)
HANDLING_WORKING_DAYS = 10  # HanXuLy: the answer is due 10 working days after reception
RATING_SHARE_ONLINE, RATING_SHARE_OTHER = 0.45, 0.15
REVOTE_SHARE = 0.06
RATING_MIX = {"late": (("1", 12), ("2", 33), ("3", 55)), "on_time": (("1", 55), ("2", 38), ("3", 7))}
FEEDBACK_SHARE = {"late": 0.15, "refused": 0.06, "other": 0.02}
GENERAL_PER_100_DOSSIERS = 1.5  # general feedback a working day, per 100 dossiers of the day's volume


def _parse(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y%m%d%H%M%S")


def _facts(changes: list[tuple[dt.datetime, dict]]) -> dict:
    """What a dossier life tells feedback and ratings: first times of each status, the last due time."""
    facts: dict = {"status": {}, "due": None}
    for moment, fields in changes:
        status = fields.get("TrangThaiHoSo")
        if status and status not in facts["status"]:
            facts["status"][status] = moment
        if fields.get("NgayHenTra"):
            facts["due"] = _parse(fields["NgayHenTra"])
    return facts


def _any_time(rng: random.Random, day: dt.date, after: dt.datetime | None, lo_hour: int, hi_hour: int) -> dt.datetime:
    """A time on ``day`` between lo_hour and hi_hour (strictly after ``after`` when it is that day)."""
    start = at(day, lo_hour)
    if after is not None and after.date() == day and after >= start:
        start = after + dt.timedelta(minutes=1)
    end = at(day, hi_hour)
    if start >= end:
        return start  # late in the evening: a minute after
    return start + dt.timedelta(seconds=rng.randrange(int((end - start).total_seconds())))


class EngagementSimulator:
    """Feedback and ratings: fed dossier lives, handed out as daily snapshot lines in day order."""

    def __init__(self, cfg: SimulatorConfig):
        self.cfg = cfg
        self.feedback = DayBuckets()
        self.ratings = DayBuckets()
        self.cut_short = 0  # feedback lives cut where the working-day calendar ends

    def day(self, day: dt.date) -> tuple[list[str], list[str]]:
        """The ``feedback`` and ``ratings`` lines of ``day`` (after the dossiers of ``day`` were fed)."""
        self.general(day)
        return self.feedback.pop(day), self.ratings.pop(day)

    # -- from a dossier's life ------------------------------------------------------------------
    def from_dossier(self, code: str, unit: Unit, channel: str | None, changes: list[tuple[dt.datetime, dict]]) -> None:
        facts = _facts(changes)
        try:
            self._rating(code, channel, facts)
            self._dossier_feedback(code, unit, facts)
        except CalendarError:
            self.cut_short += 1

    def _rating(self, code: str, channel: str | None, facts: dict) -> None:
        finished = facts["status"].get("9")
        if finished is None:
            return
        rng = stream(self.cfg.seed, "rating", code)
        if rng.random() >= (RATING_SHARE_ONLINE if channel == "2" else RATING_SHARE_OTHER):
            return
        late = facts["due"] is not None and finished > facts["due"]
        after = facts["status"].get("10") or finished
        voted = after + dt.timedelta(minutes=rng.randint(5, 60 * 24 * rng.choice((1, 1, 2, 5))))
        if voted.hour < 6:  # applicants vote in the day and evening
            voted = voted.replace(hour=6 + rng.randrange(4))
        level = pick(rng, RATING_MIX["late" if late else "on_time"])
        changes = [(voted, {"MucDo": level, "NgayDanhGia": ts(voted)})]
        if rng.random() < REVOTE_SHARE:
            again = voted + dt.timedelta(days=rng.randint(1, 10), minutes=rng.randint(0, 600))
            other = rng.choice([c for c in ("1", "2", "3") if c != level])
            changes.append((again, {"MucDo": other, "NgayDanhGia": ts(again)}))
        base = {"MaHoSo": code, "MucDo": "", "NgayDanhGia": "", "NgayCapNhat": ""}
        emit_states(self.ratings, code, base, changes, self.cfg.end)

    def _dossier_feedback(self, code: str, unit: Unit, facts: dict) -> None:
        status = facts["status"]
        finished, due = status.get("9"), facts["due"]
        late = finished is not None and due is not None and finished > due
        refused = status.get("3")
        kind = "late" if late else ("refused" if refused else "other")
        rng = stream(self.cfg.seed, "feedback", code)
        if rng.random() >= FEEDBACK_SHARE[kind]:
            return
        if kind == "late":
            lo = due
        elif kind == "refused":
            lo = refused
        else:
            lo = status.get("2") or min(status.values())
        after = lo + dt.timedelta(hours=rng.randint(1, 24 * 7))
        category = pick(rng, (("TTHC", 75), ("CANBO", 25)))
        channel = pick(rng, FEEDBACK_CHANNELS)
        if channel in ONLINE_CHANNELS:  # hotline and online: any hour
            received = _any_time(rng, after.date(), after, 7, 22)
        else:
            received = next_office_time(rng, after)
        self._feedback(rng, f"PAKN-{code}", code, unit, category, channel, received)

    # -- general feedback -----------------------------------------------------------------------
    def general(self, day: dt.date) -> None:
        rng = stream(self.cfg.seed, "feedback", day.isoformat())
        working = is_working_day(day)
        expected = self.cfg.dossiers_per_day / 100 * GENERAL_PER_100_DOSSIERS * (1.0 if working else 0.3)
        tries = int(expected * 2) + 1
        n = sum(1 for _ in range(tries) if rng.random() < expected / tries)
        pool = valid_units(day)
        for i in range(1, n + 1):
            unit = rng.choice(pool)
            category = pick(rng, (("TTHC", 30), ("CANBO", 30), ("KHAC", 40)))
            channel = pick(rng, FEEDBACK_CHANNELS)
            if channel in ONLINE_CHANNELS or not working:
                channel = channel if channel in ONLINE_CHANNELS else "1022"
                received = _any_time(rng, day, None, 7, 22)
            else:
                received = office_time(rng, day)
            try:
                self._feedback(rng, f"PAKN-{day:%y%m%d}-{i:04d}", "", unit, category, channel, received)
            except CalendarError:
                self.cut_short += 1

    # -- one feedback's life --------------------------------------------------------------------
    def _feedback(self, rng: random.Random, key: str, dossier: str, unit: Unit, category: str, channel: str,
                  received: dt.datetime) -> None:
        received_day = received.date()
        if not unit.valid_on(received_day) and unit.successor_id:  # a merged unit: its successor answers
            unit = units_by_id()[unit.successor_id]
        due = end_of_day(add_working_days(received_day if is_working_day(received_day)
                                          else next_working_day(received_day), HANDLING_WORKING_DAYS))
        base = {"MaPAKN": key, "Kenh": channel, "MaHoSo": dossier, "DonViXuLy": unit.unit_id,
                "PhanLoai": category, "NgayTiepNhan": ts(received), "HanXuLy": ts(due), "NgayXuLy": "",
                "KetQua": "", "NgayCapNhat": ""}
        changes: list[tuple[dt.datetime, dict]] = [(received, {})]
        fate = rng.random()
        if fate < 0.12:  # never answered
            emit_states(self.feedback, key, base, changes, self.cfg.end)
            return
        if fate < 0.25:  # answered late
            answer_day = add_working_days(due.date(), rng.randint(1, 8))
            handled = office_time(rng, answer_day) or next_office_time(rng, end_of_day(answer_day))
        else:
            days = rng.randint(0, HANDLING_WORKING_DAYS - 1)
            answer_day = add_working_days(received_day if is_working_day(received_day)
                                          else next_working_day(received_day), days)
            handled = office_time(rng, answer_day, received) or next_office_time(rng, max(received, at(answer_day, 7)))
            if handled > due:
                handled = due - dt.timedelta(minutes=rng.randint(1, 120))
            if handled <= received:
                handled = received + dt.timedelta(minutes=rng.randint(10, 120))
        changes.append((handled, {"NgayXuLy": ts(handled)}))
        if rng.random() < 0.7:
            in_time = handled <= due
            verdict = pick(rng, (("HAI_LONG", 75), ("KHONG_HAI_LONG", 25)) if in_time else
                           (("HAI_LONG", 40), ("KHONG_HAI_LONG", 60)))
            judged = handled + dt.timedelta(hours=rng.randint(2, 24 * 5))
            changes.append((judged, {"KetQua": verdict}))
        emit_states(self.feedback, key, base, changes, self.cfg.end)
