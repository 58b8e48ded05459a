"""The simulator's settings (:class:`SimulatorConfig`) and the feeds it produces."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from cchc_demo.working_days import covered_years

SYSTEMS = ("onestop", "edoc", "reference")


@dataclass(frozen=True)
class FeedInfo:
    system: str
    name: str
    key_fields: tuple[str, ...]
    whole: bool = False  # reference lists: the whole list every day
    blank_key_fields: tuple[str, ...] = ()  # key fields that may be empty (targets' UnitId: the whole level)
    added_later: bool = False  # added to the contract later (issue 7): see SimulatorConfig.added_feeds_from

    @property
    def file_name(self) -> str:
        return f"{self.name}.jsonl.gz"


FEEDS: dict[str, FeedInfo] = {
    f.name: f
    for f in (
        FeedInfo("onestop", "dossiers", ("MaHoSo",)),
        FeedInfo("onestop", "steps", ("MaHoSo", "BuocXuLy")),
        FeedInfo("onestop", "feedback", ("MaPAKN",), added_later=True),
        FeedInfo("onestop", "ratings", ("MaHoSo",), added_later=True),
        FeedInfo("edoc", "documents", ("DocumentId",)),
        FeedInfo("reference", "units", ("UnitId",), whole=True),
        FeedInfo("reference", "procedures", ("MaTTHC",), whole=True),
        FeedInfo("reference", "targets", ("UnitId", "Level", "Year", "IndicatorCode"), whole=True,
                 blank_key_fields=("UnitId",), added_later=True),
    )
}

KEY_SEPARATOR = "|"  # a composite key written as one string: "MaHoSo|BuocXuLy"


def record_key(feed: FeedInfo, record: dict) -> str | None:
    """The record's key as one string; None when a key field is absent or empty."""
    parts = []
    for name in feed.key_fields:
        value = record.get(name)
        if (value is None or value == "") and name in feed.blank_key_fields:
            parts.append("")
            continue
        if value is None or value == "":
            return None
        parts.append(str(value))
    return KEY_SEPARATOR.join(parts)


def feeds_of(system: str) -> list[FeedInfo]:
    return [f for f in FEEDS.values() if f.system == system]


@dataclass(frozen=True)
class SimulatorConfig:
    """What to simulate. The same config always produces byte-identical export files.

    ``start``/``end`` are inclusive local dates; the simulated world is empty before ``start``.
    ``dossiers_per_day`` and ``documents_per_day`` are province totals on a working day (weekends
    and holidays see a few online submissions only). ``bad_rate`` is the share of bad lines in the
    ``dossiers``, ``steps``, ``feedback``, ``ratings`` and ``documents`` files (see
    :mod:`cchc_demo.simulator.corrupt`).
    ``numbering_anomaly_rate`` is, per outgoing document, the chance of a gap and (separately) of a
    duplicate number (see :mod:`cchc_demo.simulator.documents`). ``in_person_cutoff_hour``: a dossier
    received in person at or after this hour counts from the next working day (the warehouse's
    setting is dbt_project/seeds/onestop_office_rules.csv, tested to agree).

    Errors of the one-stop system's staff the due-date audit must find (issue 9; ground truth:
    :func:`cchc_demo.simulator.dossiers.wrong_due_dates`): ``due_later_rate`` of the received dossiers
    get a recorded due date (NgayHenTra, and NgayHenTraTruoc / NgayHenTraMoi) 1 to
    ``due_error_max_working_days`` working days later than the statutory one (hidden lateness),
    ``due_earlier_rate`` 1 or 2 working days earlier; the staff then work to the recorded date.
    ``apology_share``: the share of dossiers finishing late that get an apology
    slip (DanhSachXinLoi); the others are the missing slips.
    """

    start: dt.date = dt.date(2025, 5, 1)
    end: dt.date = dt.date(2025, 6, 30)
    seed: int = 20250501
    dossiers_per_day: int = 200
    documents_per_day: int = 80
    bad_rate: float = 0.0
    systems: tuple[str, ...] = SYSTEMS
    numbering_anomaly_rate: float = 0.004
    in_person_cutoff_hour: int = 15
    due_later_rate: float = 0.03
    due_earlier_rate: float = 0.01
    due_error_max_working_days: int = 5
    apology_share: float = 0.85
    #: the first day whose exports carry the feeds added later (feedback, ratings, targets); None =
    #: every day. Earlier days are written as an older exporter did, without them (their data are
    #: still drawn, so later days are the same whatever this day is)
    added_feeds_from: dt.date | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _as_date(self.start))
        object.__setattr__(self, "end", _as_date(self.end))
        object.__setattr__(self, "systems", tuple(self.systems))
        if self.added_feeds_from is not None:
            object.__setattr__(self, "added_feeds_from", _as_date(self.added_feeds_from))
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        unknown = set(self.systems) - set(SYSTEMS)
        if unknown:
            raise ValueError(f"unknown systems {sorted(unknown)}; known: {', '.join(SYSTEMS)}")
        if not 0.0 <= self.bad_rate < 0.5:
            raise ValueError("bad_rate must be in [0, 0.5)")
        if not 0.0 <= self.numbering_anomaly_rate < 0.5:
            raise ValueError("numbering_anomaly_rate must be in [0, 0.5)")
        if self.dossiers_per_day < 0 or self.documents_per_day < 0:
            raise ValueError("volumes must be >= 0")
        if not 8 <= self.in_person_cutoff_hour <= 17:
            raise ValueError("in_person_cutoff_hour must be within office hours (8..17)")
        if not (0.0 <= self.due_later_rate <= 1.0 and 0.0 <= self.due_earlier_rate <= 1.0
                and self.due_later_rate + self.due_earlier_rate <= 1.0):
            raise ValueError("due_later_rate and due_earlier_rate must be in [0, 1] and sum to at most 1")
        if self.due_error_max_working_days < 1:
            raise ValueError("due_error_max_working_days must be >= 1")
        if not 0.0 <= self.apology_share <= 1.0:
            raise ValueError("apology_share must be in [0, 1]")
        missing = sorted(set(range(self.start.year, self.end.year + 1)) - covered_years())
        if missing:
            raise ValueError(f"the working-day calendar has no notice for {missing}: cannot simulate")

    def days(self) -> list[dt.date]:
        n = (self.end - self.start).days + 1
        return [self.start + dt.timedelta(days=i) for i in range(n)]

    def to_json(self) -> dict:
        out = dataclasses.asdict(self)
        out["start"], out["end"] = self.start.isoformat(), self.end.isoformat()
        out["added_feeds_from"] = self.added_feeds_from.isoformat() if self.added_feeds_from else None
        out["systems"] = list(self.systems)
        return out


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))
