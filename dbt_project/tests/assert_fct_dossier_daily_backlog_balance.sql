-- fct_dossier_daily, per unit and field: the backlog at the end of a day is the backlog at the
-- end of the day before plus the day's receptions minus its finishes (the day-level form of the
-- report's identities 4 and 5). A missing row is all zeros, so every day after a row with a
-- backlog must have a row too.
with daily as (
    select * from {{ ref('fct_dossier_daily') }}
),

days as (
    select date_day, unit_id, field_code from daily
    union
    select date_day + 1, unit_id, field_code from daily
    where pending_total > 0 and date_day < {{ as_of_date() }}
)

select
    days.date_day,
    days.unit_id,
    days.field_code,
    coalesce(previous.pending_total, 0) as previous_pending,
    coalesce(today.received_online + today.received_direct_postal, 0) as received,
    coalesce(today.resolved_total, 0) as resolved,
    coalesce(today.pending_total, 0) as pending
from days
left join daily as today
    on today.date_day = days.date_day
    and today.unit_id = days.unit_id
    and today.field_code = days.field_code
left join daily as previous
    on previous.date_day = days.date_day - 1
    and previous.unit_id = days.unit_id
    and previous.field_code = days.field_code
where coalesce(previous.pending_total, 0)
      + coalesce(today.received_online + today.received_direct_postal, 0)
      - coalesce(today.resolved_total, 0)
      <> coalesce(today.pending_total, 0)
