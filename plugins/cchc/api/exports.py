"""``/exports/<name>``: the official report files (:mod:`cchc.reports.exports`) over the API.

``report`` (Mẫu 06, ``kpi.tthc_report``), ``late-units`` (``kpi.late_accountability``) and
``esignature`` (``kpi.esignature_usage``), as XLSX (default) or CSV (UTF-8 with BOM, for Excel),
for one published period. The files are made by the reports package from the same read-only
snapshot as every other answer. A file covers either the whole province (the province's token,
without ``unit``) or one unit's rows (``unit``, inside the token's scope; a unit-scoped token
without ``unit`` gets its own unit's file).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response

from cchc.api.errors import ApiError
from cchc.api.params import _BOOLS, _date_value, _text_value
from cchc.api.registry import PERIOD_TYPES
from cchc.api.tokens import TokenInfo


@dataclass(frozen=True)
class Helpers:
    """What the export routes share with :func:`cchc.api.app.create_app`."""

    db: object
    token: Callable
    scope_unit: Callable[[TokenInfo, str | None], str | None]  # the unit of the file, checked (403/404)
    current: Callable
    etag_of: Callable
    not_modified: Callable
    meta_headers: Callable


def _parameters(name: str) -> list[dict]:
    date = {"type": "string", "format": "date"}
    out = [
        {"name": "period_type", "in": "query", "required": True, "description": "Period type of the file.",
         "schema": {"type": "string", "enum": ["month"] if name == "late-units" else list(PERIOD_TYPES)}},
        {"name": "period", "in": "query", "required": True,
         "description": "First day of the published period (YYYY-MM-DD).", "schema": date},
        {"name": "unit", "in": "query", "required": False,
         "description": "Only this unit's rows (inside the token's scope). Default: the whole province for "
                        "the province's token, the token's unit otherwise.", "schema": {"type": "string"}},
        {"name": "format", "in": "query", "required": False, "description": "xlsx (default) or csv.",
         "schema": {"type": "string", "enum": ["xlsx", "csv"], "default": "xlsx"}},
    ]
    if name == "report":
        out.insert(3, {"name": "by_field", "in": "query", "required": False,
                       "description": "One row per unit and field (default false: per unit).",
                       "schema": {"type": "boolean", "default": False}})
    return out


def add_routes(app: FastAPI, h: Helpers) -> None:
    from cchc.reports import exports
    from cchc.reports.layouts import LAYOUTS

    for name, layout in LAYOUTS.items():
        app.add_api_route(f"/exports/{name}", _route(name, layout, h, exports), methods=["GET"],
                          tags=["exports"], response_class=Response,
                          summary=f"The {name} file of a published period ({layout.relation}), XLSX or CSV.",
                          responses={200: {"content": {exports.CONTENT_TYPES["xlsx"]: {}, "text/csv": {}},
                                           "description": "The file (Content-Disposition: attachment)."},
                                     304: {"description": "Not modified (same publication)."},
                                     400: {"description": "A bad parameter or an unpublished period."},
                                     401: {"description": "No valid token."},
                                     403: {"description": "A unit outside the token's scope."}},
                          openapi_extra={"parameters": _parameters(name)})


def _route(name: str, layout, h: Helpers, exports) -> Callable:
    allowed = [p["name"] for p in _parameters(name)]

    def endpoint(request: Request, info: TokenInfo = Depends(h.token)) -> Response:
        values: dict[str, str] = {}
        for key, value in request.query_params.multi_items():
            if key not in allowed:
                raise ApiError(400, f"unknown parameter {key!r}; /exports/{name} accepts: {', '.join(allowed)}")
            if key in values:
                raise ApiError(400, f"parameter {key!r} is given more than once")
            values[key] = value
        for key in ("period_type", "period"):
            if key not in values:
                raise ApiError(400, f"parameter {key!r} is required")
        period_type = values["period_type"]
        if period_type not in PERIOD_TYPES:
            raise ApiError(400, f"parameter 'period_type': unknown period type {period_type!r}; "
                                f"one of {', '.join(PERIOD_TYPES)}")
        period: dt.date = _date_value("period", values["period"])
        fmt = values.get("format", "xlsx")
        if fmt not in exports.FORMATS:
            raise ApiError(400, f"parameter 'format': {fmt!r} is not one of {', '.join(exports.FORMATS)}")
        by_field = False
        if "by_field" in values:
            by_field = _BOOLS.get(values["by_field"].strip().lower())
            if by_field is None:
                raise ApiError(400, f"parameter 'by_field': {values['by_field']!r} is not true or false")
        unit = h.scope_unit(info, _text_value("unit", values["unit"]) if "unit" in values else None)
        views = tuple(dict.fromkeys(("publications", layout.relation.split(".", 1)[1], "dossier_facts_daily")))
        with h.db.snapshot(views) as conn:
            pub = h.current(conn)
            etag = h.etag_of(pub["publication_id"], "export", name, period_type, period, unit, by_field, fmt)
            headers = h.meta_headers(pub, etag, fmt)
            if h.not_modified(request, etag):
                return Response(status_code=304, headers=headers)
            try:
                data = exports.export(conn, name, fmt, period_type, period, unit_id=unit, by_field=by_field)
            except exports.ReportError as exc:
                raise ApiError(400, str(exc)) from None
        filename = re.sub(r"[^\w.-]", "_",
                          f"{name}_{period_type}_{period.isoformat()}{'_' + unit if unit else ''}.{fmt}")
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        return Response(data, media_type=exports.CONTENT_TYPES[fmt], headers=headers)

    endpoint.__name__ = f"export_{name.replace('-', '_')}"
    return endpoint
