"""``cchc api``: the KPI API under uvicorn."""

from __future__ import annotations

import logging

from cchc.settings import ApiSettings

log = logging.getLogger(__name__)


def serve(host: str | None = None, port: int | None = None, *, warehouse: str | None = None) -> None:
    """Serve the KPI API until interrupted (one process: its BI login's password lives in it)."""
    import uvicorn

    from cchc.api.app import create_app
    from cchc.api.db import Database
    from cchc.warehouse import redact_url, warehouse_url

    settings = ApiSettings.from_env()
    warehouse = warehouse or warehouse_url()
    db = Database.open(warehouse, reader=settings.reader_url, login=settings.login)
    app = create_app(db, settings)
    host, port = host or settings.host, port or settings.port
    log.info("KPI API on http://%s:%s (OpenAPI at /openapi.json, docs at /docs), warehouse %s",
             host, port, redact_url(warehouse))
    try:
        uvicorn.run(app, host=host, port=port, log_level="info", access_log=True, workers=1)
    finally:
        db.close()
