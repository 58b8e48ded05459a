{{ config(indexes=[{"columns": ["month", "dossier_code"], "unique": true}]) }}
-- kpi.due_date_audit (published.md; calendar.md "Statutory due dates"; issue 9 part 1): one row
-- per dossier counted in the report whose due date in force (NgayHenTra) differs from its
-- statutory due date (int_dossier_statutory_due, macros/statutory_due.sql). month = the first day
-- of the reception month. late_by_statutory: finished after the statutory due time, or still open
-- at the end of as_of_date after it (withdrawn and stopped count on time, the periodic report's
-- convention). No applicant data.
select
    cast(date_trunc('month', due.received_at) as date) as month,
    due.dossier_id as dossier_code,
    due.unit_id,
    due.procedure_code,
    due.received_at,
    due.due_at,
    due.statutory_due_at,
    due.working_days_difference,
    due.finished_at,
    case
        when due.finished_at is not null then due.finished_late_by_statutory
        else due.statutory_due_at < {{ end_of_day(as_of_date()) }}
    end as late_by_statutory,
    {{ publication_id() }} as publication_id
from {{ ref('int_dossier_statutory_due') }} as due
where due.due_date_differs
