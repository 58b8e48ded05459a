-- One row per dossier with the counting rules of the periodic report applied
-- (domain.md "Counting rules"; rules in macros/dossier_rules.sql and seeds/dossier_statuses.csv):
-- received_at, finished_at, timeliness, channel group, and whether the dossier can be counted.
--
-- A dossier the report cannot count honestly is kept, with report_exclusion_reason saying why,
-- and left out of every count (a warn-level test lists them): never received (statuses 1, 3:
-- 'not_received', not a defect), or a defect: unknown status / unit / channel, no field, a field
-- that is no field of the procedures list ('unknown_field'), a received status without
-- NgayTiepNhan, a terminal status without a finish time, a finish before the reception, no due
-- date on a dossier that must be judged against one (or that was pending without one), a
-- reception, due or finish date in a year without a working-day notice ('date_outside_calendar':
-- calendar.md forbids guessing such a year; the dossier is named, not counted).
--
-- Incremental (macros/incremental.sql): a night recomputes only the dossiers the ledger's merges
-- wrote or removed since this model's watermark; nothing here depends on as_of_date, and a change
-- of reference data or code makes the build a full refresh (cchc.transform.incremental).
{{ config(**record_incremental_config('onestop__dossiers', 'stg_onestop__dossiers', 'dossier_id', 'dossier_id',
                                      indexes=[{'columns': ['dossier_id'], 'unique': true}])) }}
-- depends_on: {{ incremental_dependencies('stg_onestop__dossiers') }}
-- materialized: each staging column is computed once per row (read through the view, the
-- columns used several times below would each be re-parsed from the JSON every time)
with dossiers as materialized (
    select * from {{ ref('stg_onestop__dossiers') }} as changed
    {%- if is_incremental() %}
    where {{ changed_rows_filter('changed', 'onestop__dossiers') }}
    {%- endif %}
),

statuses as (
    select * from {{ ref('dossier_statuses') }}
),

channels as (
    select * from {{ ref('dossier_channels') }}
),

units as (
    select unit_id from {{ ref('stg_reference__units') }}
),

procedures as (
    select procedure_code, procedure_name, field_code, field_name
    from {{ ref('stg_reference__procedures') }}
),

-- the fields a dossier may be counted under: those of the procedures list ('*' is reserved for
-- the all-fields rows of the report)
known_fields as (
    select distinct field_code
    from {{ ref('stg_reference__procedures') }}
    where field_code is not null and field_code <> {{ all_fields_code() }}
),

joined as (
    select
        dossiers.dossier_id,
        dossiers.procedure_code,
        coalesce(dossiers.procedure_name, procedures.procedure_name) as procedure_name,
        -- the dossier's own field; the procedure's field when the dossier does not say
        coalesce(dossiers.field_code, procedures.field_code) as field_code,
        coalesce(dossiers.field_name, procedures.field_name) as field_name,
        dossiers.unit_id,
        units.unit_id is not null as is_known_unit,
        dossiers.receiving_unit_id,
        dossiers.channel_code,
        channels.channel_group,
        dossiers.applicant_type_code,
        dossiers.status_code,
        statuses.status_code is not null as is_known_status,
        coalesce(statuses.is_received, false) as is_received,
        coalesce(statuses.is_terminal, false) as is_terminal,
        statuses.finish_kind,
        coalesce(statuses.is_withdrawn_or_stopped, false) as is_withdrawn_or_stopped,
        dossiers.submitted_at,
        dossiers.accepted_at,
        case when statuses.is_received then dossiers.accepted_at end as received_at,
        dossiers.due_at,
        {{ dossier_finished_at('statuses.is_terminal', 'dossiers.processing_ended_at',
                               'dossiers.returned_at', 'statuses.finish_kind') }} as finished_at,
        dossiers.processing_ended_at,
        dossiers.returned_at,
        dossiers.refused_at,
        dossiers.result_delivery_code,
        dossiers.online_payment_code,
        dossiers.has_digitised_components,
        dossiers.is_vneid_verified,
        dossiers.applicant_name_pseudonym,
        dossiers.applicant_id_pseudonym,
        dossiers.applicant_phone_pseudonym,
        dossiers.applicant_email_pseudonym,
        dossiers.updated_at,
        dossiers.source_day,
        dossiers.batch_id,
        dossiers.merge_id
    from dossiers
    left join statuses
        on statuses.status_code = dossiers.status_code
    left join channels
        on channels.channel_code = dossiers.channel_code
    left join units
        on units.unit_id = dossiers.unit_id
    left join procedures
        on procedures.procedure_code = dossiers.procedure_code
),

checked as (
    select
        joined.*,
        coalesce(joined.field_code in (select known_fields.field_code from known_fields), false)
            as is_known_field,
        {{ dates_in_calendar_years(['joined.received_at', 'joined.due_at', 'joined.finished_at']) }}
            as has_dates_in_calendar
    from joined
),

judged as (
    select
        *,
        {{ dossier_timeliness('finished_at', 'due_at', 'is_withdrawn_or_stopped') }} as timeliness,
        case
            when not is_known_status then 'unknown_status'
            when not is_received then 'not_received'
            when received_at is null then 'no_reception_time'
            when not is_known_unit then 'unknown_unit'
            when channel_group is null then 'unknown_channel'
            when field_code is null then 'no_field'
            when not is_known_field then 'unknown_field'
            when is_terminal and finished_at is null then 'no_finish_time'
            when finished_at < received_at then 'finished_before_received'
            -- withdrawn / stopped need no due date to be judged, unless they were pending at the
            -- end of a day (then the backlog split needs the due time in force)
            when due_at is null and (not is_withdrawn_or_stopped
                                     or cast(finished_at as date) > cast(received_at as date))
                then 'no_due_date'
            when not has_dates_in_calendar then 'date_outside_calendar'
        end as report_exclusion_reason
    from checked
)

select
    *,
    report_exclusion_reason is null as is_in_report
from judged
