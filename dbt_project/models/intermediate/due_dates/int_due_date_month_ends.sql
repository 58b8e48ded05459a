-- The backlog verdicts of the due-date audit's monthly summary (issue 9 part 1): one row per
-- (month, dossier) for a dossier pending at the end of the month (its last day, capped at
-- as_of_date), judged there under both due times in force, for the dossiers whose verdict can
-- differ: those whose final due dates differ (int_dossier_statutory_due.due_date_differs) and
-- those with a supplement request (whose due time in force at a month's end may not be the final
-- one). Any other dossier has the same due time in force under both at every moment.
--
-- At the end E of a month (midnight after its last day counted):
-- * pending: received before E, not finished before E (the periodic report's backlog);
-- * waiting for the applicant's supplement (a request before E unanswered at E): within deadline
--   under both (macro pending_is_overdue);
-- * the report's due time in force: NgayHenTraTruoc of the first supplement requested at or after
--   E, else NgayHenTra (int_dossier_events' convention);
-- * the statutory due time in force: counted from the reception or the last supplement received
--   before E (macro statutory_due_at; the final one when no supplement came later).
--
-- Incremental (macro delete_recomputed_months), like int_late_dossier_months: a night recomputes
-- every month of the dossiers the ledger changed and every dossier's rows of the months from the
-- previous build's as_of_date on (the running month ends at as_of_date); an earlier month of an
-- unchanged dossier was judged at that month's end from the dossier's record alone and is kept.
-- A full refresh computes everything.
{%- set as_of = as_of_date() %}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    indexes=[{'columns': ['month', 'dossier_id'], 'unique': true}, {'columns': ['dossier_id']}],
    pre_hook=["{{ delete_recomputed_months(month_column='month') }}"],
    post_hook=["{{ save_state_watermark('onestop__dossiers') }}", "{{ save_as_of() }}"]
) }}
-- depends_on: {{ incremental_dependencies('stg_onestop__dossiers') }}
{%- set since = previous_as_of() if is_incremental() else none %}
with
{%- if since is not none %}

-- the dossiers whose every month is recomputed (a hashed set: the filters below test every
-- candidate row against it)
recomputed as materialized (
    {{ recomputed_dossiers() }}
),
{%- endif %}

candidates as (
    select due.*
    from {{ ref('int_dossier_statutory_due') }} as due
    where due.statutory_due_at is not null
      and (due.due_date_differs
           or exists (select 1 from {{ ref('int_dossier_supplements') }} as requested
                      where requested.dossier_id = due.dossier_id and requested.requested_at is not null))
      {%- if since is not none %}
      -- the recomputed dossiers, and those that can be pending at the end of a recomputed month
      and (due.dossier_id in (select recomputed.dossier_id from recomputed)
           or due.finished_at is null
           or due.finished_at >= {{ month_of(since) }})
      {%- endif %}
),

month_ends as (
    select
        candidates.*,
        cast(month_start as date) as month,
        cast(least(cast(month_start + interval '1 month' as date), {{ as_of }} + 1) as timestamp) as month_end_at
    from candidates
    cross join lateral generate_series(
        date_trunc('month', candidates.received_at),
        date_trunc('month', least(coalesce(candidates.finished_at, {{ end_of_day(as_of) }}), {{ end_of_day(as_of) }})),
        interval '1 month'
    ) as month_start
    {%- if since is not none %}
    -- every month of a recomputed dossier, the recomputed months of the others
    where candidates.dossier_id in (select recomputed.dossier_id from recomputed)
       or month_start >= {{ month_of(since) }}
    {%- endif %}
),

pending as (
    select
        month_ends.*,
        exists (  -- noqa: LT01, LT06
            select 1 from {{ ref('int_dossier_supplements') }} as requests
            where requests.dossier_id = month_ends.dossier_id
              and requests.requested_at < month_ends.month_end_at
              and (requests.supplement_received_at is null
                   or requests.supplement_received_at >= month_ends.month_end_at)
        ) as is_waiting_for_supplement,
        coalesce((
            select later.due_before_at from {{ ref('int_dossier_supplements') }} as later
            where later.dossier_id = month_ends.dossier_id and later.requested_at >= month_ends.month_end_at
            order by later.requested_at, later.supplement_seq
            limit 1
        ), month_ends.due_at) as report_due_in_force_at,
        greatest(month_ends.received_at, (
            select max(received.supplement_received_at) from {{ ref('int_dossier_supplements') }} as received
            where received.dossier_id = month_ends.dossier_id
              and received.supplement_received_at < month_ends.month_end_at
        )) as anchor_at_month_end
    from month_ends
    where month_ends.received_at < month_ends.month_end_at
      and (month_ends.finished_at is null or month_ends.finished_at >= month_ends.month_end_at)
),

judged as materialized (  -- the due time in force computed once per row
    select
        pending.*,
        case
            when pending.anchor_at_month_end = pending.due_anchor_at then pending.statutory_due_at
            else {{ statutory_due_at('pending.anchor_at_month_end', 'pending.time_limit', 'pending.time_limit_unit',
                                     'pending.is_in_person') }}
        end as statutory_due_in_force_at
    from pending
)

select
    month,
    dossier_id,
    unit_id,
    cast(month_end_at as date) - 1 as period_end,
    is_waiting_for_supplement,
    report_due_in_force_at,
    statutory_due_in_force_at,
    {{ pending_is_overdue('report_due_in_force_at', 'is_waiting_for_supplement', 'month_end_at') }}
        as overdue_by_report,
    {{ pending_is_overdue('coalesce(statutory_due_in_force_at, report_due_in_force_at)',
                          'is_waiting_for_supplement', 'month_end_at') }} as overdue_by_statutory
from judged
