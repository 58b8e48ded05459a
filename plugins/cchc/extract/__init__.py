"""Extraction: read one source day of one feed, from export files or from the HTTP API."""

from cchc.extract.api import ApiSource
from cchc.extract.base import (
    Delivery,
    DeliveryRefused,
    FeedAbsent,
    Refusal,
    Source,
    SourceAuthError,
    SourceError,
    SourceNotFound,
)
from cchc.extract.files import FileSource

__all__ = [
    "ApiSource",
    "Delivery",
    "DeliveryRefused",
    "FeedAbsent",
    "FileSource",
    "Refusal",
    "Source",
    "SourceAuthError",
    "SourceError",
    "SourceNotFound",
]
