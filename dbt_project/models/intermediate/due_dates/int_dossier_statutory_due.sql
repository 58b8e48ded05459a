-- One row per dossier counted in the periodic report, with its statutory due time beside the
-- source's (calendar.md "Statutory due dates"; issue 9 part 1; macros/statutory_due.sql):
--
-- * due_anchor_at: what the limit counts from: the reception (NgayTiepNhan), or, when a requested
--   supplement was received, the last such reception (NgayTiepNhanBoSung): the limit restarts
--   then, as the source's NgayHenTraMoi does. A request still waiting for its supplement does not
--   move the due time in force (the source keeps NgayHenTra too).
-- * statutory_clock_start_at: the anchor clipped into office hours, or the next working day's
--   opening when the anchor counts from then (non-working day, after closing, in person at or after
--   the cut-off).
-- * statutory_due_at: the statutory due time in force (null with statutory_due_unknown_reason when
--   it cannot be computed: never guessed); due_at: the source's NgayHenTra in force.
-- * working_days_difference: working days in (statutory due day, source due day]; positive when
--   the source's due date is later than the law allows (hidden lateness), negative when earlier,
--   0 when on the same day (due_date_differs may still be true: another time that day).
-- * finished_late_by_source / finished_late_by_statutory: a finished dossier finished after that
--   due time (withdrawn and stopped count on time, the periodic report's convention); null while
--   open (an open dossier is judged at a moment: publish/onestop/due_date_audit.sql).
--
-- Incremental on the dossiers the ledger changed (macros/incremental.sql), like
-- int_dossier_timeliness_766; the procedures list and the seeds are reference data (a change makes
-- the build a full refresh). Nothing here depends on as_of_date.
{{ config(**record_incremental_config('onestop__dossiers', 'stg_onestop__dossiers', 'dossier_id', 'dossier_id',
                                      indexes=[{'columns': ['dossier_id'], 'unique': true}])) }}
-- depends_on: {{ incremental_dependencies('stg_onestop__dossiers') }}
{%- set only_changed -%}
    {%- if is_incremental() %}
    and {{ key_in('dossier_id', changed_keys('onestop__dossiers', 'stg_onestop__dossiers', 'dossier_id')) }}
    {%- endif %}
{%- endset %}
with dossiers as (
    select
        dossier_id, unit_id, field_code, procedure_code, channel_code, received_at, due_at,
        finished_at, is_withdrawn_or_stopped, merge_id
    from {{ ref('int_dossiers') }}
    where is_in_report
    {{ only_changed }}
),

restarts as (
    select
        dossier_id,
        count(*) as supplements_received,
        max(supplement_received_at) as last_supplement_received_at
    from {{ ref('int_dossier_supplements') }}
    where supplement_received_at is not null
    {{ only_changed }}
    group by dossier_id
),

anchored as (
    select
        dossiers.*,
        {{ is_in_person_channel('dossiers.channel_code') }} as is_in_person,
        coalesce(restarts.supplements_received, 0) as supplements_received,
        greatest(dossiers.received_at, restarts.last_supplement_received_at) as due_anchor_at,
        procedures.procedure_code is not null as is_known_procedure,
        procedures.time_limit,
        procedures.time_limit_unit
    from dossiers
    left join restarts
        on restarts.dossier_id = dossiers.dossier_id
    left join {{ ref('dim_procedure') }} as procedures
        on procedures.procedure_code = dossiers.procedure_code
),

computed as materialized (  -- each due time computed once per row, not once per use below
    select
        anchored.*,
        {{ statutory_clock_start('anchored.due_anchor_at', 'anchored.is_in_person') }} as statutory_clock_start_at,
        {{ statutory_due_at('anchored.due_anchor_at', 'anchored.time_limit', 'anchored.time_limit_unit',
                            'anchored.is_in_person') }} as statutory_due_at
    from anchored
)

select
    dossier_id,
    unit_id,
    field_code,
    procedure_code,
    channel_code,
    is_in_person,
    received_at,
    supplements_received,
    due_anchor_at,
    statutory_clock_start_at,
    time_limit,
    time_limit_unit,
    statutory_due_at,
    case
        when statutory_due_at is not null then null
        when not is_known_procedure then 'unknown_procedure'
        when time_limit is null or time_limit < 0 then 'no_time_limit'
        when time_limit_unit is null or time_limit_unit not in ('NGAY_LAM_VIEC', 'NGAY', 'GIO')
            then 'unknown_limit_unit'
        when time_limit_unit <> 'GIO' and time_limit <> trunc(time_limit) then 'fractional_day_limit'
        else 'due_outside_calendar'
    end as statutory_due_unknown_reason,
    due_at,
    coalesce(statutory_due_at <> due_at, false) as due_date_differs,
    case
        when statutory_due_at is not null and due_at is not null
            then {{ working_days_between('statutory_due_at', 'due_at') }}
    end as working_days_difference,
    finished_at,
    is_withdrawn_or_stopped,
    {{ dossier_finished_late('finished_at', 'due_at', 'is_withdrawn_or_stopped') }} as finished_late_by_source,
    {{ dossier_finished_late('finished_at', 'statutory_due_at', 'is_withdrawn_or_stopped') }}
        as finished_late_by_statutory,
    merge_id
from computed
