"""Builders shared by the hand-worked scenario tests (test_dbt_report, test_indicators_build,
test_lateness_scenarios, test_due_date_scenarios, test_reorganisation_scenarios,
test_report_subtree_weeks, ...): source timestamps, reference records, landing a batch straight
into ``raw`` (as the loader writes it), building the warehouse once per module, and reading it.

The records each scenario lands (its dossiers, steps, procedures) stay in its own module: they
are the scenario. What is here is the same in every one of them.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from cchc.contracts import feed_named
from cchc.raw.schema import FEEDS, ensure_partitions, ensure_raw_schema
from cchc.transform.dbt_runner import build, dbt_work_dir

#: the key fields of every feed, as the loader computes record_key
KEYS = {(f.system, f.name): f.key_fields for f in FEEDS}


# -- source values ---------------------------------------------------------------------------------
def source_ts(text: str | None, *, year: int | None = None) -> str:
    """A readable local time as the sources write it: '2024-03-04 09:00' (or with seconds) ->
    '20240304090000'; with ``year``, '03-04 09:00' is read in that year. '' and None give ''."""
    if not text:
        return ""
    return local_time(text, year=year).strftime("%Y%m%d%H%M%S")


def local_time(text: str, *, year: int | None = None) -> dt.datetime:
    """'2024-03-04 09:00[:ss]' (or '03-04 09:00' with ``year``) as a naive local datetime."""
    if year is not None:
        text = f"{year}-{text}"
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S" if text.count(":") == 2 else "%Y-%m-%d %H:%M")


def day_of(source_timestamp: str) -> str:
    """The day 'YYYY-MM-DD' of a source timestamp 'yyyyMMddHHmmss'."""
    return f"{source_timestamp[0:4]}-{source_timestamp[4:6]}-{source_timestamp[6:8]}"


def unit(unit_id: str, name: str, level: str, parent: str = "", *, valid_from: str = "20200101000000",
         valid_to: str = "", successor: str = "", updated: str | None = None) -> dict:
    """A record of the reference list ``units``; ``updated``: its NgayCapNhat (absent when None)."""
    rec = {"UnitId": unit_id, "Name": name, "Level": level, "ParentId": parent,
           "ValidFrom": valid_from, "ValidTo": valid_to, "SuccessorId": successor}
    if updated is not None:
        rec["NgayCapNhat"] = updated
    return rec


# -- landing ---------------------------------------------------------------------------------------
def land_batch(conn: psycopg.Connection, system: str, feed: str, day: str | dt.date, records: list[dict], *,
               run_id: str, status: str = "landed") -> int:
    """One delivered batch: a raw.load_batches row and its records (as the loader writes them);
    returns its batch_id."""
    day = str(day)
    batch_id = conn.execute(
        "insert into raw.load_batches (system, feed, source_day, delivery, source_uri, lines_read,"
        " rows_landed, status, run_id, finished_at) values (%s, %s, %s, 'file', %s, %s, %s, %s, %s, now())"
        " returning batch_id",
        (system, feed, day, f"test://{system}/{day}/{feed}", len(records), len(records), status, run_id),
    ).fetchone()[0]
    ensure_partitions(conn, feed_named(feed), [dt.date.fromisoformat(day)])
    for line_no, rec in enumerate(records, start=1):
        key = "|".join(str(rec[k]) for k in KEYS[(system, feed)])
        conn.execute(
            f"insert into raw.{system}__{feed} (batch_id, source_day, line_no, record_key, updated_at_src,"
            " payload) values (%s, %s, %s, %s, %s, %s)",
            (batch_id, day, line_no, key, rec.get("NgayCapNhat", ""), Jsonb(rec)),
        )
    return batch_id


def by_update_day(records: Iterable[dict]) -> list[tuple[str, list[dict]]]:
    """The records grouped by the day of their NgayCapNhat, in day order (each record is delivered
    on the day it last changed)."""
    days: dict[str, list[dict]] = {}
    for rec in records:
        days.setdefault(day_of(rec["NgayCapNhat"]), []).append(rec)
    return sorted(days.items())


def land_by_update_day(conn: psycopg.Connection, system: str, feed: str, records: Iterable[dict], *,
                       run_id: str) -> None:
    """One batch per day of the records' NgayCapNhat (:func:`by_update_day`)."""
    for day, recs in by_update_day(records):
        land_batch(conn, system, feed, day, recs, run_id=run_id)


# -- building and reading --------------------------------------------------------------------------
def built_scenario(url: str, land_scenario: Callable[[psycopg.Connection], None], as_of: str, *,
                   publication_id: int, run_id: str) -> Iterator:
    """The body of a scenario module's ``built`` fixture: land the scenario into an empty
    warehouse, build it (dbt), yield the build's result, then drop the dbt work folder."""
    with psycopg.connect(url) as conn:
        ensure_raw_schema(conn)
        land_scenario(conn)
    try:
        yield build(url, as_of, publication_id=publication_id, run_id=run_id)
    finally:
        shutil.rmtree(dbt_work_dir(url), ignore_errors=True)


@dataclass(frozen=True)
class Verdicts:
    """A dossier's verdicts under both lateness rules, as int_dossier_lateness gives them."""

    periodic: str
    periodic_reason: str
    rule_766: str
    reason_766: str
    periodic_days_late: int | None = None
    days_late_766: int | None = None
    # int_open_dossier_lateness at as_of_date: (periodic, reason, 766, reason); None = not open then
    at_as_of: tuple[str, str, str, str] | None = None


def lateness_verdicts(url: str) -> tuple[dict[str, Verdicts], dict[str, str]]:
    """Every dossier's :class:`Verdicts` (int_dossier_lateness, and int_open_dossier_lateness for
    the dossiers open at as_of_date), and the unit each is judged under."""
    rows = query(url, """
        select l.dossier_id, l.unit_id, l.periodic_classification, l.periodic_reason_code,
               l.classification_766, l.reason_code_766, l.periodic_working_days_late, l.working_days_late_766,
               o.dossier_id is not null as is_open, o.periodic_classification as open_periodic,
               o.periodic_reason_code as open_periodic_reason, o.classification_766 as open_766,
               o.reason_code_766 as open_reason_766
        from int.int_dossier_lateness l
        left join int.int_open_dossier_lateness o on o.dossier_id = l.dossier_id""")
    verdicts = {r["dossier_id"]: Verdicts(
        r["periodic_classification"], r["periodic_reason_code"], r["classification_766"], r["reason_code_766"],
        r["periodic_working_days_late"], r["working_days_late_766"],
        (r["open_periodic"], r["open_periodic_reason"], r["open_766"], r["open_reason_766"]) if r["is_open"] else None,
    ) for r in rows}
    return verdicts, {r["dossier_id"]: r["unit_id"] for r in rows}


def query(url: str, sql: str, params=()) -> list[dict]:
    """The rows of ``sql`` as dicts."""
    with psycopg.connect(url) as conn, conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(sql, params).fetchall()
