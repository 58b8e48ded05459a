-- The rows of kpi.late_dossiers without the run's stamps: one row per (month_start, dossier_id,
-- rule) of int_late_dossier_months with the dossier's procedure and dates (fct_dossiers), its
-- statutory due time (int_dossier_statutory_due) and the official and department of the recorded
-- processing step that held the dossier longest up to the moment it is counted late (its finish,
-- or the month's end): a step holds it from NgayBatDau to ThoiDiemXuLy (cut at that moment); ties
-- go to the earlier step, then the lower step number and code; null when no step is recorded.
-- longest_step_key names that step (not published: it tells a later build that the step is gone).
--
-- Incremental (macro delete_recomputed_months): a night recomputes every month of the dossiers the
-- ledger changed, of the dossiers whose steps changed (a step written since this model's watermark
-- on onestop__steps, or the longest step of a row removed from the state: removing any other step
-- cannot change which one held the dossier longest), and every dossier's rows of the months from
-- the previous build's as_of_date on. A full refresh computes everything.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    indexes=[{'columns': ['month_start', 'dossier_id', 'rule'], 'unique': true}, {'columns': ['dossier_id']},
             {'columns': ['longest_step_key']}],
    pre_hook=["{{ delete_recomputed_months(also_keys=late_list_step_changes()) }}"],
    post_hook=["{{ save_state_watermark('onestop__dossiers') }}", "{{ save_state_watermark('onestop__steps') }}",
               "{{ save_as_of() }}"]
) }}
-- depends_on: {{ incremental_dependencies('stg_onestop__dossiers') }} {{ ref('stg_onestop__steps') }}
{%- set since = previous_as_of() if is_incremental() else none %}
with late as (
    select * from {{ ref('int_late_dossier_months') }} as late
    {%- if since is not none %}
    where {{ key_in('late.dossier_id', recomputed_dossiers()) }}
       or late.month_start >= {{ month_of(since) }}
    {%- endif %}
),

dossiers as (
    select dossier_id, field_code, procedure_code, procedure_name, received_at, finished_at
    from {{ ref('fct_dossiers') }}
    where dossier_id in (select late.dossier_id from late)
),

steps as (
    select step_key, dossier_id, step_no, step_code, official_name, department_name, started_at, processed_at
    from {{ ref('int_dossier_steps') }}
    where dossier_id in (select late.dossier_id from late)
      and started_at is not null
      and processed_at is not null
),

longest_steps as (
    select distinct on (late.month_start, late.dossier_id, late.rule)
        late.month_start,
        late.dossier_id,
        late.rule,
        steps.step_key,
        steps.official_name,
        steps.department_name
    from late
    inner join steps
        on steps.dossier_id = late.dossier_id
       and steps.started_at < late.judged_at
    order by late.month_start asc, late.dossier_id asc, late.rule asc,
             least(steps.processed_at, late.judged_at) - steps.started_at desc,
             steps.started_at asc, steps.step_no asc nulls last, steps.step_code asc
)

select
    late.month_start,
    late.dossier_id,
    late.rule,
    late.unit_id,
    dossiers.field_code,
    dossiers.procedure_code,
    dossiers.procedure_name,
    dossiers.received_at,
    late.due_at,
    statutory.statutory_due_at,
    case when late.late_kind = 'finished_late' then dossiers.finished_at end as finished_at,
    late.working_days_late,
    late.apology_issued,
    late.reason_code,
    longest_steps.official_name,
    longest_steps.department_name,
    longest_steps.step_key as longest_step_key
from late
inner join dossiers
    on dossiers.dossier_id = late.dossier_id
left join {{ ref('int_dossier_statutory_due') }} as statutory
    on statutory.dossier_id = late.dossier_id
left join longest_steps
    on longest_steps.month_start = late.month_start
   and longest_steps.dossier_id = late.dossier_id
   and longest_steps.rule = late.rule
