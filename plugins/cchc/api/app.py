"""The KPI API's routes: read-only answers from the current publication in ``kpi``.

One route per registry table (:mod:`cchc.api.registry`) plus the publication list and the current
publication. Every answer names its ``publication_id`` and ``as_of_date`` (JSON body and the
``X-Publication-Id`` / ``X-As-Of-Date`` headers) and carries an ``ETag`` made of the publication id,
the query and the token's scope: ``If-None-Match`` with it answers 304 until the next publication
(or rollback). Bad parameters get a 4xx with a message; a token's scope is its unit's subtree.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import threading
import time
from collections.abc import Callable
from urllib.parse import urlencode

import psycopg
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cchc.api import render
from cchc.api.db import Database
from cchc.api.errors import ApiError
from cchc.api.pagination import CursorError, encode_cursor
from cchc.api.params import Query, parameters, parse
from cchc.api.queries import current_publication, fetch_page
from cchc.api.registry import PUBLICATIONS, TABLES, Table
from cchc.api.tokens import TokenInfo, authenticate
from cchc.api.units import UnitsUnavailable, UnitTree, load_units
from cchc.settings import ApiSettings

log = logging.getLogger(__name__)

JSON = "application/json"
CSV = "text/csv; charset=utf-8"
ERRORS = {
    304: {"description": "Not modified: the If-None-Match ETag is still the answer (same publication)."},
    400: {"description": "A bad parameter (the message names it and what it accepts), or a malformed cursor."},
    401: {"description": "No bearer token, or an unknown or revoked one."},
    403: {"description": "The unit asked for is outside the token's scope."},
    404: {"description": "An unknown unit (province tokens), or a table the current publication lacks."},
    409: {"description": "The cursor belongs to an earlier publication: start again without 'after'."},
    503: {"description": "Nothing published yet, or the warehouse is unavailable."},
}


class _UnitCache:
    """The unit hierarchy, reloaded at most every ``ttl`` seconds."""

    def __init__(self, db: Database, ttl: float):
        self.db, self.ttl = db, ttl
        self._tree: UnitTree | None = None
        self._at = 0.0
        self._lock = threading.Lock()

    def get(self) -> UnitTree:
        with self._lock:
            if self._tree is None or time.monotonic() - self._at > self.ttl:
                with self.db.ops.connection() as conn:
                    self._tree = load_units(conn)
                self._at = time.monotonic()
            return self._tree


def create_app(db: Database, settings: ApiSettings | None = None) -> FastAPI:
    """The FastAPI application over ``db`` (see :class:`cchc.api.db.Database`)."""
    settings = settings or ApiSettings.from_env()
    units = _UnitCache(db, settings.units_ttl_seconds)
    bearer = HTTPBearer(auto_error=False,
                        description="A token from `cchc api-tokens issue` (scoped to a unit subtree).")
    app = FastAPI(
        title="cchc KPI API",
        version="1",
        description="Read-only access to the published KPIs (schema `kpi`, ../shared/spec/published.md) "
                    "of the current publication. Every answer names its `publication_id` and `as_of_date`. "
                    "Rows come in the grain's order, paginated by an opaque `after` cursor (`next_cursor`); "
                    "`format=csv` or `Accept: text/csv` for CSV.")
    app.state.db = db

    def token(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> TokenInfo:
        challenge = {"WWW-Authenticate": 'Bearer realm="cchc-kpi"'}
        if creds is None:
            raise ApiError(401, "a bearer token is required (Authorization: Bearer <token>; "
                                "cchc api-tokens issue makes one)", challenge)
        with db.ops.connection() as conn:
            info = authenticate(conn, creds.credentials)
        if info is None:
            raise ApiError(401, "the bearer token is unknown or revoked", challenge)
        return info

    def scope_of(info: TokenInfo, q: Query | None) -> tuple[frozenset[str] | None, str]:
        """(the units the answer may show, None for all; a scope key for the ETag)."""
        tree = units.get()
        mine = None if tree.is_root(info.scope_unit_id) else tree.subtree(info.scope_unit_id)
        if q is None or not q.table.unit or q.unit is None:
            return mine, info.scope_unit_id
        if mine is not None and q.unit not in mine:
            # the same answer for a unit that does not exist: no leak of what lies outside the scope
            raise ApiError(403, f"unit {q.unit!r} is outside this token's scope (unit "
                                f"{info.scope_unit_id} and the units under it)")
        if q.unit not in tree:
            raise ApiError(404, f"unknown unit {q.unit!r}")
        chosen = tree.subtree(q.unit) if q.include_subtree else frozenset({q.unit})
        return (chosen if mine is None else chosen & mine), info.scope_unit_id

    def etag_of(publication_id: int, *parts) -> str:
        digest = hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()[:20]
        return f'"{publication_id}-{digest}"'

    def not_modified(request: Request, etag: str) -> bool:
        header = request.headers.get("if-none-match")
        if not header:
            return False
        tags = {t.strip().removeprefix("W/") for t in header.split(",")}
        return "*" in tags or etag in tags

    def meta_headers(pub: dict, etag: str, fmt: str) -> dict[str, str]:
        return {"X-Publication-Id": str(pub["publication_id"]), "X-As-Of-Date": pub["as_of_date"].isoformat(),
                "ETag": etag, "Cache-Control": "private, no-cache", "Vary": "Authorization, Accept"}

    def serve_table(table: Table, request: Request, info: TokenInfo) -> Response:
        q = parse(table, request.query_params.multi_items(), accept=request.headers.get("accept"),
                  max_limit=settings.max_limit, default_limit=settings.default_limit)
        allowed, scope_key = scope_of(info, q)
        with db.snapshot(tuple(dict.fromkeys(("publications", table.name)))) as conn:
            pub = _current(conn)
            etag = etag_of(pub["publication_id"], q.normalized(), scope_key)
            headers = meta_headers(pub, etag, q.format)
            if not_modified(request, etag):
                return Response(status_code=304, headers=headers)
            try:
                page = fetch_page(conn, q, units=allowed, publication_id=pub["publication_id"])
            except CursorError as exc:
                raise ApiError(exc.status, str(exc)) from None
        cursor = encode_cursor(table.name, pub["publication_id"], page.last_key) if page.last_key else None
        if cursor:
            headers["X-Next-Cursor"] = cursor
            items = [(k, v) for k, v in request.query_params.multi_items() if k != "after"] + [("after", cursor)]
            headers["Link"] = f'<{request.url.path}?{urlencode(items)}>; rel="next"'
        log.info("%s %s: %d rows (publication %s, scope %s)", table.path, request.url.query,
                 len(page.rows), pub["publication_id"], info.scope_unit_id)
        if q.format == "csv":
            return Response(render.csv_text(page.columns, page.rows), media_type=CSV, headers=headers)
        meta = {"publication_id": pub["publication_id"], "as_of_date": pub["as_of_date"].isoformat(),
                "table": table.name, "grain": list(table.grain), "scope_unit_id": info.scope_unit_id,
                "count": len(page.rows), "limit": q.limit, "next_cursor": cursor}
        return Response(render.json_document(meta, page.columns, page.rows), media_type=JSON, headers=headers)

    def table_route(table: Table) -> Callable:
        def endpoint(request: Request, info: TokenInfo = Depends(token)) -> Response:
            return serve_table(table, request, info)

        endpoint.__name__ = f"read_{table.name}"
        return endpoint

    def responses_of(table: Table) -> dict:
        return {200: {"description": f"A page of kpi.{table.name} (grain {', '.join(table.grain)}).",
                      "content": {JSON: {"schema": {"type": "object"}}, "text/csv": {"schema": {"type": "string"}}},
                      "headers": {"X-Publication-Id": {"schema": {"type": "integer"}},
                                  "X-As-Of-Date": {"schema": {"type": "string", "format": "date"}},
                                  "ETag": {"schema": {"type": "string"}},
                                  "X-Next-Cursor": {"schema": {"type": "string"}}}},
                **ERRORS}

    def add(table: Table, tag: str) -> None:
        app.add_api_route(
            table.path, table_route(table), methods=["GET"], summary=table.summary, tags=[tag],
            response_class=Response, responses=responses_of(table),
            openapi_extra={"parameters": parameters(table, max_limit=settings.max_limit,
                                                    default_limit=settings.default_limit)})

    add(PUBLICATIONS, "publications")

    @app.get("/publications/current", tags=["publications"], response_class=Response,
             summary="The publication the kpi tables show now.", responses=ERRORS)
    def read_current(request: Request, info: TokenInfo = Depends(token)) -> Response:
        if request.query_params:
            raise ApiError(400, f"/publications/current takes no parameters (got {', '.join(request.query_params)})")
        with db.snapshot(("publications",)) as conn, conn.cursor() as cur:
            cur.execute("select * from kpi.publications where is_current")
            row, columns = cur.fetchone(), [d.name for d in cur.description]
        if row is None:
            raise ApiError(503, "nothing has been published yet")
        pub = dict(zip(columns, row, strict=True))
        etag = etag_of(pub["publication_id"], "current")
        headers = meta_headers(pub, etag, "json")
        if not_modified(request, etag):
            return Response(status_code=304, headers=headers)
        meta = {"publication_id": pub["publication_id"], "as_of_date": pub["as_of_date"].isoformat()}
        return Response(render.json_object(meta, "publication", columns, row), media_type=JSON, headers=headers)

    for table in TABLES:
        add(table, "kpi")

    def export_unit(info: TokenInfo, unit: str | None) -> str | None:
        """The one unit a report file covers (None: the whole province), checked against the scope."""
        tree = units.get()
        if unit is None:
            return None if tree.is_root(info.scope_unit_id) else info.scope_unit_id
        if not tree.is_root(info.scope_unit_id) and unit not in tree.subtree(info.scope_unit_id):
            raise ApiError(403, f"unit {unit!r} is outside this token's scope (unit "
                                f"{info.scope_unit_id} and the units under it)")
        if unit not in tree:
            raise ApiError(404, f"unknown unit {unit!r}")
        return unit

    if importlib.util.find_spec("cchc.reports.exports") is not None:  # the report files exist
        from cchc.api import exports

        exports.add_routes(app, exports.Helpers(db, token, export_unit, _current, etag_of, not_modified,
                                                meta_headers))

    @app.get("/health", tags=["service"], summary="The API is up and can read kpi (no token needed).")
    def health() -> JSONResponse:
        with db.kpi.connection() as conn:
            published = conn.execute("select to_regclass('kpi.publications')").fetchone()[0] is not None
            pub = current_publication(conn) if published else None
        return JSONResponse({"status": "ok", "publication_id": pub["publication_id"] if pub else None})

    @app.exception_handler(ApiError)
    def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": "bad request: " + "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors())}, status_code=400)

    @app.exception_handler(psycopg.OperationalError)
    def _db_down(request: Request, exc: psycopg.OperationalError) -> JSONResponse:
        log.warning("warehouse unavailable: %s", str(exc).strip().splitlines()[0] if str(exc).strip() else exc)
        return JSONResponse({"detail": "the warehouse is unavailable; try again later"}, status_code=503)

    @app.exception_handler(UnitsUnavailable)
    def _no_units(request: Request, exc: UnitsUnavailable) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    return app


def _current(conn: psycopg.Connection) -> dict:
    pub = current_publication(conn)
    if pub is None:
        raise ApiError(503, "nothing has been published yet")
    return pub
