-- One row per (date_day, unit_id, field_code) with the day's flows and the end-of-day backlog of
-- the dossiers the unit (DonViXuLy) handles, for days from the first reception to as_of_date;
-- only rows with a flow or a backlog (a missing row is all zeros).
-- Per unit and field, by construction:
--   pending_total(d) = pending_total(d - 1) + received(d) - resolved(d)
-- (a dossier is pending at the end of d iff received on or before d and not finished by then),
-- which is what makes the report's identities hold for any period.
--
-- Built from the dossiers' events (int_dossier_events): the flows of a day are the sum of that
-- day's events of the cell; the backlog (within deadline / overdue) is the running sum of the
-- backlog changes up to the day. A cell's backlog holds from one event day to the next, so every
-- day in between with a backlog gets its row. The cost follows units x fields x days, not
-- dossiers x open days.
{%- set flows = ['received_online', 'received_direct_postal', 'resolved_total', 'resolved_early',
                 'resolved_on_time', 'resolved_late', 'resolved_withdrawn_or_stopped'] %}

-- the changes of each (unit, field) cell on each day with an event
with cell_changes as (
    select
        unit_id,
        field_code,
        date_day,
        {%- for column in flows %}
        sum({{ column }}) as {{ column }},
        {%- endfor %}
        sum(pending_on_time_change) as pending_on_time_change,
        sum(pending_overdue_change) as pending_overdue_change
    from {{ ref('int_dossier_events') }}
    where date_day <= {{ as_of_date() }}
    group by unit_id, field_code, date_day
),

-- the backlog at the end of each event day, and the next event day of the cell
running as (
    select
        *,
        sum(pending_on_time_change) over cell_days as pending_on_time,
        sum(pending_overdue_change) over cell_days as pending_overdue,
        lead(date_day) over (partition by unit_id, field_code order by date_day) as next_event_day
    from cell_changes
    window cell_days as (partition by unit_id, field_code order by date_day
                         rows between unbounded preceding and current row)
),

days as (
    -- the event day: its flows and its backlog
    select
        date_day,
        unit_id,
        field_code,
        {%- for column in flows %}
        {{ column }},
        {%- endfor %}
        pending_on_time,
        pending_overdue
    from running

    union all

    -- the days after it until the next event day (or as_of_date): the same backlog, no flow
    select
        cast(later.day as date),
        running.unit_id,
        running.field_code,
        {%- for column in flows %}
        0,
        {%- endfor %}
        running.pending_on_time,
        running.pending_overdue
    from running
    cross join lateral generate_series(
        cast(running.date_day + 1 as timestamp),
        cast(coalesce(running.next_event_day - 1, {{ as_of_date() }}) as timestamp),
        interval '1 day'
    ) as later (day)
    where running.pending_on_time + running.pending_overdue > 0
)

select
    date_day,
    unit_id,
    field_code,
    cast(received_online as bigint) as received_online,
    cast(received_direct_postal as bigint) as received_direct_postal,
    cast(resolved_total as bigint) as resolved_total,
    cast(resolved_early as bigint) as resolved_early,
    cast(resolved_on_time as bigint) as resolved_on_time,
    cast(resolved_late as bigint) as resolved_late,
    cast(resolved_withdrawn_or_stopped as bigint) as resolved_withdrawn_or_stopped,
    cast(pending_on_time + pending_overdue as bigint) as pending_total,
    cast(pending_on_time as bigint) as pending_on_time,
    cast(pending_overdue as bigint) as pending_overdue
from days
where received_online + received_direct_postal + resolved_total + pending_on_time + pending_overdue > 0
