"""What every landed feed promises: keys, timestamps, codes, date order, references, personal data.

The allowed codes are read from the dbt seeds (``dbt_project/seeds``), which are the single place
where the domain's code lists live; this module only says which field uses which list. The
landing validator (:mod:`cchc.land.validate`) applies these declarations; nothing else in Python
should repeat them.

Code lists come from three seeds:

- ``dossier_statuses.csv`` → list ``dossier_status`` (column ``status_code``)
- ``dossier_channels.csv`` → list ``dossier_channel`` (column ``channel_code``)
- ``source_code_lists.csv`` → one list per value of ``code_list`` (column ``code``)

Conventions shared by every rule below (see shared spec ``sources.md``):

- a timestamp is ``yyyyMMddHHmmss`` local time; an empty string or null means "not set";
- every timestamp is an *event* (it has happened by the end of the snapshot day) unless a
  :class:`DeadlineRule` declares it a *deadline* (it may lie ahead); the plausibility window of
  both is defined once, in :class:`cchc.land.validate.TimestampWindow`, from
  :class:`cchc.settings.LandingLimits`;
- a code is a string; a code field that is not *required* may be null or empty (not set);
- nested fields are written ``List[].Field`` and apply to every object of the list.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from cchc.paths import SEEDS_DIR
from cchc.raw.schema import FEEDS, Feed

UPDATED_FIELD = "NgayCapNhat"  # last-modified timestamp every record carries
KEY_SEPARATOR = "|"  # record_key of a composite key: the key fields' values joined with this


@dataclass(frozen=True)
class CodeRule:
    """``field`` must hold a code of ``code_list``."""

    field: str
    code_list: str
    required: bool = False  # when False, null / "" mean "not set" and are allowed


@dataclass(frozen=True)
class DateOrderRule:
    """The set timestamps among ``fields`` must not decrease in the order given.

    ``when`` restricts the rule to records whose field has the given value, e.g.
    ``("Direction", "OUT")``.
    """

    fields: tuple[str, ...]
    when: tuple[str, str] | None = None


@dataclass(frozen=True)
class ReferenceRule:
    """``field`` must name a record of the reference feed ``reference`` (units, procedures)."""

    field: str
    reference: str
    required: bool = True  # when True an empty value is an unknown reference too


@dataclass(frozen=True)
class DeadlineRule:
    """Timestamps among ``fields`` are deadlines counted from the event ``anchor`` (a top-level field).

    A deadline may lie after the snapshot day (at most ``LandingLimits.max_due_years_ahead`` years),
    and at most ``LandingLimits.max_due_days_before_anchor`` days before its anchor when that is set.
    """

    fields: tuple[str, ...]
    anchor: str | None = None


@dataclass(frozen=True)
class MatchRule:
    """``field``, when set, must equal ``attribute`` of the ``reference`` record named by ``via``.

    E.g. a dossier's MaLinhVuc must be the MaLinhVuc of its procedure (MaTTHC) in the procedures list
    of the day: a field code is never taken from a dossier alone. When ``via`` itself names no known
    record, the ReferenceRule on ``via`` reports it and this rule is not checked.
    """

    field: str
    via: str
    reference: str
    attribute: str


@dataclass(frozen=True)
class NumberRule:
    """``field`` must hold a number: a JSON number (not a boolean) or a string of a plain decimal
    (``"0.5"``, ``"2025"``); ``integer`` asks for a whole number (a JSON integer or a string of
    digits); ``minimum``/``maximum`` bound it (inclusive). Null / "" mean "not set", allowed unless
    ``required``."""

    field: str
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False
    required: bool = False


@dataclass(frozen=True)
class PersonalField:
    """Personal data replaced by a keyed hash at landing; ``kind`` selects the normalisation."""

    field: str
    kind: str = "text"  # text: NFC + strip · email: also lower-cased · phone: digits only


@dataclass(frozen=True)
class FeedContract:
    feed: Feed
    timestamp_fields: tuple[str, ...] = ()
    code_fields: tuple[CodeRule, ...] = ()
    date_order: tuple[DateOrderRule, ...] = ()
    references: tuple[ReferenceRule, ...] = ()
    personal_fields: tuple[PersonalField, ...] = field(default=())
    deadlines: tuple[DeadlineRule, ...] = ()
    matches: tuple[MatchRule, ...] = ()
    numbers: tuple[NumberRule, ...] = ()
    #: top-level timestamps that must be set (an unset one is a ``bad_timestamp``)
    required_timestamps: tuple[str, ...] = ()

    def __post_init__(self):
        stray = {f for r in self.deadlines for f in r.fields} - set(self.timestamp_fields)
        if stray:
            raise ValueError(f"{self.feed.name}: deadlines {sorted(stray)} are not declared timestamps")
        stray = set(self.required_timestamps) - set(self.timestamp_fields)
        if stray:
            raise ValueError(f"{self.feed.name}: required timestamps {sorted(stray)} are not declared timestamps")
        stray = set(self.feed.blank_key_fields) - set(self.feed.key_fields)
        if stray:
            raise ValueError(f"{self.feed.name}: blank key fields {sorted(stray)} are not key fields")

    @property
    def deadline_anchors(self) -> dict[str, str | None]:
        """{timestamp field: its anchor} for every deadline field."""
        return {f: r.anchor for r in self.deadlines for f in r.fields}

    @property
    def key_fields(self) -> tuple[str, ...]:
        return self.feed.key_fields

    @property
    def snapshot(self) -> bool:
        """Daily snapshot feeds carry only records modified on the day; reference lists are whole."""
        return not self.feed.whole

    def allowed_codes(self, rule: CodeRule) -> frozenset[str]:
        return code_sets()[rule.code_list]


APPLICANT_PERSONAL_DATA = (
    PersonalField("ChuHoSo", "text"),
    PersonalField("SoGiayToChuHoSo", "text"),
    PersonalField("SoDienThoai", "phone"),
    PersonalField("Email", "email"),
)

_FEEDS = {f.name: f for f in FEEDS}

CONTRACTS: dict[str, FeedContract] = {
    "units": FeedContract(
        _FEEDS["units"],
        timestamp_fields=(UPDATED_FIELD,),
        code_fields=(CodeRule("Level", "unit_level", required=True),),
    ),
    "procedures": FeedContract(
        _FEEDS["procedures"],
        timestamp_fields=(UPDATED_FIELD,),
        code_fields=(
            CodeRule("DonViTinh", "time_limit_unit"),
            CodeRule("MucDoDVC", "online_service_level"),  # "" = not offered online
        ),
    ),
    "dossiers": FeedContract(
        _FEEDS["dossiers"],
        timestamp_fields=(
            "NgayNopHoSo", "NgayTiepNhan", "NgayHenTra", "NgayKetThucXuLy", "NgayTra", "NgayTuChoi",
            UPDATED_FIELD,
            "DanhSachHoSoBoSung[].NgayYeuCauBoSung", "DanhSachHoSoBoSung[].NgayTiepNhanBoSung",
            "DanhSachHoSoBoSung[].NgayHenTraTruoc", "DanhSachHoSoBoSung[].NgayHenTraMoi",
            "DanhSachXinLoi[].NgayXinLoi", "DanhSachXinLoi[].NgayHenTraMoi",
        ),
        code_fields=(
            CodeRule("TrangThaiHoSo", "dossier_status", required=True),
            CodeRule("KenhThucHien", "dossier_channel"),  # null counts as in person
            CodeRule("LoaiDoiTuong", "applicant_type"),
            CodeRule("HinhThucTra", "result_delivery"),
            CodeRule("DuocThanhToanTrucTuyen", "online_payment"),
            CodeRule("HoSoCoThanhPhanSoHoa", "flag"),
            CodeRule("TaiKhoanDuocXacThucVoiVNeID", "flag"),
        ),
        # submitted ≤ accepted ≤ first terminal event ≤ result handed over (each when set)
        date_order=(DateOrderRule(("NgayNopHoSo", "NgayTiepNhan", "NgayKetThucXuLy", "NgayTra")),),
        references=(
            ReferenceRule("DonViTiepNhan", "units"),
            ReferenceRule("DonViXuLy", "units"),
            ReferenceRule("MaTTHC", "procedures"),
        ),
        personal_fields=APPLICANT_PERSONAL_DATA,
        # the due date in force and the due dates of supplements and apology slips count from reception
        deadlines=(DeadlineRule(("NgayHenTra", "DanhSachHoSoBoSung[].NgayHenTraTruoc",
                                 "DanhSachHoSoBoSung[].NgayHenTraMoi", "DanhSachXinLoi[].NgayHenTraMoi"),
                                anchor="NgayTiepNhan"),),
        # the field of a dossier is its procedure's field
        matches=(MatchRule("MaLinhVuc", via="MaTTHC", reference="procedures", attribute="MaLinhVuc"),),
    ),
    "steps": FeedContract(
        _FEEDS["steps"],
        timestamp_fields=("ThoiDiemXuLy", "NgayBatDau", "NgayKetThucTheoQuyDinh", UPDATED_FIELD),
        code_fields=(CodeRule("TrangThai", "dossier_status"),),
        date_order=(DateOrderRule(("NgayBatDau", "ThoiDiemXuLy")),),  # a step starts before it is done
        deadlines=(DeadlineRule(("NgayKetThucTheoQuyDinh",), anchor="NgayBatDau"),),
    ),
    # Citizen feedback and complaints (PAKN, hotline 1022). No applicant data (sources.md: no name, ID,
    # phone or e-mail field, and no free text); any personal key delivered anyway is hashed at any
    # depth by the validator like in every feed. MaHoSo (may be empty) is not checked against the
    # dossiers: the dossier may lie outside the days landed (older than the warehouse, or not yet
    # delivered); staging keeps it as delivered. The unit must be known, like a dossier's.
    "feedback": FeedContract(
        _FEEDS["feedback"],
        timestamp_fields=("NgayTiepNhan", "HanXuLy", "NgayXuLy", UPDATED_FIELD),
        required_timestamps=("NgayTiepNhan",),
        code_fields=(
            CodeRule("Kenh", "feedback_channel", required=True),
            CodeRule("PhanLoai", "feedback_category", required=True),
            CodeRule("KetQua", "feedback_verdict"),  # "" = the applicant gave no verdict (yet)
        ),
        date_order=(DateOrderRule(("NgayTiepNhan", "NgayXuLy")),),  # handled after it was received
        references=(ReferenceRule("DonViXuLy", "units"),),
        deadlines=(DeadlineRule(("HanXuLy",), anchor="NgayTiepNhan"),),
    ),
    # Satisfaction votes, one per dossier (key MaHoSo; a later vote replaces the earlier one in the
    # state, the latest source day winning). A vote for a dossier not (yet) landed is kept, not
    # rejected: the dossier may be older than the warehouse or arrive in a later delivery; the
    # indicators count only votes whose dossier they know.
    "ratings": FeedContract(
        _FEEDS["ratings"],
        timestamp_fields=("NgayDanhGia", UPDATED_FIELD),
        required_timestamps=("NgayDanhGia",),
        code_fields=(CodeRule("MucDo", "rating_level", required=True),),
        date_order=(DateOrderRule(("NgayDanhGia", UPDATED_FIELD)),),  # voted before last modified
    ),
    "documents": FeedContract(
        _FEEDS["documents"],
        timestamp_fields=(
            "PromulgationDate", "RegisteredAt", "DispatchedAt", "AcknowledgedAt", "HandlingDueDate",
            "HandlingDoneAt", UPDATED_FIELD, "Signatures[].SignedAt", "Statuses[].Timestamp",
        ),
        code_fields=(
            CodeRule("Direction", "document_direction", required=True),
            CodeRule("Channel", "document_channel"),
            CodeRule("SignerCompetence", "signer_competence"),  # "" = signs as the head
            CodeRule("Signatures[].Kind", "signature_kind"),
            CodeRule("Statuses[].StatusCode", "edxml_status"),
        ),
        date_order=(DateOrderRule(("RegisteredAt", "DispatchedAt"), when=("Direction", "OUT")),),
        references=(ReferenceRule("OrganId", "units"),),
        deadlines=(DeadlineRule(("HandlingDueDate",), anchor="RegisteredAt"),),
    ),
    # Targets per unit (UnitId) or per level (UnitId empty: every unit of the level), year and
    # indicator; TargetValue a share 0..1 (0.5 = "over 50 %"). A unit-specific row must name a unit of
    # the units list whose Level is the row's Level. IndicatorCode is not checked at landing: the
    # indicator catalogue (dbt) decides which codes it reads; a row of an unknown code is never used.
    "targets": FeedContract(
        _FEEDS["targets"],
        timestamp_fields=(UPDATED_FIELD,),
        code_fields=(CodeRule("Level", "unit_level", required=True),),
        references=(ReferenceRule("UnitId", "units", required=False),),
        matches=(MatchRule("Level", via="UnitId", reference="units", attribute="Level"),),
        numbers=(NumberRule("Year", minimum=2000, maximum=2100, integer=True, required=True),
                 NumberRule("TargetValue", minimum=0, maximum=1, required=True)),
    ),
}


def reference_attributes(reference: str) -> tuple[str, ...]:
    """Attributes of the reference feed ``reference`` that some contract's MatchRule compares with."""
    return tuple(sorted({m.attribute for c in CONTRACTS.values() for m in c.matches if m.reference == reference}))


def contract_for(feed: Feed | str) -> FeedContract:
    name = feed if isinstance(feed, str) else feed.name
    try:
        return CONTRACTS[name]
    except KeyError:
        raise KeyError(f"no contract for feed {name!r}; known: {', '.join(CONTRACTS)}") from None


def feed_named(name: str) -> Feed:
    try:
        return _FEEDS[name]
    except KeyError:
        raise KeyError(f"unknown feed {name!r}; known: {', '.join(_FEEDS)}") from None


def load_code_sets(seeds_dir: Path = SEEDS_DIR) -> dict[str, frozenset[str]]:
    """Every code list of the seeds, by list name."""
    lists: dict[str, set[str]] = {}

    def read(name: str) -> list[dict[str, str]]:
        with open(seeds_dir / name, newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))

    lists["dossier_status"] = {r["status_code"] for r in read("dossier_statuses.csv")}
    lists["dossier_channel"] = {r["channel_code"] for r in read("dossier_channels.csv")}
    for r in read("source_code_lists.csv"):
        lists.setdefault(r["code_list"], set()).add(r["code"])
    return {k: frozenset(v) for k, v in lists.items()}


@lru_cache(maxsize=1)
def code_sets() -> dict[str, frozenset[str]]:
    sets = load_code_sets()
    missing = {r.code_list for c in CONTRACTS.values() for r in c.code_fields} - sets.keys()
    if missing:
        raise RuntimeError(f"code lists {sorted(missing)} are declared in contracts but absent from the seeds")
    return sets
