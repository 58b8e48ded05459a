-- One row per dossier open at the end of as_of_date (received by then, not finished), judged there
-- by both lateness rules with a reason code (seeds/lateness_reasons.csv):
--   periodic_report  the report's rule for a pending dossier (macro pending_is_overdue, as
--                    int_dossier_events applies it): waiting for the applicant's supplement ->
--                    waiting_for_supplement (within deadline); else the due time in force
--                    (NgayHenTraTruoc of the first supplement requested later, else NgayHenTra)
--                    before the end of the day -> open_past_due; else open_within_due;
--   decision_766     overdue_from_766 (int_dossier_timeliness_766) before the end of the day ->
--                    second_supplement when the second request is what made it late, else
--                    open_past_due; else waiting_for_supplement while a request is unanswered;
--                    else open_within_due.
-- The late ones are the running month's open rows of kpi.late_dossiers (tested). A table over the
-- open dossiers only, rebuilt each night (it depends on as_of_date).
{%- set moment = end_of_day(as_of_date()) %}
with open_dossiers as (
    select *
    from {{ ref('int_dossier_lateness') }}
    where cast(received_at as date) <= {{ as_of_date() }}
      and (finished_at is null or cast(finished_at as date) > {{ as_of_date() }})
),

supplements as (
    select supplements.dossier_id, supplements.supplement_seq, supplements.requested_at,
           supplements.supplement_received_at, supplements.due_before_at
    from {{ ref('int_dossier_supplements') }} as supplements
    inner join open_dossiers
        on open_dossiers.dossier_id = supplements.dossier_id
    where supplements.requested_at is not null
),

states as (
    select
        open_dossiers.*,
        coalesce((
            select bool_or(supplements.requested_at < {{ moment }}
                           and (supplements.supplement_received_at is null
                                or supplements.supplement_received_at >= {{ moment }}))
            from supplements where supplements.dossier_id = open_dossiers.dossier_id
        ), false) as is_waiting_for_supplement,
        coalesce((
            select supplements.due_before_at
            from supplements
            where supplements.dossier_id = open_dossiers.dossier_id
              and supplements.requested_at >= {{ moment }}
              and supplements.due_before_at is not null
            order by supplements.requested_at, supplements.supplement_seq
            limit 1
        ), open_dossiers.due_at) as due_in_force_at
    from open_dossiers
),

judged as (
    select
        *,
        {{ pending_is_overdue('due_in_force_at', 'is_waiting_for_supplement', moment) }} as is_overdue,
        coalesce(overdue_from_766 < {{ moment }}, false) as is_overdue_766
    from states
)

select
    dossier_id,
    unit_id,
    field_code,
    {{ as_of_date() }} as judged_on,
    received_at,
    due_in_force_at,
    is_waiting_for_supplement,
    case when is_overdue then 'late' else 'open' end as periodic_classification,
    case
        when is_overdue then 'open_past_due'
        when is_waiting_for_supplement then 'waiting_for_supplement'
        else 'open_within_due'
    end as periodic_reason_code,
    overdue_from_766,
    case when is_overdue_766 then 'late' else 'open' end as classification_766,
    case
        when is_overdue_766 and overdue_from_766 = second_supplement_requested_at then 'second_supplement'
        when is_overdue_766 then 'open_past_due'
        when is_waiting_for_supplement then 'waiting_for_supplement'
        else 'open_within_due'
    end as reason_code_766
from judged
