-- One row per (month_start, dossier_id, rule) for every dossier late in the month by a rule:
-- finished late in the month, or open past due at the month's end (the end of as_of_date for the
-- running month: int_report_periods caps the month there). The rows kpi.late_dossiers lists.
--
-- * periodic_report: exactly the rows of int_late_dossiers_monthly (the report's own late set,
--   counted in resolved_late + pending_overdue of kpi.tthc_report; not restated here). The due time
--   an open dossier missed is the one in force at the month's end by the report's rule
--   (int_dossier_events: NgayHenTraTruoc of the first supplement requested after it, else NgayHenTra;
--   int_dossier_due_history shows the same due dates as a history).
-- * decision_766: finished in the month with classification_766 'late' (int_dossier_lateness), or
--   received by the month's end, not finished by it, and overdue_from_766 before its end: the
--   dossiers int_indicator_dossier_contributions takes out of the within-deadline backlog, so these
--   rows are the month's dossiers_late_766 (kpi.service_index). The due time it missed is
--   overdue_from_766 (the original due time plus the applicant's first wait, or the second request).
--
-- due_at: the due time the rule judged against; working_days_late: working days in (due day,
-- finish day], or (due day, month end] for an open dossier (calendar.md); apology_issued: an apology
-- slip dated no later than due_at (the directives require one before the dossier is late);
-- apology_by_judged_at: a slip dated no later than the moment it is counted late (its finish, the
-- month's end), int_late_dossiers_monthly's has_apology_by_then (what kpi.late_accountability counts).
--
-- Incremental (macro delete_recomputed_months): a night recomputes every month of the dossiers the
-- ledger changed and every dossier's rows of the months from the previous build's as_of_date on;
-- the earlier months of the other dossiers are kept. A full refresh computes everything.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    indexes=[{'columns': ['month_start', 'dossier_id', 'rule'], 'unique': true}, {'columns': ['dossier_id']}],
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

lateness as (
    select * from {{ ref('int_dossier_lateness') }}
    {%- if since is not none %}
    -- the changed dossiers, and those that can be late in a recomputed month: open at its start or
    -- finished since
    where dossier_id in (select changed.dossier_id from changed)
       or finished_at is null
       or finished_at >= {{ month_of(since) }}
    {%- endif %}
),

periodic as (
    select
        late.month_start,
        months.month_end,
        late.dossier_id,
        late.unit_id,
        'periodic_report' as rule,
        late.late_kind,
        late.judged_at,
        case
            when late.late_kind = 'finished_late' then lateness.due_at
            -- the report's due time in force at the end of a day (int_dossier_events): NgayHenTraTruoc
            -- of the first supplement requested after it, else NgayHenTra
            else coalesce((
                select supplements.due_before_at
                from {{ ref('int_dossier_supplements') }} as supplements
                where supplements.dossier_id = late.dossier_id
                  and supplements.requested_at >= late.judged_at
                  and supplements.due_before_at is not null
                order by supplements.requested_at, supplements.supplement_seq
                limit 1
            ), lateness.due_at)
        end as due_at,
        case when late.late_kind = 'finished_late' then lateness.periodic_reason_code else 'open_past_due' end
            as reason_code,
        late.has_apology_by_then as apology_by_judged_at
    from {{ ref('int_late_dossiers_monthly') }} as late
    inner join months
        on months.month_start = late.month_start
    inner join lateness
        on lateness.dossier_id = late.dossier_id
    {%- if since is not none %}
    where late.dossier_id in (select changed.dossier_id from changed)
       or late.month_start >= {{ month_of(since) }}
    {%- endif %}
),

finished_766 as (
    select
        months.month_start,
        months.month_end,
        lateness.dossier_id,
        lateness.unit_id,
        'decision_766' as rule,
        'finished_late' as late_kind,
        lateness.finished_at as judged_at,
        lateness.overdue_from_766 as due_at,
        lateness.reason_code_766 as reason_code
    from lateness
    inner join months
        on months.month_start = {{ month_of('lateness.finished_at') }}
    where lateness.classification_766 = 'late'
      and cast(lateness.finished_at as date) <= months.month_end
      {%- if since is not none %}
      and (lateness.dossier_id in (select changed.dossier_id from changed)
           or months.month_start >= {{ month_of(since) }})
      {%- endif %}
),

open_766 as (
    select
        months.month_start,
        months.month_end,
        lateness.dossier_id,
        lateness.unit_id,
        'decision_766' as rule,
        'pending_overdue' as late_kind,
        {{ end_of_day('months.month_end') }} as judged_at,
        lateness.overdue_from_766 as due_at,
        case when lateness.overdue_from_766 = lateness.second_supplement_requested_at
            then 'second_supplement' else 'open_past_due' end as reason_code
    from lateness
    inner join months
        on months.month_end >= cast(lateness.received_at as date)
       and months.month_end >= cast(lateness.overdue_from_766 as date)
       and (lateness.finished_at is null or months.month_end < cast(lateness.finished_at as date))
    where lateness.overdue_from_766 is not null
    {%- if since is not none %}
      and (lateness.dossier_id in (select changed.dossier_id from changed)
           or months.month_start >= {{ month_of(since) }})
    {%- endif %}
),

rules_766 as (
    select
        late.*,
        exists (  -- noqa: LT01, LT06
            select 1 from {{ ref('int_dossier_apologies') }} as apologies
            where apologies.dossier_id = late.dossier_id and apologies.apologised_at <= late.judged_at
        ) as apology_by_judged_at
    from (
        select * from finished_766
        union all
        select * from open_766
    ) as late
),

late as (
    select * from periodic
    union all
    select * from rules_766
)

select
    late.month_start,
    late.dossier_id,
    late.rule,
    late.unit_id,
    late.late_kind,
    late.judged_at,
    late.month_end,
    late.due_at,
    late.reason_code,
    cast(case
        when not {{ dates_in_calendar_years(['late.due_at']) }} then null
        when late.late_kind = 'finished_late' then {{ working_days_between('late.due_at', 'late.judged_at') }}
        else {{ working_days_between('late.due_at', 'late.month_end') }}
    end as integer) as working_days_late,
    exists (  -- noqa: LT01, LT06
        select 1 from {{ ref('int_dossier_apologies') }} as apologies
        where apologies.dossier_id = late.dossier_id and apologies.apologised_at <= late.due_at
    ) as apology_issued,
    late.apology_by_judged_at
from late
