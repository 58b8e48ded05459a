-- One row per dossier counted in the periodic report, judged by the national portal's timeliness
-- rule (Decision 766; domain.md: "The national portal's timeliness rule differs from the periodic
-- report's"), named apart from the periodic report's timeliness (fct_dossiers.timeliness):
--
-- * the time spent waiting for the applicant's supplement is excluded: the clock is the original
--   due time (NgayHenTraTruoc of the first supplement request, else NgayHenTra), paused from the
--   first request (NgayYeuCauBoSung) until the supplement is received (NgayTiepNhanBoSung);
-- * a second supplement request makes the dossier late, from the moment it is made;
-- * an unfinished dossier is judged at the period's end (int_indicator_monthly_counts).
--
-- The original due time when the source leaves NgayHenTraTruoc of the first request blank: while
-- that supplement has not come, NgayHenTra still is the original; once it has come, NgayHenTra is
-- the restarted due time (the limit counted again from the supplement), which would exclude the
-- wait twice. Then the original is the statutory due time from the reception (macro
-- statutory_due_at, int_dossier_statutory_due's inputs): the due time the law set before any
-- request (issue 9; tests/test_due_date_scenarios.py S26).
--
-- overdue_from_766 is the first moment the dossier is late by this rule, null while it cannot be
-- (waiting for a supplement that has not come, or no due time):
--   the due time reached before the first request  -> the original due time;
--   the first supplement received                  -> the original due time + the wait;
--   earliest of that and the second request.
-- Only the first wait matters: from the second request on the dossier is late anyway. A finished
-- dossier is late when it finished after overdue_from_766; withdrawn and stopped dossiers count on
-- time (the periodic report's convention); a dossier pending at the end of day d is overdue when
-- overdue_from_766 < end of d, i.e. from the day overdue_day_766 on.
--
-- Incremental on the dossiers the ledger changed (macros/incremental.sql), like fct_dossiers.
{{ config(**record_incremental_config('onestop__dossiers', 'stg_onestop__dossiers', 'dossier_id', 'dossier_id',
                                      indexes=[{'columns': ['dossier_id'], 'unique': true}])) }}
-- depends_on: {{ incremental_dependencies('stg_onestop__dossiers') }}
{%- set only_changed -%}
    {%- if is_incremental() %}
    and {{ key_in('dossier_id', changed_keys('onestop__dossiers', 'stg_onestop__dossiers', 'dossier_id')) }}
    {%- endif %}
{%- endset %}
with dossiers as (
    select dossier_id, unit_id, received_at, due_at, finished_at, is_withdrawn_or_stopped, merge_id
    from {{ ref('int_dossiers') }}
    where is_in_report
    {{ only_changed }}
),

requests as (
    select
        dossier_id,
        requested_at,
        supplement_received_at,
        due_before_at,
        row_number() over (partition by dossier_id order by requested_at, supplement_seq) as request_seq
    from {{ ref('int_dossier_supplements') }}
    where requested_at is not null
    {{ only_changed }}
),

firsts as (
    select
        dossier_id,
        max(requested_at) filter (where request_seq = 1) as first_requested_at,
        max(supplement_received_at) filter (where request_seq = 1) as first_received_at,
        max(due_before_at) filter (where request_seq = 1) as first_due_before_at,
        max(requested_at) filter (where request_seq = 2) as second_requested_at,
        count(*) as request_count
    from requests
    group by dossier_id
),

clock as (
    select
        dossiers.*,
        coalesce(firsts.request_count, 0) as supplement_request_count,
        firsts.first_requested_at,
        firsts.first_received_at,
        firsts.second_requested_at,
        case
            when firsts.first_due_before_at is not null then firsts.first_due_before_at
            when firsts.first_received_at is null then dossiers.due_at
            else (
                select {{ statutory_due_at('statutory.received_at', 'statutory.time_limit',
                                           'statutory.time_limit_unit', 'statutory.is_in_person') }}
                from {{ ref('int_dossier_statutory_due') }} as statutory
                where statutory.dossier_id = dossiers.dossier_id
            )
        end as original_due_at
    from dossiers
    left join firsts
        on firsts.dossier_id = dossiers.dossier_id
),

judged as (
    select
        *,
        least(
            case
                when original_due_at is null then null
                when first_requested_at is null or original_due_at <= first_requested_at then original_due_at
                when first_received_at is not null
                    then original_due_at + (first_received_at - first_requested_at)
            end,
            second_requested_at
        ) as overdue_from_766
    from clock
)

select
    dossier_id,
    unit_id,
    cast(received_at as date) as received_day,
    finished_at,
    cast(finished_at as date) as finished_day,
    original_due_at,
    supplement_request_count,
    case
        when first_received_at is not null then first_received_at - first_requested_at
    end as first_supplement_wait,
    second_requested_at,
    overdue_from_766,
    cast(overdue_from_766 as date) as overdue_day_766,
    {{ dossier_timeliness_766('finished_at', 'overdue_from_766', 'is_withdrawn_or_stopped') }} as timeliness_766,
    merge_id
from judged
