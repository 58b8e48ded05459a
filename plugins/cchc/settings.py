"""Configuration, read from the environment (see README, "Configuration").

Every setting has a default that makes the embedded demo work with no configuration at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cchc.paths import state_dir

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceSettings:
    """Where the nightly job reads the province's sources from: export files or the HTTP API."""

    source_dir: Path | None = None
    source_url: str | None = None
    token: str | None = None

    def describe(self) -> str:
        return f"API {self.source_url}" if self.source_url else f"export files {self.source_dir}"

    @classmethod
    def from_env(cls, source_dir: str | None = None, source_url: str | None = None) -> SourceSettings:
        """Explicit arguments win over CCHC_SOURCE_DIR / CCHC_SOURCE_URL; the bearer token is only
        ever read from CCHC_SOURCE_TOKEN (so it never travels through Airflow's XComs)."""
        source_url = source_url or os.environ.get("CCHC_SOURCE_URL") or None
        source_dir = source_dir or (None if source_url else os.environ.get("CCHC_SOURCE_DIR"))
        if source_url and source_dir:
            raise ValueError("give either a source directory or a source URL, not both")
        if not source_url and not source_dir:
            raise ValueError(
                "no source configured: pass --source-dir DIR or --source-url URL "
                "(or set CCHC_SOURCE_DIR / CCHC_SOURCE_URL)"
            )
        return cls(
            source_dir=Path(source_dir).resolve() if source_dir else None,
            source_url=source_url,
            token=os.environ.get("CCHC_SOURCE_TOKEN"),
        )

    def open(self):
        """The extractor for these settings."""
        from cchc.extract import ApiSource, FileSource

        if self.source_url:
            if not self.token:
                raise ValueError("the HTTP source needs a bearer token: set CCHC_SOURCE_TOKEN")
            return ApiSource(self.source_url, self.token)
        return FileSource(self.source_dir)


def env_number(name: str, default, *, low: float | None = None, high: float | None = None, cast=float):
    """A number from the environment variable ``name`` (``default`` when unset or empty), checked
    against [low, high]; a value that is not a number (or not a whole number, ``cast=int``) or out
    of range raises ValueError naming the variable. The one parser of every numeric setting."""
    raw = (os.environ.get(name) or "").strip()
    if not raw:
        return cast(default)
    try:
        float(raw)
    except ValueError:
        expected = " (a whole number is expected)" if cast is int else ""
        raise ValueError(f"{name}={raw!r} is not a number{expected}") from None
    try:
        value = cast(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a whole number") from None
    if (low is not None and value < low) or (high is not None and value > high):
        if high is None:
            raise ValueError(f"{name}={raw!r} must be at least {low:g}")
        raise ValueError(f"{name}={raw!r} must be between {low if low is not None else '-inf':g} and {high:g}")
    return value


@dataclass(frozen=True)
class LedgerSettings:
    """Thresholds of the batch ledger's re-delivery rules (README, "The batch ledger").

    ``max_dropped_share``: a re-delivery of a day that no longer carries more than this share of
    the keys of the version it would replace is held for an operator (CCHC_REDELIVERY_MAX_DROP_SHARE,
    default 0.2). ``run_lock_stale_seconds``: a run whose heartbeat is older than this is considered
    dead, and its lock and running steps are taken over (CCHC_RUN_LOCK_STALE_SECONDS, default 300).
    """

    max_dropped_share: float = 0.2
    run_lock_stale_seconds: float = 300.0

    @classmethod
    def from_env(cls) -> LedgerSettings:
        return cls(
            max_dropped_share=env_number("CCHC_REDELIVERY_MAX_DROP_SHARE", 0.2, low=0.0, high=1.0),
            run_lock_stale_seconds=env_number("CCHC_RUN_LOCK_STALE_SECONDS", 300.0, low=10.0, high=7 * 86400.0),
        )


def pseudonym_key() -> bytes:
    """The key of the keyed hash that replaces personal data at landing.

    CCHC_PSEUDONYM_KEY in production (keep it in a secret store: the same key must be used every
    night, or the same person hashes differently). Without it, a random key is created once in the
    project's state folder (fine for the embedded demo, never for a real province).
    """
    value = os.environ.get("CCHC_PSEUDONYM_KEY")
    if value:
        return value.encode("utf-8")
    if os.environ.get("CCHC_WAREHOUSE_URL"):
        log.warning("CCHC_PSEUDONYM_KEY is not set; using the project-local key file")
    path = state_dir() / "pseudonym.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip().encode("utf-8")


def key_fingerprint(key: bytes) -> str:
    """A short, non-reversible id of the key (for the run log; never log the key)."""
    return hashlib.sha256(b"cchc-key-id:" + key).hexdigest()[:12]


@dataclass(frozen=True)
class LandingParallelism:
    """How landing uses the machine's cores and memory.

    - ``day_workers`` (CCHC_LAND_WORKERS, min(2, CPUs)): processes that land the days of a
      multi-day run (a backfill) in parallel, one day each (:mod:`cchc.land.days`).
    - ``validate_workers`` (CCHC_LAND_VALIDATE_WORKERS, min(2, CPUs)): processes that validate and
      pseudonymise one large delivery while this process writes COPY (:mod:`cchc.land.chunks`);
      1 inside a day worker, whose siblings already use the other cores.
    - ``chunk_rows`` (CCHC_LAND_CHUNK_ROWS, 2000): lines validated and sent to COPY at a time; landing
      holds at most one chunk (serial) or ``2 × validate_workers + 1`` chunks (parallel) in memory.
    """

    day_workers: int
    validate_workers: int
    chunk_rows: int = 2000

    @classmethod
    def from_env(cls) -> LandingParallelism:
        cores = min(2, os.cpu_count() or 1)
        return cls(
            day_workers=env_number("CCHC_LAND_WORKERS", cores, low=1, high=64, cast=int),
            validate_workers=env_number("CCHC_LAND_VALIDATE_WORKERS", cores, low=1, high=64, cast=int),
            chunk_rows=env_number("CCHC_LAND_CHUNK_ROWS", cls.chunk_rows, low=1, high=1_000_000, cast=int),
        )


@dataclass(frozen=True)
class LandingLimits:
    """Limits of the landing validation (:mod:`cchc.land.validate`); a line beyond them is a reject.

    - ``max_line_bytes`` (CCHC_LANDING_MAX_LINE_BYTES, 2 MiB): a longer line (file mode: its bytes;
      API mode: the item as compact JSON) is rejected ``line_too_large`` without being parsed;
      a real dossier is a few KB.
    - ``max_depth`` (CCHC_LANDING_MAX_DEPTH, 32): deeper nesting of arrays/objects is rejected
      ``too_deep`` (the feeds nest 3 levels).
    - ``max_years_back`` (CCHC_LANDING_MAX_YEARS_BACK, 10): in the daily-snapshot feeds, no
      timestamp may lie more than this many years before the snapshot day.
    - ``future_tolerance_minutes`` (CCHC_LANDING_FUTURE_TOLERANCE_MINUTES, 60): no event timestamp
      may lie after the end of the snapshot day plus this (clock skew of the source).
    - ``max_due_years_ahead`` (CCHC_LANDING_MAX_DUE_YEARS_AHEAD, 2): a deadline (NgayHenTra …) may
      lie at most this many years after the snapshot day.
    - ``max_due_days_before_anchor`` (CCHC_LANDING_MAX_DUE_DAYS_BEFORE_ANCHOR, 30): a deadline may
      lie at most this many days before the event it counts from (NgayHenTra before NgayTiepNhan).
    """

    max_line_bytes: int = 2 * 1024 * 1024
    max_depth: int = 32
    max_years_back: int = 10
    future_tolerance_minutes: int = 60
    max_due_years_ahead: int = 2
    max_due_days_before_anchor: int = 30

    @classmethod
    def from_env(cls) -> LandingLimits:
        d = cls()
        return cls(
            max_line_bytes=env_number("CCHC_LANDING_MAX_LINE_BYTES", d.max_line_bytes, low=1, cast=int),
            max_depth=env_number("CCHC_LANDING_MAX_DEPTH", d.max_depth, low=1, cast=int),
            max_years_back=env_number("CCHC_LANDING_MAX_YEARS_BACK", d.max_years_back, low=0, cast=int),
            future_tolerance_minutes=env_number("CCHC_LANDING_FUTURE_TOLERANCE_MINUTES",
                                                d.future_tolerance_minutes, low=0, cast=int),
            max_due_years_ahead=env_number("CCHC_LANDING_MAX_DUE_YEARS_AHEAD", d.max_due_years_ahead,
                                           low=0, cast=int),
            max_due_days_before_anchor=env_number("CCHC_LANDING_MAX_DUE_DAYS_BEFORE_ANCHOR",
                                                  d.max_due_days_before_anchor, low=0, cast=int),
        )


@dataclass(frozen=True)
class ApiSettings:
    """The KPI API (``cchc api``, README "KPI API").

    - ``host`` / ``port`` (CCHC_API_HOST, 127.0.0.1 / CCHC_API_PORT, 8000): where it listens.
    - ``reader_url`` (CCHC_API_READER_URL): the BI login it reads ``kpi`` as (``cchc readers add
      NAME`` prints the URL). Unset: the API creates its own BI login ``login`` (CCHC_API_LOGIN,
      ``cchc_api``), or rotates its password, at every start.
    - ``default_limit`` / ``max_limit`` (CCHC_API_DEFAULT_LIMIT, 1000 / CCHC_API_MAX_LIMIT, 10000):
      rows per page.
    - ``units_ttl_seconds`` (CCHC_API_UNITS_TTL_SECONDS, 60): how long the unit hierarchy that
      scopes tokens is cached.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    reader_url: str | None = None
    login: str = "cchc_api"
    default_limit: int = 1000
    max_limit: int = 10000
    units_ttl_seconds: float = 60.0

    @classmethod
    def from_env(cls) -> ApiSettings:
        d = cls()
        max_limit = env_number("CCHC_API_MAX_LIMIT", d.max_limit, low=1, high=1_000_000, cast=int)
        return cls(
            host=os.environ.get("CCHC_API_HOST") or d.host,
            port=env_number("CCHC_API_PORT", d.port, low=1, high=65535, cast=int),
            reader_url=os.environ.get("CCHC_API_READER_URL") or None,
            login=os.environ.get("CCHC_API_LOGIN") or d.login,
            default_limit=env_number("CCHC_API_DEFAULT_LIMIT", min(d.default_limit, max_limit), low=1,
                                     high=max_limit, cast=int),
            max_limit=max_limit,
            units_ttl_seconds=env_number("CCHC_API_UNITS_TTL_SECONDS", d.units_ttl_seconds, low=0, high=86400),
        )


def bulletin_dir() -> Path:
    """Where ``cchc bulletin`` (and ``make run``) write the bulletin of each publication
    (CCHC_BULLETIN_DIR, default ``$CCHC_HOME/bulletin``)."""
    value = (os.environ.get("CCHC_BULLETIN_DIR") or "").strip()
    return Path(value).expanduser() if value else state_dir() / "bulletin"


def chromium_path() -> str | None:
    """The Chromium that prints the bulletin to PDF and renders it in the tests (CCHC_CHROMIUM;
    default: chromium on PATH)."""
    return (os.environ.get("CCHC_CHROMIUM") or "").strip() or None


# -- the project's other environment variables ---------------------------------------------------
# Every CCHC_* variable is read in this module (tests/test_run_constants.py checks that no other
# module of plugins/cchc or dags/ reads one). The warehouse connection code may still read libpq's
# own PG* variables (PGHOST, PGUSER...): that is its job, not a setting of this project.


def _env_text(name: str) -> str | None:
    """The stripped value of ``name``; None when unset or blank."""
    return (os.environ.get(name) or "").strip() or None


def home_dir() -> str | None:
    """CCHC_HOME: the project's state folder (cchc.paths.state_dir); None: the repository's .cchc."""
    return _env_text("CCHC_HOME")


def warehouse_url_override() -> str | None:
    """CCHC_WAREHOUSE_URL: an external warehouse; None: the embedded PostgreSQL."""
    return _env_text("CCHC_WAREHOUSE_URL")


def embedded_pg_port(default: int) -> int:
    """CCHC_PG_PORT: the embedded PostgreSQL's TCP port (``default`` when unset)."""
    return env_number("CCHC_PG_PORT", default, low=1, high=65535, cast=int)


def embedded_pg_bin() -> str | None:
    """CCHC_PG_BIN: a folder with initdb, pg_ctl and postgres; None: the pgserver wheel's binaries."""
    return _env_text("CCHC_PG_BIN")


def airflow_db_url_override() -> str | None:
    """CCHC_AIRFLOW_DB_URL: Airflow's metadata database; None: database ``airflow`` of the warehouse."""
    return _env_text("CCHC_AIRFLOW_DB_URL")


def airflow_log_level() -> str:
    """CCHC_AIRFLOW_LOG_LEVEL: Airflow's logging level under ``cchc`` (default WARNING)."""
    return _env_text("CCHC_AIRFLOW_LOG_LEVEL") or "WARNING"


def operator_name() -> str:
    """CCHC_OPERATOR: who runs a publish, a rollback or a role change (the run log and the
    publication events name them); default: the OS user."""
    import getpass

    return _env_text("CCHC_OPERATOR") or getpass.getuser()


def schedule_start(default: dt.date) -> dt.date:
    """CCHC_SCHEDULE_START: the first source day the scheduler handles (``default`` when unset)."""
    raw = _env_text("CCHC_SCHEDULE_START")
    try:
        return dt.date.fromisoformat(raw) if raw else default
    except ValueError:
        raise ValueError(f"CCHC_SCHEDULE_START={raw!r} is not a date (YYYY-MM-DD)") from None
