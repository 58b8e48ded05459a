"""The KPI API: read-only HTTP access to the published ``kpi`` schema (README, "KPI API").

Modules, one job each: :mod:`~cchc.api.registry` (the tables served, their grain and filters),
:mod:`~cchc.api.params` (query parameters: parsing, checks, OpenAPI), :mod:`~cchc.api.tokens`
(bearer tokens, hashed in ``ops.api_tokens``), :mod:`~cchc.api.units` (the unit tree that scopes
them), :mod:`~cchc.api.db` (the read-only connections), :mod:`~cchc.api.queries` (the SQL),
:mod:`~cchc.api.pagination` (keyset cursors), :mod:`~cchc.api.render` (JSON and CSV),
:mod:`~cchc.api.app` (the routes) and :mod:`~cchc.api.server` (uvicorn).
"""
