{{ config(indexes=[{"columns": ["month", "dossier_code", "rule"], "unique": true},
                   {"columns": ["unit_id", "month"]}]) }}
-- kpi.late_dossiers, the monthly list of late dossiers (published.md; domain.md "Targets and
-- accountability rules": the list the directives require to be published monthly).
-- One row per (month, dossier_code, rule) for every dossier finished late in the month or still
-- open past its due time at the month's end (the end of as_of_date for the running month), for
-- each rule that finds it late (int_late_dossier_months):
--   periodic_report  the periodic report's rule: the month's rows of a unit are resolved_late +
--                    pending_overdue of its kpi.tthc_report month row (field '*');
--   decision_766     the national portal's rule: the month's dossiers_late_766 (kpi.service_index).
-- due_at: the due time the rule judged against (periodic: NgayHenTra in force; 766: the original
-- due time plus the applicant's first supplement wait, or the second supplement request);
-- statutory_due_at: the law's due time (int_dossier_statutory_due, calendar.md); finished_at null
-- when open at the month's end; working_days_late: working days in (due day, finish day], or
-- (due day, month end] when open; apology_issued: an apology slip dated no later than due_at;
-- official_name / department: the official and department of the recorded processing step that
-- held the dossier longest up to the moment it is counted late (its finish, or the month's end):
-- a step holds it from NgayBatDau to ThoiDiemXuLy (cut at that moment); ties go to the earlier
-- step; null when no step is recorded. No applicant data.
with late as (
    select * from {{ ref('int_late_dossier_months') }}
),

dossiers as (
    select dossier_id, field_code, procedure_code, procedure_name, received_at, finished_at
    from {{ ref('fct_dossiers') }}
    where dossier_id in (select late.dossier_id from late)
),

steps as (
    select dossier_id, step_no, step_code, official_name, department_name, started_at, processed_at
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
    late.month_start as month,
    late.dossier_id as dossier_code,
    late.rule,
    late.unit_id,
    units.unit_name,
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
    longest_steps.department_name as department,
    {{ publication_id() }} as publication_id
from late
inner join dossiers
    on dossiers.dossier_id = late.dossier_id
left join {{ ref('dim_unit') }} as units
    on units.unit_id = late.unit_id
left join {{ ref('int_dossier_statutory_due') }} as statutory
    on statutory.dossier_id = late.dossier_id
left join longest_steps
    on longest_steps.month_start = late.month_start
   and longest_steps.dossier_id = late.dossier_id
   and longest_steps.rule = late.rule
