"""The one error of the KPI API: an HTTP status and a message for the client (never a traceback)."""

from __future__ import annotations


class ApiError(Exception):
    """Answered as ``{"detail": message}`` with ``status`` (and ``headers``)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}
