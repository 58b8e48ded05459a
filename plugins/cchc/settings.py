"""Configuration, read from the environment (see README, "Configuration").

Every setting has a default that makes the embedded demo work with no configuration at all.
"""

from __future__ import annotations

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
    def from_env(cls, source_dir: str | None = None, source_url: str | None = None) -> "SourceSettings":
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
