{{ config(indexes=[{"columns": ["month", "unit_id"], "unique": true}]) }}
-- kpi.due_date_audit_monthly (issue 9 part 1; an addition to published.md, README "Versions"): per
-- (month, unit_id) of kpi.tthc_report's month rows (all fields; the province's row rolls up the
-- province), the report's late figures beside the same figures under the statutory due date, and
-- how many due dates differ.
--
-- * Units: each month under the map of units in force at its end (int_unit_succession), as
--   kpi.tthc_report: after 30/6/2025 an old unit's dossiers count under its successor.
-- * due_dates_*: the month's receptions (kpi.due_date_audit's month) with a known statutory due
--   time, those whose due date differs, later / earlier than the law, and the working days the
--   later ones add (hidden_working_days).
-- * resolved_late_report / pending_overdue_report: kpi.tthc_report's resolved_late and
--   pending_overdue (against the source's due time in force).
-- * resolved_late_statutory = resolved_late_report + the month's finished dossiers late by the
--   law and not by the source - those late by the source and not by the law
--   (int_dossier_statutory_due; a dossier without a statutory due time keeps the source's verdict).
-- * The receptions' and finishes' counts are sums of the cells of the dossiers' own units
--   (int_due_date_unit_months, kept incrementally); the month-end backlog is
--   int_due_date_month_ends (incremental too).
-- * pending_overdue_statutory likewise at the month's end (int_due_date_month_ends: both due times
--   in force then, waiting for a supplement within deadline under both).
-- * hidden_late = the dossiers late by the law that the report does not count late (finished in the
--   month or overdue at its end); late_not_by_statutory the reverse. So
--   late_total_statutory = late_total_report + hidden_late - late_not_by_statutory.
with months as (
    select
        report.period_start as month,
        report.period_end,
        report.unit_id,
        report.unit_name,
        report.resolved_total,
        report.resolved_late,
        report.pending_total,
        report.pending_overdue
    from {{ ref('tthc_report') }} as report
    where report.period_type = 'month'
      and report.field_code = {{ all_fields_code() }}
),

-- the report rows a unit's dossiers of a month count in: the unit the map in force at the month's
-- end sends them to (int_unit_succession, as kpi.tthc_report), and the province's roll-up
month_report_units as (
    select
        periods.period_start as month,
        succession.unit_id,
        report_units.report_unit_id
    from {{ ref('int_report_periods') }} as periods
    inner join {{ ref('int_unit_succession') }} as succession
        on {{ unit_map_covers('succession', 'periods.period_end') }}
    inner join {{ ref('int_report_units') }} as report_units
        on report_units.unit_id = succession.report_unit_id
    where periods.period_type = 'month'
),

-- the month's receptions and finishes, from the cells of the dossiers' own units
-- (int_due_date_unit_months), under the report's units
unit_months as (
    select
        cells.month_start as month,
        month_report_units.report_unit_id as unit_id,
        cast(sum(cells.due_dates_checked) as bigint) as due_dates_checked,
        cast(sum(cells.due_dates_differing) as bigint) as due_dates_differing,
        cast(sum(cells.due_later_than_law) as bigint) as due_later_than_law,
        cast(sum(cells.due_earlier_than_law) as bigint) as due_earlier_than_law,
        -- numeric, as published since issue 9 (a sum of bigint)
        cast(sum(cells.hidden_working_days) as numeric) as hidden_working_days,
        cast(sum(cells.resolved_hidden_late) as bigint) as resolved_hidden_late,
        cast(sum(cells.resolved_late_not_by_law) as bigint) as resolved_late_not_by_law
    from {{ ref('int_due_date_unit_months') }} as cells
    inner join month_report_units
        on month_report_units.month = cells.month_start
       and month_report_units.unit_id = cells.unit_id
    group by 1, 2
),

backlog as (
    select
        month_ends.month,
        month_report_units.report_unit_id as unit_id,
        count(*) filter (where month_ends.overdue_by_statutory and not month_ends.overdue_by_report)
            as pending_hidden_overdue,
        count(*) filter (where month_ends.overdue_by_report and not month_ends.overdue_by_statutory)
            as pending_overdue_not_by_law
    from {{ ref('int_due_date_month_ends') }} as month_ends
    inner join month_report_units
        on month_report_units.month = month_ends.month
       and month_report_units.unit_id = month_ends.unit_id
    group by 1, 2
),

combined as (
    select
        months.*,
        coalesce(unit_months.due_dates_checked, 0) as due_dates_checked,
        coalesce(unit_months.due_dates_differing, 0) as due_dates_differing,
        coalesce(unit_months.due_later_than_law, 0) as due_later_than_law,
        coalesce(unit_months.due_earlier_than_law, 0) as due_earlier_than_law,
        coalesce(unit_months.hidden_working_days, 0) as hidden_working_days,
        coalesce(unit_months.resolved_hidden_late, 0) as resolved_hidden_late,
        coalesce(unit_months.resolved_late_not_by_law, 0) as resolved_late_not_by_law,
        coalesce(backlog.pending_hidden_overdue, 0) as pending_hidden_overdue,
        coalesce(backlog.pending_overdue_not_by_law, 0) as pending_overdue_not_by_law
    from months
    left join unit_months
        on unit_months.month = months.month and unit_months.unit_id = months.unit_id
    left join backlog
        on backlog.month = months.month and backlog.unit_id = months.unit_id
)

select
    month,
    period_end,
    unit_id,
    unit_name,
    due_dates_checked,
    due_dates_differing,
    due_later_than_law,
    due_earlier_than_law,
    hidden_working_days,
    resolved_total,
    resolved_late as resolved_late_report,
    resolved_late + resolved_hidden_late - resolved_late_not_by_law as resolved_late_statutory,
    pending_total,
    pending_overdue as pending_overdue_report,
    pending_overdue + pending_hidden_overdue - pending_overdue_not_by_law as pending_overdue_statutory,
    resolved_late + pending_overdue as late_total_report,
    resolved_late + resolved_hidden_late - resolved_late_not_by_law
        + pending_overdue + pending_hidden_overdue - pending_overdue_not_by_law as late_total_statutory,
    resolved_hidden_late + pending_hidden_overdue as hidden_late,
    resolved_late_not_by_law + pending_overdue_not_by_law as late_not_by_statutory,
    {{ publication_id() }} as publication_id
from combined
