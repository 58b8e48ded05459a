"""The raw landing layer: one append-only table per source feed, the batch log and the rejects."""

from cchc.raw.schema import FEEDS, Feed, ensure_raw_schema, raw_table

__all__ = ["FEEDS", "Feed", "ensure_raw_schema", "raw_table"]
