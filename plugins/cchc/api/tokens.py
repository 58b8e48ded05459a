"""Bearer tokens of the KPI API: issued by a command, stored hashed, scoped to a unit subtree.

A token is ``cchc_<token_id>_<secret>``; only its SHA-256 is stored (``ops.api_tokens``, outside
``kpi``, so no BI login can read it), never the token itself: it is shown once, when issued. A token
sees its scope unit and every unit under it (the province's token sees every row); a revoked token
is refused at once. Issuing and revoking run as the pipeline role (``cchc api-tokens ...``); the API
only reads the table, in read-only transactions.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
import datetime as dt

import psycopg

log = logging.getLogger(__name__)

TABLE = "ops.api_tokens"
PREFIX = "cchc_"
_TOKEN = re.compile(r"^cchc_[0-9a-f]{12}_[A-Za-z0-9_-]{20,100}$")

DDL = f"""
create schema if not exists ops;
create table if not exists {TABLE} (
    token_id       text primary key,
    token_sha256   text not null unique,
    scope_unit_id  text not null,
    label          text not null,
    created_at     timestamptz not null default now(),
    created_by     text,
    revoked_at     timestamptz,
    revoked_by     text
);
comment on table {TABLE} is 'KPI API bearer tokens: SHA-256 of the token only (cchc api-tokens issue|list|revoke)';
"""


class TokenError(ValueError):
    """A token cannot be issued or revoked as asked (the message says why)."""


@dataclass(frozen=True)
class TokenInfo:
    token_id: str
    scope_unit_id: str
    label: str
    created_at: dt.datetime | None = None
    created_by: str | None = None
    revoked_at: dt.datetime | None = None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def ensure_tokens_table(conn: psycopg.Connection) -> None:
    """``ops.api_tokens`` exists (idempotent; serialised against concurrent callers)."""
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext('cchc.api_tokens.ddl'))")
        conn.execute(DDL)


def issue_token(conn: psycopg.Connection, *, scope_unit_id: str, label: str, by: str | None = None
                ) -> tuple[str, TokenInfo]:
    """A new token for ``scope_unit_id`` (a unit of the hierarchy); returns (the token, shown only
    now, and its stored record). Raises :class:`TokenError` for an unknown unit or an empty label."""
    from cchc.api.units import SOURCE, load_units

    label = (label or "").strip()
    if not label:
        raise TokenError("a token needs a label saying who uses it (--label TEXT)")
    units = load_units(conn)
    if scope_unit_id not in units.parent:
        raise TokenError(f"unknown unit {scope_unit_id!r}: not in the unit hierarchy ({SOURCE}); "
                         f"the province is {units.root!r}")
    ensure_tokens_table(conn)
    token_id = secrets.token_hex(6)
    token = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    with conn.transaction():
        row = conn.execute(
            f"insert into {TABLE} (token_id, token_sha256, scope_unit_id, label, created_by) "
            "values (%s, %s, %s, %s, %s) returning created_at",
            (token_id, token_hash(token), scope_unit_id, label, by)).fetchone()
    log.info("issued API token %s (%s) for unit %s", token_id, label, scope_unit_id)
    return token, TokenInfo(token_id, scope_unit_id, label, row[0], by)


def list_tokens(conn: psycopg.Connection) -> list[TokenInfo]:
    ensure_tokens_table(conn)
    rows = conn.execute(f"select token_id, scope_unit_id, label, created_at, created_by, revoked_at "
                        f"from {TABLE} order by created_at, token_id").fetchall()
    return [TokenInfo(*r) for r in rows]


def revoke_token(conn: psycopg.Connection, token_id: str, *, by: str | None = None) -> TokenInfo:
    """Revoke a token by its id (the middle part of the token, shown by ``list``); idempotent.
    Raises :class:`TokenError` for an unknown id."""
    ensure_tokens_table(conn)
    with conn.transaction():
        row = conn.execute(
            f"update {TABLE} set revoked_at = coalesce(revoked_at, now()), "
            "revoked_by = coalesce(revoked_by, %s) where token_id = %s "
            "returning token_id, scope_unit_id, label, created_at, created_by, revoked_at",
            (by, token_id)).fetchone()
    if row is None:
        raise TokenError(f"no API token {token_id!r} (cchc api-tokens list shows them)")
    log.info("revoked API token %s", token_id)
    return TokenInfo(*row)


def authenticate(conn: psycopg.Connection, token: str) -> TokenInfo | None:
    """The token's record when ``token`` is a valid, unrevoked token, else None. Reads only."""
    if not _TOKEN.match(token or ""):
        return None
    try:
        row = conn.execute(f"select token_id, scope_unit_id, label, created_at, created_by, revoked_at "
                           f"from {TABLE} where token_sha256 = %s", (token_hash(token),)).fetchone()
    except psycopg.errors.UndefinedTable:  # no token was ever issued
        return None
    if row is None or row[5] is not None:
        return None
    return TokenInfo(*row)
