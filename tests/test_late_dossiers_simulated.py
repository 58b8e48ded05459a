"""kpi.late_dossiers on the simulated province, published through the real pipeline (the shared
``published_warehouse``: land, batch gate, dbt build, GX gate, publish; 1 May - 15 Jun 2025).

The counts tie out: for the periodic rule, a unit's month rows are resolved_late + pending_overdue
of its kpi.tthc_report month row (field '*'; the province's row rolls up the province); for the
Decision 766 rule, they are the month's dossiers_late_766 behind kpi.service_index
(int_indicator_period_values, scope 'own'); and kpi.late_accountability counts the same late
dossiers and the same ones without an apology slip by the time they were counted late.
"""

from __future__ import annotations

import psycopg
import pytest


def rows(url: str, sql: str, params=()) -> list[dict]:
    with psycopg.connect(url) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def pub(published_warehouse) -> str:
    return published_warehouse["url"]


def test_late_dossiers_is_published_with_both_rules(pub):
    tables = rows(pub, "select tables_published from kpi.publications where is_current")[0]["tables_published"]
    assert "late_dossiers" in tables
    by_rule = {r["rule"]: r["n"] for r in rows(pub, "select rule, count(*) as n from kpi.late_dossiers group by 1")}
    assert set(by_rule) == {"periodic_report", "decision_766"} and min(by_rule.values()) >= 5, by_rule
    # every (rule, reason) is in the catalogue as a late classification
    unknown = rows(pub, """
        select distinct l.rule, l.reason_code from kpi.late_dossiers l
        left join ref.lateness_reasons r on r.rule = l.rule and r.code = l.reason_code and r.classification = 'late'
        where r.code is null""")
    assert unknown == []
    reasons = {(r["rule"], r["reason_code"]) for r in rows(pub, "select distinct rule, reason_code from kpi.late_dossiers")}
    assert {("periodic_report", "finished_after_due"), ("periodic_report", "open_past_due"),
            ("decision_766", "finished_after_due"), ("decision_766", "second_supplement")} <= reasons, reasons


def test_periodic_rows_tie_out_to_the_report(pub):
    mismatched = rows(pub, """
        with listed as (
            select l.month, u.report_unit_id, count(*) as n
            from kpi.late_dossiers l join int.int_report_units u on u.unit_id = l.unit_id
            where l.rule = 'periodic_report' group by 1, 2),
        report as (select * from kpi.tthc_report where period_type = 'month' and field_code = '*')
        select t.period_start, t.unit_id, t.resolved_late + t.pending_overdue as report, listed.*
        from report t
        full join listed on listed.month = t.period_start and listed.report_unit_id = t.unit_id
        where t.unit_id is null or coalesce(listed.n, 0) <> t.resolved_late + t.pending_overdue""")
    assert mismatched == []
    total = rows(pub, "select sum(resolved_late + pending_overdue) as n from kpi.tthc_report t"
                      " join marts.dim_unit u on u.unit_id = t.unit_id and u.is_province"
                      " where period_type = 'month' and field_code = '*'")[0]["n"]
    assert total > 0 and total == rows(
        pub, "select count(*) as n from kpi.late_dossiers where rule = 'periodic_report'")[0]["n"]


def test_766_rows_tie_out_to_the_service_index_counts(pub):
    mismatched = rows(pub, """
        with listed as (
            select l.month, l.unit_id, count(*) as n
            from kpi.late_dossiers l where l.rule = 'decision_766' group by 1, 2),
        counts as (
            select v.* from int.int_indicator_period_values v
            join marts.dim_unit u on u.unit_id = v.unit_id and not u.is_province
            where v.period_type = 'month' and v.scope = 'own' and v.rule_name = 'dossiers_late_766')
        select v.period_start, v.unit_id, v.rule_value, listed.*
        from counts v
        full join listed on listed.month = v.period_start and listed.unit_id = v.unit_id
        where v.unit_id is null or v.rule_value <> coalesce(listed.n, 0)""")
    assert mismatched == []
    # and the service index's ratio says the same, province rows included
    assert rows(pub, """
        with listed as (
            select l.month, u.report_unit_id, count(*) as n
            from kpi.late_dossiers l join int.int_report_units u on u.unit_id = l.unit_id
            where l.rule = 'decision_766' group by 1, 2)
        select s.period_start, s.unit_id from kpi.service_index s
        join kpi.tthc_report t on t.period_type = 'month' and t.field_code = '*'
         and t.period_start = s.period_start and t.unit_id = s.unit_id
        left join listed on listed.month = s.period_start and listed.report_unit_id = s.unit_id
        where s.period_type = 'month'
          and abs(t.received_total * (1 - coalesce(s.timeliness_766_ratio, 1)) - coalesce(listed.n, 0)) > 0.0001
        """) == []


def test_late_accountability_counts_the_same_dossiers_and_apologies(pub):
    mismatched = rows(pub, """
        with listed as (
            select m.month_start, u.report_unit_id, count(*) as n,
                   count(*) filter (where not m.apology_by_judged_at) as without_by_then,
                   count(*) filter (where not l.apology_issued) as without_before_due
            from int.int_late_dossier_months m
            join kpi.late_dossiers l on l.month = m.month_start and l.dossier_code = m.dossier_id and l.rule = m.rule
            join int.int_report_units u on u.unit_id = m.unit_id
            where m.rule = 'periodic_report' group by 1, 2)
        select a.month, a.unit_id, a.late_dossiers, a.late_without_apology, listed.*
        from kpi.late_accountability a
        left join listed on listed.month_start = a.month and listed.report_unit_id = a.unit_id
        where a.late_dossiers <> coalesce(listed.n, 0)
           or a.late_without_apology <> coalesce(listed.without_before_due, 0)
           or coalesce(listed.without_by_then, 0) > a.late_without_apology""")
    assert mismatched == []


def test_listed_rows_are_complete(pub):
    r = rows(pub, """
        select count(*) as n,
               count(*) filter (where official_name is not null and department is not null) as with_official,
               count(*) filter (where statutory_due_at is not null) as with_statutory,
               count(*) filter (where apology_issued) as with_apology,
               count(*) filter (where finished_at is null) as open_rows,
               count(*) filter (where working_days_late is null) as no_days
        from kpi.late_dossiers""")[0]
    assert r["n"] > 0
    assert r["with_official"] == r["n"]  # the simulator records every step
    assert r["with_statutory"] >= 0.95 * r["n"]
    assert 0 < r["with_apology"] < r["n"] and r["open_rows"] > 0 and r["no_days"] == 0, r
    # no applicant data in the list
    columns = {c["column_name"] for c in rows(
        pub, "select column_name from information_schema.columns where table_schema = 'kpi' and table_name = 'late_dossiers'")}
    assert not columns & {"applicant_name_pseudonym", "applicant_id_pseudonym", "applicant_phone_pseudonym",
                          "applicant_email_pseudonym", "ChuHoSo"}
