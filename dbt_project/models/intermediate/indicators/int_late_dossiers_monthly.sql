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
--
-- Incremental (macro delete_recomputed_months): a night recomputes every month of the dossiers the
-- ledger changed (their record, events or apologies), and every dossier's rows of the months from
-- the previous build's as_of_date on. A full refresh computes everything.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    indexes=[{'columns': ['month_start', 'dossier_id'], 'unique': true}, {'columns': ['dossier_id']}],
    pre_hook=["{{ delete_recomputed_months() }}"],
    post_hook=["{{ save_state_watermark('onestop__dossiers') }}", "{{ save_as_of() }}"]
) }}
-- depends_on: {{ incremental_dependencies('stg_onestop__dossiers') }}
{%- set since = previous_as_of() if is_incremental() else none %}
with months as (
    select period_start as month_start, period_end as month_end
    from {{ ref('int_report_periods') }}
    where period_type = 'month'
),
{%- if since is not none %}

-- the dossiers whose every month is recomputed
changed as materialized (
    {{ recomputed_dossiers() }}
),
{%- endif %}

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
      {%- if since is not none %}
      and (dossiers.dossier_id in (select changed.dossier_id from changed)
           or (dossiers.finished_at >= {{ month_of(since) }} and months.month_start >= {{ month_of(since) }}))
      {%- endif %}
),

-- each dossier's overdue state from one event day to the next, for the dossiers that were ever
-- overdue at the end of a day (most never are: their events are not sorted here)
{%- if since is none %}
ever_overdue as (
    select distinct dossier_id
    from {{ ref('int_dossier_events') }}
    where pending_overdue_change > 0
),
{%- else %}
-- the dossiers whose rows may change: the changed ones, and those open at the start of the first
-- recomputed month or finished since
candidates as materialized (
    select dossier_id from changed
    union
    select dossier_id
    from {{ ref('fct_dossiers') }}
    where finished_at is null or finished_at >= {{ month_of(since) }}
),

ever_overdue as (
    select distinct events.dossier_id
    from candidates
    inner join {{ ref('int_dossier_events') }} as events
        on events.dossier_id = candidates.dossier_id
    where events.pending_overdue_change > 0
),
{%- endif %}

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
    {%- if since is not none %}
      and (spans.dossier_id in (select changed.dossier_id from changed) or months.month_start >= {{ month_of(since) }})
    {%- endif %}
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
    exists (  -- noqa: LT01, LT06
        select 1
        from {{ ref('int_dossier_apologies') }} as apologies
        where apologies.dossier_id = late.dossier_id
          and apologies.apologised_at <= late.judged_at
    ) as has_apology_by_then
from late
