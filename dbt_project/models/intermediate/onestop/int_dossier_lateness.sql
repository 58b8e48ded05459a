-- One row per dossier counted in the periodic report, judged by BOTH lateness rules, each with a
-- reason code (seeds/lateness_reasons.csv, the one list of codes; tested:
-- assert_lateness_reasons_are_catalogued), so that any count can be drilled down to dossiers:
--
-- * periodic_report: the report's rule as fct_dossiers.timeliness computes it (macro
--   dossier_timeliness: finish against NgayHenTra as it stands after any lawful extension);
-- * decision_766: the national portal's rule as int_dossier_timeliness_766 computes it (the
--   applicant's first supplement wait excluded, a second request makes the dossier late).
-- Neither rule is restated here: this model reads their results and names the reason.
--
-- A dossier not finished is classified 'open' with reason open_judged_at_period_end for both
-- rules: an open dossier is judged at each period's end (kpi.late_dossiers for the month ends,
-- int_open_dossier_lateness at as_of_date), never here, so these rows depend on the dossier alone.
--
-- Also, from DanhSachHoSoBoSung and DanhSachXinLoi: the supplement requests, the applicant's
-- waiting time in working days (working days in (request day, supplement day] summed over the
-- received supplements; a request not answered yet has no wait counted here), the apology slips,
-- and for a late dossier whether a slip was issued no later than the due time it missed (the
-- periodic rule: the due time in force, NgayHenTra; Decision 766: overdue_from_766).
--
-- Incremental on the dossiers the ledger changed (macros/incremental.sql), like its inputs.
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
        dossier_id, unit_id, field_code, procedure_code, status_code, finish_kind,
        is_withdrawn_or_stopped, received_at, due_at, finished_at, timeliness, working_days_late,
        merge_id
    from {{ ref('fct_dossiers') }}
    where is_in_report
    {{ only_changed }}
),

timeliness_766 as (
    select dossier_id, original_due_at, second_requested_at, overdue_from_766, timeliness_766
    from {{ ref('int_dossier_timeliness_766') }}
    where true
    {{ only_changed }}
),

supplements as (
    select
        dossier_id,
        count(*) as supplement_request_count,
        count(*) filter (where supplement_received_at is not null) as supplements_received,
        bool_or(supplement_received_at is null) as has_unanswered_request,
        -- null when a date of a received supplement lies in a year without a working-day notice
        case
            when bool_and({{ dates_in_calendar_years(['requested_at', 'supplement_received_at']) }})
                then coalesce(sum(
                    case when supplement_received_at is not null
                        then {{ working_days_between('requested_at', 'supplement_received_at') }} end), 0)
        end as applicant_wait_working_days
    from {{ ref('int_dossier_supplements') }}
    where requested_at is not null
    {{ only_changed }}
    group by dossier_id
),

apologies as (
    select dossier_id, apologised_at
    from {{ ref('int_dossier_apologies') }}
    where apologised_at is not null
    {{ only_changed }}
),

joined as (
    select
        dossiers.*,
        timeliness_766.original_due_at,
        timeliness_766.second_requested_at,
        timeliness_766.overdue_from_766,
        timeliness_766.timeliness_766,
        coalesce(supplements.supplement_request_count, 0) as supplement_request_count,
        coalesce(supplements.supplements_received, 0) as supplements_received,
        coalesce(supplements.has_unanswered_request, false) as has_unanswered_supplement_request,
        case when supplements.dossier_id is null then 0 else supplements.applicant_wait_working_days end
            as applicant_wait_working_days,
        (select count(*) from apologies where apologies.dossier_id = dossiers.dossier_id) as apology_count,
        (select min(apologies.apologised_at) from apologies where apologies.dossier_id = dossiers.dossier_id)
            as first_apology_at
    from dossiers
    left join timeliness_766
        on timeliness_766.dossier_id = dossiers.dossier_id
    left join supplements
        on supplements.dossier_id = dossiers.dossier_id
)

select
    dossier_id,
    unit_id,
    field_code,
    procedure_code,
    status_code,
    received_at,
    due_at,
    original_due_at,
    finished_at,
    supplement_request_count,
    supplements_received,
    has_unanswered_supplement_request,
    cast(applicant_wait_working_days as integer) as applicant_wait_working_days,
    cast(apology_count as integer) as apology_count,
    first_apology_at,

    -- the periodic report's rule
    coalesce(timeliness, 'open') as periodic_classification,
    case
        when finished_at is null then 'open_judged_at_period_end'
        when finish_kind = 'withdrawn' then 'withdrawn_counts_on_time'
        when finish_kind = 'stopped' then 'stopped_counts_on_time'
        when timeliness = 'late' then 'finished_after_due'
        when timeliness = 'early' then 'finished_early'
        when timeliness = 'on_time' then 'finished_on_time'
    end as periodic_reason_code,
    cast(working_days_late as integer) as periodic_working_days_late,
    case
        when timeliness = 'late' then exists (
            select 1 from apologies
            where apologies.dossier_id = joined.dossier_id and apologies.apologised_at <= joined.due_at)
    end as periodic_apology_issued,

    -- Decision 766
    second_requested_at as second_supplement_requested_at,
    overdue_from_766,
    coalesce(timeliness_766, 'open') as classification_766,
    case
        when finished_at is null then 'open_judged_at_period_end'
        when finish_kind = 'withdrawn' then 'withdrawn_counts_on_time'
        when finish_kind = 'stopped' then 'stopped_counts_on_time'
        when timeliness_766 = 'late' and overdue_from_766 = second_requested_at then 'second_supplement'
        when timeliness_766 = 'late' then 'finished_after_due'
        when timeliness_766 = 'on_time' then 'finished_on_time'
    end as reason_code_766,
    case
        when timeliness_766 = 'late' and {{ dates_in_calendar_years(['overdue_from_766', 'finished_at']) }}
            then cast({{ working_days_between('overdue_from_766', 'finished_at') }} as integer)
    end as working_days_late_766,
    case
        when timeliness_766 = 'late' then exists (
            select 1 from apologies
            where apologies.dossier_id = joined.dossier_id and apologies.apologised_at <= joined.overdue_from_766)
    end as apology_issued_766,
    merge_id
from joined
