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
--
-- Incremental: a night recomputes only the cells and days it touched, from each cell's window
-- start, starting from the backlog of the day before (macros/dossier_daily_cells.sql); a full
-- refresh computes every cell from its first event.
{%- set flows = ['received_online', 'received_direct_postal', 'resolved_total', 'resolved_early',
                 'resolved_on_time', 'resolved_late', 'resolved_withdrawn_or_stopped'] %}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    indexes=[{'columns': ['unit_id', 'field_code', 'date_day'], 'unique': true}, {'columns': ['date_day']}],
    pre_hook=["{{ dossier_daily_window(ref('int_dossier_events')) }}"],
    post_hook=["{{ save_dossier_daily_marks() }}"]
) }}

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
    {%- if is_incremental() %}
    from (
        -- the window's first day starts from the backlog at the end of the day before
        select
            window_cells.unit_id,
            window_cells.field_code,
            window_cells.from_day as date_day,
            {%- for column in flows %}
            0 as {{ column }},
            {%- endfor %}
            coalesce(before.pending_on_time, 0) as pending_on_time_change,
            coalesce(before.pending_overdue, 0) as pending_overdue_change
        from ops.fct_dossier_daily_window as window_cells
        left join {{ this }} as before
            on before.unit_id = window_cells.unit_id
           and before.field_code = window_cells.field_code
           and before.date_day = window_cells.from_day - 1

        union all

        select
            events.unit_id,
            events.field_code,
            events.date_day,
            {%- for column in flows %}
            events.{{ column }},
            {%- endfor %}
            events.pending_on_time_change,
            events.pending_overdue_change
        from ops.fct_dossier_daily_window as window_cells
        inner join {{ ref('int_dossier_events') }} as events
            on events.unit_id = window_cells.unit_id
           and events.field_code = window_cells.field_code
           and events.date_day >= window_cells.from_day
        where events.date_day <= {{ as_of_date() }}
    ) as window_changes
    {%- else %}
    from {{ ref('int_dossier_events') }}
    where date_day <= {{ as_of_date() }}
    {%- endif %}
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
