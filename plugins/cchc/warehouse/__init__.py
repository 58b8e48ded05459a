"""The warehouse connection: an external PostgreSQL (CCHC_WAREHOUSE_URL) or the embedded one."""

from cchc.warehouse.connection import (
    WarehouseError,
    admin_url,
    connect,
    create_database,
    drop_database,
    is_embedded,
    libpq_url,
    redact_url,
    sqlalchemy_url,
    url_parts,
    warehouse_url,
    with_database,
)

__all__ = [
    "WarehouseError",
    "admin_url",
    "connect",
    "create_database",
    "drop_database",
    "is_embedded",
    "libpq_url",
    "redact_url",
    "sqlalchemy_url",
    "url_parts",
    "warehouse_url",
    "with_database",
]
