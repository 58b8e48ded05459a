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
-- held the dossier longest up to the moment it is counted late (int_late_dossier_list, where the
-- rows are kept incrementally; this table is their copy with the unit's name and the publication).
-- No applicant data.
select
    listed.month_start as month,
    listed.dossier_id as dossier_code,
    listed.rule,
    listed.unit_id,
    units.unit_name,
    listed.field_code,
    listed.procedure_code,
    listed.procedure_name,
    listed.received_at,
    listed.due_at,
    listed.statutory_due_at,
    listed.finished_at,
    listed.working_days_late,
    listed.apology_issued,
    listed.reason_code,
    listed.official_name,
    listed.department_name as department,
    {{ publication_id() }} as publication_id
from {{ ref('int_late_dossier_list') }} as listed
left join {{ ref('dim_unit') }} as units
    on units.unit_id = listed.unit_id
