-- One row per (dossier, day) on which the dossier changes the counts of its (unit, field) cell in
-- fct_dossier_daily: received (a reception by channel group; +1 backlog), finished (a finish by
-- timeliness; -1 backlog), and every day its end-of-day backlog state changes between within
-- deadline and overdue. The backlog of a cell on a day is the running sum of these changes up to
-- that day (fct_dossier_daily), so no row per dossier per open day is needed.
--
-- The state at the end of a pending day d (received on or before d, not finished by its end) is
-- the rule of the report (macro pending_is_overdue):
--   waiting:      a supplement was requested by the end of d and not received by then;
--   due in force: NgayHenTraTruoc of the first supplement requested after d (the due time before
--                 that supplement moved it), else NgayHenTra;
--   overdue:      not waiting and the due time in force is before the end of d.
-- Each of these can only change on the day a supplement is requested or received or a due time
-- (NgayHenTra, a NgayHenTraTruoc) falls: the state is evaluated, with that same rule, at the end of
-- the dossier's reception day and of each such day while it is pending, and holds until the next.
--
-- Events may lie after as_of_date (a due time not yet passed): fct_dossier_daily reads up to
-- as_of_date only, so these rows depend on the dossier alone. Incremental on the dossiers the
-- ledger changed (macros/incremental.sql).
-- Every night's changed cells are logged for fct_dossier_daily (macros/dossier_daily_cells.sql).
{{ config(**record_incremental_config(
    'onestop__dossiers', 'stg_onestop__dossiers', 'dossier_id', ['dossier_id', 'date_day'],
    indexes=[{'columns': ['dossier_id']}, {'columns': ['date_day']},
             {'columns': ['unit_id', 'field_code', 'date_day']}],
    before_delete=["{{ log_dossier_cell_changes('before') }}"],
    after_insert=["{{ log_dossier_cell_changes('after') }}"])) }}
-- depends_on: {{ incremental_dependencies('stg_onestop__dossiers') }}
{%- set only_changed -%}
    {%- if is_incremental() %}
    and {{ key_in('dossier_id', changed_keys('onestop__dossiers', 'stg_onestop__dossiers', 'dossier_id')) }}
    {%- endif %}
{%- endset %}
with dossiers as (
    select
        dossier_id,
        unit_id,
        field_code,
        channel_group,
        timeliness,
        is_withdrawn_or_stopped,
        due_at,
        cast(received_at as date) as received_day,
        cast(finished_at as date) as finished_day,
        merge_id
    from {{ ref('int_dossiers') }}
    where is_in_report
    {{ only_changed }}
),

supplements as (
    select dossier_id, supplement_seq, requested_at, supplement_received_at, due_before_at
    from {{ ref('int_dossier_supplements') }}
    where requested_at is not null
    {{ only_changed }}
),

-- the days on which a dossier's end-of-day state may change
change_days as (
    select dossier_id, received_day as date_day from dossiers
    union
    select dossier_id, cast(due_at as date) from dossiers where due_at is not null
    union
    select dossier_id, cast(requested_at as date) from supplements
    union
    select dossier_id, cast(supplement_received_at as date) from supplements
    where supplement_received_at is not null
    union
    select dossier_id, cast(due_before_at as date) from supplements where due_before_at is not null
),

-- those on which it is pending at the end of the day
pending_change_days as (
    select
        dossiers.dossier_id,
        change_days.date_day,
        dossiers.due_at
    from change_days
    inner join dossiers
        on dossiers.dossier_id = change_days.dossier_id
    where change_days.date_day >= dossiers.received_day
      and (dossiers.finished_day is null or change_days.date_day < dossiers.finished_day)
),

day_states as (
    select
        pending_change_days.dossier_id,
        pending_change_days.date_day,
        min(pending_change_days.due_at) as due_at,
        coalesce(bool_or(
            supplements.requested_at < {{ end_of_day('pending_change_days.date_day') }}
            and (supplements.supplement_received_at is null
                 or supplements.supplement_received_at >= {{ end_of_day('pending_change_days.date_day') }})
        ), false) as is_waiting_for_supplement,
        (array_agg(supplements.due_before_at order by supplements.requested_at, supplements.supplement_seq)
            filter (where supplements.requested_at >= {{ end_of_day('pending_change_days.date_day') }}
                      and supplements.due_before_at is not null))[1] as due_before_later_supplement
    from pending_change_days
    left join supplements
        on supplements.dossier_id = pending_change_days.dossier_id
    group by pending_change_days.dossier_id, pending_change_days.date_day
),

states as (
    select
        dossier_id,
        date_day,
        {{ pending_is_overdue('coalesce(due_before_later_supplement, due_at)',
                              'is_waiting_for_supplement', end_of_day('date_day')) }} as is_overdue
    from day_states
),

-- a state that differs from the day before: into the new state, out of the previous one
transitions as (
    select
        dossier_id,
        date_day,
        is_overdue,
        lag(is_overdue) over (partition by dossier_id order by date_day) as previous_is_overdue,
        row_number() over (partition by dossier_id order by date_day desc) as from_last
    from states
),

changes as (
    select
        dossier_id,
        date_day,
        0 as received_online,
        0 as received_direct_postal,
        0 as resolved_total,
        0 as resolved_early,
        0 as resolved_on_time,
        0 as resolved_late,
        0 as resolved_withdrawn_or_stopped,
        (case when not is_overdue then 1 else 0 end)
            - (case when previous_is_overdue = false then 1 else 0 end) as pending_on_time_change,
        (case when is_overdue then 1 else 0 end)
            - (case when previous_is_overdue then 1 else 0 end) as pending_overdue_change
    from transitions
    where previous_is_overdue is null or previous_is_overdue <> is_overdue

    union all

    -- finished: out of the backlog in the state of the day before
    select
        transitions.dossier_id,
        dossiers.finished_day,
        0, 0, 0, 0, 0, 0, 0,
        case when not transitions.is_overdue then -1 else 0 end,
        case when transitions.is_overdue then -1 else 0 end
    from transitions
    inner join dossiers
        on dossiers.dossier_id = transitions.dossier_id
    where transitions.from_last = 1
      and dossiers.finished_day is not null

    union all

    -- the flows
    select
        dossier_id,
        received_day,
        case when channel_group = 'online' then 1 else 0 end,
        case when channel_group = 'direct_postal' then 1 else 0 end,
        0, 0, 0, 0, 0, 0, 0
    from dossiers

    union all

    select
        dossier_id,
        finished_day,
        0, 0,
        1,
        case when timeliness = 'early' then 1 else 0 end,
        case when timeliness = 'on_time' then 1 else 0 end,
        case when timeliness = 'late' then 1 else 0 end,
        case when is_withdrawn_or_stopped then 1 else 0 end,
        0, 0
    from dossiers
    where finished_day is not null
)

select
    changes.dossier_id,
    changes.date_day,
    dossiers.unit_id,
    dossiers.field_code,
    cast(sum(changes.received_online) as integer) as received_online,
    cast(sum(changes.received_direct_postal) as integer) as received_direct_postal,
    cast(sum(changes.resolved_total) as integer) as resolved_total,
    cast(sum(changes.resolved_early) as integer) as resolved_early,
    cast(sum(changes.resolved_on_time) as integer) as resolved_on_time,
    cast(sum(changes.resolved_late) as integer) as resolved_late,
    cast(sum(changes.resolved_withdrawn_or_stopped) as integer) as resolved_withdrawn_or_stopped,
    cast(sum(changes.pending_on_time_change) as integer) as pending_on_time_change,
    cast(sum(changes.pending_overdue_change) as integer) as pending_overdue_change,
    dossiers.merge_id
from changes
inner join dossiers
    on dossiers.dossier_id = changes.dossier_id
group by changes.dossier_id, changes.date_day, dossiers.unit_id, dossiers.field_code, dossiers.merge_id
