"""The warehouse connection: an external PostgreSQL (CCHC_WAREHOUSE_URL) or the embedded one."""

from cchc.warehouse.connection import (
    WarehouseError,
    connect,
    create_database,
    drop_database,
    libpq_url,
    sqlalchemy_url,
    warehouse_url,
    with_database,
)

__all__ = [
    "WarehouseError",
    "connect",
    "create_database",
    "drop_database",
    "libpq_url",
    "sqlalchemy_url",
    "warehouse_url",
    "with_database",
]
