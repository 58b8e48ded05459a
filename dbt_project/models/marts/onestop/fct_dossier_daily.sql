-- One row per (date_day, unit_id, field_code) with the day's flows and the end-of-day backlog of
-- the dossiers the unit (DonViXuLy) handles, for days from the first reception to as_of_date;
-- only rows with a flow or a backlog (a missing row is all zeros).
-- Per unit and field, by construction:
--   pending_total(d) = pending_total(d - 1) + received(d) - resolved(d)
-- (a dossier is pending at the end of d iff received on or before d and not finished by then),
-- which is what makes the report's identities hold for any period.
with dossiers as (
    select * from {{ ref('int_dossiers') }}
    where is_in_report
),

events as (
    select
        cast(received_at as date) as date_day,
        unit_id,
        field_code,
        'received' as event,
        channel_group as kind,
        false as is_withdrawn_or_stopped
    from dossiers
    where cast(received_at as date) <= {{ as_of_date() }}

    union all

    select
        cast(finished_at as date),
        unit_id,
        field_code,
        'resolved',
        timeliness,
        is_withdrawn_or_stopped
    from dossiers
    where cast(finished_at as date) <= {{ as_of_date() }}

    union all

    select
        date_day,
        unit_id,
        field_code,
        'pending',
        case when is_overdue then 'overdue' else 'on_time' end,
        false
    from {{ ref('int_dossier_pending_days') }}
)

select
    date_day,
    unit_id,
    field_code,
    count(*) filter (where event = 'received' and kind = 'online') as received_online,
    count(*) filter (where event = 'received' and kind = 'direct_postal') as received_direct_postal,
    count(*) filter (where event = 'resolved') as resolved_total,
    count(*) filter (where event = 'resolved' and kind = 'early') as resolved_early,
    count(*) filter (where event = 'resolved' and kind = 'on_time') as resolved_on_time,
    count(*) filter (where event = 'resolved' and kind = 'late') as resolved_late,
    count(*) filter (where event = 'resolved' and is_withdrawn_or_stopped) as resolved_withdrawn_or_stopped,
    count(*) filter (where event = 'pending') as pending_total,
    count(*) filter (where event = 'pending' and kind = 'on_time') as pending_on_time,
    count(*) filter (where event = 'pending' and kind = 'overdue') as pending_overdue
from events
group by date_day, unit_id, field_code
