"""The quality gate against a real PostgreSQL and real GX validations (no mocks).

Hand-made rows in kpi_build / marts / raw of the module's fresh database: the clean set passes
with the exact number of checks, then one breakage at a time fails exactly the named check(s).
"""

from __future__ import annotations

import json
from datetime import date

import psycopg
import pytest

from cchc.contracts import feed_named
from cchc.quality import RAW_BATCH_SUITES, SuiteError, load_suite, published_suites, run_gate
from cchc.raw.schema import ensure_partitions, ensure_raw_schema

MART_MAP = {"kpi": "kpi_build"}
MART_SUITES = published_suites(["tthc_report", "dossier_facts_daily"])
COUNTS = ("received_total received_online received_direct_postal carried_over resolved_total resolved_early "  # noqa: SIM905  a word list reads best as one string
          "resolved_on_time resolved_late resolved_withdrawn_or_stopped pending_total pending_on_time "
          "pending_overdue").split()

DDL = f"""
create schema if not exists kpi_build;
create schema if not exists marts;
create table marts.dim_unit (unit_id text, unit_name text, valid_from date, valid_to date);
create table marts.dim_unit_succession (unit_id text, report_unit_id text, succession_depth integer,
                                        from_day date, to_day date);
create table kpi_build.tthc_report (
    period_type text, period_start date, period_end date, unit_id text, unit_name text, field_code text,
    {", ".join(f"{c} bigint" for c in COUNTS)}, on_time_rate numeric, publication_id bigint);
create table kpi_build.dossier_facts_daily (
    date date, unit_id text, unit_name text, field_code text, received_online bigint,
    received_direct_postal bigint, resolved_early bigint, resolved_on_time bigint, resolved_late bigint,
    resolved_withdrawn_or_stopped bigint, pending_on_time bigint, pending_overdue bigint,
    publication_id bigint);
"""


def report_row(ptype, start, end, unit, fld, online, direct, carried, early, on_time, late, withdrawn, p_ok, p_late):
    received, resolved, pending = online + direct + carried, early + on_time + late, p_ok + p_late
    rate = round((early + on_time) / resolved, 6) if resolved else None
    return (ptype, start, end, unit, f"Đơn vị {unit}", fld, received, online, direct, carried, resolved,
            early, on_time, late, withdrawn, pending, p_ok, p_late, rate, 1)


CLEAN_REPORT = [
    # each first period of a type carries nothing over (identity 5: nothing is carried from nowhere)
    report_row("month", date(2023, 12, 1), date(2023, 12, 31), "U1", "F1", 3, 0, 0, 0, 0, 0, 0, 3, 0),
    report_row("month", date(2024, 1, 1), date(2024, 1, 31), "U1", "F1", 10, 5, 3, 4, 6, 2, 1, 5, 1),
    report_row("month", date(2024, 2, 1), date(2024, 2, 29), "U1", "F1", 7, 2, 6, 5, 3, 1, 0, 4, 2),
    report_row("month", date(2024, 1, 1), date(2024, 1, 31), "U2", "F2", 0, 0, 0, 0, 0, 0, 0, 0, 0),
    report_row("day", date(2024, 1, 14), date(2024, 1, 14), "U1", "F1", 2, 0, 0, 0, 0, 0, 0, 2, 0),
    report_row("day", date(2024, 1, 15), date(2024, 1, 15), "U1", "F1", 1, 0, 2, 0, 1, 0, 0, 2, 0),
    report_row("quarter", date(2023, 10, 1), date(2023, 12, 31), "U1", "*", 3, 0, 0, 0, 0, 0, 0, 3, 0),
    report_row("quarter", date(2024, 1, 1), date(2024, 3, 31), "U1", "*", 17, 7, 3, 9, 9, 3, 1, 5, 1),
    report_row("half_year", date(2023, 7, 1), date(2023, 12, 31), "U1", "*", 3, 0, 0, 0, 0, 0, 0, 3, 0),
    report_row("half_year", date(2024, 1, 1), date(2024, 6, 30), "U1", "*", 30, 9, 3, 20, 10, 5, 2, 6, 1),
    report_row("year", date(2023, 1, 1), date(2023, 12, 31), "P", "*", 3, 0, 0, 0, 0, 0, 0, 3, 0),
    report_row("year", date(2024, 1, 1), date(2024, 12, 31), "P", "*", 30, 9, 3, 20, 10, 5, 2, 6, 1),
]
CLEAN_FACTS = [
    (date(2024, 1, 15), "U1", "Đơn vị U1", "F1", 1, 0, 0, 1, 0, 0, 2, 0, 1),
    (date(2024, 1, 16), "U1", "Đơn vị U1", "F1", 0, 2, 1, 0, 0, 0, 3, 0, 1),
    (date(2024, 1, 16), "U2", "Đơn vị U2", "F2", 0, 0, 0, 0, 0, 0, 0, 0, 1),
]
FEB = "period_type = 'month' and period_start = '2024-02-01'"
JAN_U1 = "period_type = 'month' and period_start = '2024-01-01' and unit_id = 'U1'"


def reset_marts(url):
    with psycopg.connect(url) as conn:
        conn.execute("truncate kpi_build.tthc_report, kpi_build.dossier_facts_daily, marts.dim_unit,"
                     " marts.dim_unit_succession")
        with conn.cursor() as cur:
            cur.executemany(f"insert into kpi_build.tthc_report values ({', '.join(['%s'] * 20)})", CLEAN_REPORT)
            cur.executemany(f"insert into kpi_build.dossier_facts_daily values ({', '.join(['%s'] * 13)})", CLEAN_FACTS)
            cur.executemany("insert into marts.dim_unit values (%s, %s, '2020-01-01', null)",
                            [("P", "Tỉnh"), ("U1", "Đơn vị U1"), ("U2", "Đơn vị U2"), ("U1", "Đơn vị U1 (cũ)")])
            # no unit is succeeded: each reports under itself on every day (identity 5 reads the map)
            cur.executemany("insert into marts.dim_unit_succession values (%s, %s, 0, null, null)",
                            [("P", "P"), ("U1", "U1"), ("U2", "U2")])


def add_batch(conn, system, feed, records, *, rejects=0, lines=None):
    """Land a batch: ``records`` are (record_key, payload) pairs; ``rejects`` rows go to raw.rejects."""
    batch_id = conn.execute(
        "insert into raw.load_batches (system, feed, source_day, delivery, source_uri, lines_read,"
        " rows_landed, rows_rejected, status, run_id) values (%s, %s, '2024-03-15', 'file', 'test', %s, %s, %s,"
        " 'landed', 'r') returning batch_id",
        (system, feed, lines if lines is not None else len(records) + rejects, len(records), rejects),
    ).fetchone()[0]
    ensure_partitions(conn, feed_named(feed), [date(2024, 3, 15)])
    for no, (key, payload) in enumerate(records, 1):
        conn.execute(
            f"insert into raw.{system}__{feed} (batch_id, source_day, line_no, record_key, payload)"
            " values (%s, '2024-03-15', %s, %s, %s)", (batch_id, no, key, json.dumps(payload)))
    for no in range(rejects):
        conn.execute(
            "insert into raw.rejects (batch_id, system, feed, source_day, line_no, reason_code, reason)"
            " values (%s, %s, %s, '2024-03-15', %s, 'bad_json', 'truncated line')", (batch_id, system, feed, no))
    return batch_id


@pytest.fixture(scope="module")
def db(warehouse_db):
    with psycopg.connect(warehouse_db) as conn:
        conn.execute(DDL)
        ensure_raw_schema(conn)
    reset_marts(warehouse_db)
    return warehouse_db


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("gx")


def gate(db, report_dir, run_id, suites=MART_SUITES, **kw):
    kw.setdefault("schema_map", MART_MAP)
    return run_gate(db, list(suites), run_id=run_id, report_dir=report_dir, **kw)


def failed_checks(result):
    return {f.split(":", 1)[0] for f in result.failures}


def test_clean_marts_pass_with_every_check_evaluated(db, report_dir):
    result = gate(db, report_dir, "clean")
    assert result.failures == []
    assert result.success
    expected = sum(len(load_suite(s).checks) for s in MART_SUITES)
    assert expected == 18 + 5  # the grain, keys and unit relationships are dbt's (expectations/README.md)
    assert (result.checks_evaluated, result.checks_failed) == (expected, 0)
    assert [c.name for c in result.results_by_suite["tthc_report"]] == [
        c.name for c in load_suite("tthc_report").checks]
    assert all(c.target == "kpi_build.tthc_report" for c in result.results_by_suite["tthc_report"])
    assert result.report_path.is_file() and "PASSED" in result.report_path.read_text()
    assert result.data_docs_path is not None and result.data_docs_path.is_file()
    assert result.data_docs_path.is_relative_to(report_dir)
    # no credential in the GX project files: the datasource reads the URL from the environment
    assert "${CCHC_GX_WAREHOUSE_URL}" in (report_dir / "gx" / "great_expectations.yml").read_text()
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            "select suite, count(*), bool_and(success) from ops.validation_results where run_id = 'clean'"
            " group by suite order by suite").fetchall()
    assert rows == [("dossier_facts_daily", 5, True), ("tthc_report", 18, True)]


BREAKAGES = {
    "identity_1": (f"update kpi_build.tthc_report set received_online = received_online + 1 where {JAN_U1}",
                   {"tthc_report.identity_1_received"}),
    "identity_2": (f"update kpi_build.tthc_report set resolved_late = resolved_late + 1 where {JAN_U1}",
                   {"tthc_report.identity_2_resolved"}),
    "identity_3": (f"update kpi_build.tthc_report set pending_overdue = pending_overdue + 1 where {JAN_U1}",
                   {"tthc_report.identity_3_pending"}),
    "identity_4": ("update kpi_build.tthc_report set received_online = received_online + 1,"
                   f" received_total = received_total + 1 where {JAN_U1}",
                   {"tthc_report.identity_4_balance"}),
    "identity_5": ("update kpi_build.tthc_report set carried_over = carried_over + 1,"
                   f" received_online = received_online - 1 where {FEB}",
                   {"tthc_report.identity_5_carried_over"}),
    "carried_from_nowhere": ("update kpi_build.tthc_report set carried_over = carried_over + 1,"
                             " received_online = received_online - 1 where period_start = '2023-12-01'",
                             {"tthc_report.identity_5_nothing_carried_from_nowhere"}),
    "backlog_dropped": (f"delete from kpi_build.tthc_report where {JAN_U1}",
                        {"tthc_report.identity_5_backlog_carried_into_the_next_period",
                         "tthc_report.identity_5_nothing_carried_from_nowhere"}),
    "rate_out_of_range": (f"update kpi_build.tthc_report set on_time_rate = 1.5 where {JAN_U1}",
                          {"tthc_report.on_time_rate_between_0_and_1", "tthc_report.on_time_rate_formula"}),
    "rate_null_when_resolved": (f"update kpi_build.tthc_report set on_time_rate = null where {JAN_U1}",
                                {"tthc_report.on_time_rate_null_iff_nothing_resolved"}),
    "negative_count": ("update kpi_build.dossier_facts_daily set resolved_late = -1 where unit_id = 'U2'",
                       {"dossier_facts_daily.counts_non_negative"}),
}


@pytest.mark.parametrize("case", list(BREAKAGES))
def test_each_breakage_fails_exactly_its_check(db, report_dir, case):
    sql, expected = BREAKAGES[case]
    suite = next(iter(expected)).split(".")[0]
    with psycopg.connect(db) as conn:
        conn.execute(sql)
    try:
        result = gate(db, report_dir, f"broken-{case}", suites=[suite])
    finally:
        reset_marts(db)
    assert not result.success
    assert failed_checks(result) == expected, result.failures
    assert result.checks_failed == len(expected)
    assert result.checks_evaluated == len(load_suite(suite).checks)
    report = result.report_path.read_text()
    assert "FAILED" in report
    for name in expected:
        assert name.split(".")[1] in report
    with psycopg.connect(db) as conn:
        failed = conn.execute(
            "select suite || '.' || expectation from ops.validation_results where run_id = %s and not success",
            (f"broken-{case}",)).fetchall()
    assert {f for (f,) in failed} == expected


def test_failure_names_the_check_with_count_and_sample(db, report_dir):
    sql, _ = BREAKAGES["identity_5"]
    with psycopg.connect(db) as conn:
        conn.execute(sql)
    try:
        result = gate(db, report_dir, "sampled", suites=["tthc_report"])
    finally:
        reset_marts(db)
    (failure,) = result.failures
    assert failure.startswith("tthc_report.identity_5_carried_over: 1 unexpected row(s)")
    assert "carried_over=7, previous_period_start=2024-01-01, previous_pending_total=6" in failure
    (check,) = [c for c in result.results_by_suite["tthc_report"] if not c.success]
    assert check.observed["observed_value"] == 1 and check.observed["sample"][0]["unit_id"] == "U1"
    with psycopg.connect(db) as conn:
        observed = conn.execute(
            "select observed from ops.validation_results where run_id = 'sampled' and not success").fetchone()[0]
    assert observed["observed_value"] == 1 and observed["sample"][0]["previous_pending_total"] == 6


def test_missing_table_is_a_failed_check_not_a_crash(db, report_dir):
    result = run_gate(db, ["tthc_report"], schema_map={"kpi": "kpi_nowhere"}, run_id="missing",
                      report_dir=report_dir)
    assert not result.success
    assert result.failures == ["tthc_report.table_exists: table kpi_nowhere.tthc_report does not exist"]


def test_raw_batch_gate_judges_only_the_batches_of_the_run(db, report_dir):
    with psycopg.connect(db) as conn:
        good = [add_batch(conn, "onestop", "dossiers", [(f"D{i}", {"MaHoSo": f"D{i}"}) for i in range(9)], rejects=1),
                add_batch(conn, "onestop", "steps", [(f"D{i}|1", {"MaHoSo": f"D{i}", "BuocXuLy": 1}) for i in range(3)]),
                add_batch(conn, "reference", "units", [("U1", {"UnitId": "U1"})]),
                add_batch(conn, "reference", "procedures", [("1.1", {"MaTTHC": "1.1"})]),
                add_batch(conn, "edoc", "documents", [("X1", {"DocumentId": "X1"})])]
        garbage = add_batch(conn, "onestop", "dossiers", [("D1", {"MaHoSo": "D1"})], rejects=12)
        tiny = add_batch(conn, "onestop", "dossiers", [("D2", {"MaHoSo": "D2"})], rejects=2)
        dup = add_batch(conn, "onestop", "dossiers", [("D1", {"MaHoSo": "D1"}), ("D1", {"MaHoSo": "D1"})])
        keyless = add_batch(conn, "onestop", "steps", [("D1|1", {"MaHoSo": "D1", "BuocXuLy": ""})])

    def raw_gate(run_id, batches):
        return run_gate(db, list(RAW_BATCH_SUITES), schema_map={}, run_id=run_id, report_dir=report_dir,
                        batch_filter=f"batch_id = any(array{sorted(batches)}::bigint[])")

    clean = raw_gate("raw-clean", good)
    # 7 checks per raw suite (8 feeds), raw_reference__targets one more (every TargetValue a share)
    assert clean.failures == [] and clean.checks_evaluated == 7 * len(RAW_BATCH_SUITES) + 1
    assert raw_gate("raw-garbage", good + [garbage]).failures[0].startswith(
        "raw_onestop__dossiers.reject_share_under_threshold: 1 unexpected row(s)")
    # a high share of very few rejects (a quiet Sunday with one bad line) is not a broken feed
    assert raw_gate("raw-tiny", [tiny]).failures == []
    assert failed_checks(raw_gate("raw-dup", [dup])) == {"raw_onestop__dossiers.record_key_unique_in_batch"}
    assert failed_checks(raw_gate("raw-keyless", [keyless])) == {"raw_onestop__steps.payload_has_key"}
    # without a filter the whole history is judged, bad batches included
    unfiltered = run_gate(db, ["raw_onestop__dossiers"], schema_map={}, run_id="raw-all", report_dir=report_dir)
    assert failed_checks(unfiltered) == {"raw_onestop__dossiers.reject_share_under_threshold",
                                         "raw_onestop__dossiers.record_key_unique_in_batch"}


def test_unknown_type_fails_before_any_run(db, report_dir, tmp_path):
    (tmp_path / "tthc_report.yml").write_text(
        'suite: tthc_report\ntable: "{kpi}.tthc_report"\nexpectations:\n'
        "  - type: expect_table_row_count_to_be_between\n    kwargs: {min_value: 1}\n"
        "  - type: expect_column_values_to_be_frobnicated\n    kwargs: {column: unit_id}\n")
    with pytest.raises(SuiteError, match="unknown expectation type 'expect_column_values_to_be_frobnicated'"):
        gate(db, report_dir, "never-runs", suites=["tthc_report"], suites_dir=tmp_path)
    with psycopg.connect(db) as conn:
        assert conn.execute("select count(*) from ops.validation_results where run_id = 'never-runs'").fetchone() == (0,)
