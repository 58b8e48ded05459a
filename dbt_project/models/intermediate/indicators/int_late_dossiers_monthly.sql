-- One row per (month_start, dossier_id) for every dossier late in the month by the periodic
-- report's rule: finished late in the month (fct_dossiers.timeliness = 'late'), or pending and
-- overdue at the end of the month (the end of as_of_date for the running month). These are the
-- dossiers counted in resolved_late + pending_overdue of the month's kpi.tthc_report row (tested:
-- late_accountability_counts_match_tthc_report).
--
-- The overdue state at the end of a day is the one int_dossier_events gives for the dossier's
-- backlog (its running sum of pending_overdue_change): the same rule as the report, not a copy.
-- has_apology_by_then: an apology slip (int_dossier_apologies) dated no later than the moment the
-- dossier is counted late here (its finish; the end of the month for a pending dossier).
with months as (
    select period_start as month_start, period_end as month_end
    from {{ ref('int_report_periods') }}
    where period_type = 'month'
),

finished_late as (
    select
        months.month_start,
        dossiers.dossier_id,
        dossiers.unit_id,
        'finished_late' as late_kind,
        dossiers.finished_at as judged_at
    from {{ ref('fct_dossiers') }} as dossiers
    inner join months
        on {{ month_of('dossiers.finished_at') }} = months.month_start
    where dossiers.is_in_report
      and dossiers.timeliness = 'late'
      and cast(dossiers.finished_at as date) <= months.month_end
),

-- each dossier's overdue state from one event day to the next, for the dossiers that were ever
-- overdue at the end of a day (most never are: their events are not sorted here)
ever_overdue as (
    select distinct dossier_id
    from {{ ref('int_dossier_events') }}
    where pending_overdue_change > 0
),

overdue_spans as (
    select
        events.dossier_id,
        events.unit_id,
        events.date_day as from_day,
        lead(events.date_day) over (partition by events.dossier_id order by events.date_day) as next_event_day,
        sum(events.pending_overdue_change) over (partition by events.dossier_id order by events.date_day
                                                 rows between unbounded preceding and current row) as overdue
    from {{ ref('int_dossier_events') }} as events
    inner join ever_overdue
        on ever_overdue.dossier_id = events.dossier_id
),

pending_overdue as (
    select
        months.month_start,
        spans.dossier_id,
        spans.unit_id,
        'pending_overdue' as late_kind,
        {{ end_of_day('months.month_end') }} as judged_at
    from overdue_spans as spans
    inner join months
        on months.month_end >= spans.from_day
       and (spans.next_event_day is null or months.month_end < spans.next_event_day)
    where spans.overdue > 0
),

late as (
    select * from finished_late
    union all
    select * from pending_overdue
)

select
    late.month_start,
    late.dossier_id,
    late.unit_id,
    late.late_kind,
    late.judged_at,
    exists (
        select 1
        from {{ ref('int_dossier_apologies') }} as apologies
        where apologies.dossier_id = late.dossier_id
          and apologies.apologised_at <= late.judged_at
    ) as has_apology_by_then
from late
