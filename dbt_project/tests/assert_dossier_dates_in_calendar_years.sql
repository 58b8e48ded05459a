-- The working-day calendar (seeds/calendar_notices.csv) covers every year the report needs:
-- as_of_date, every day of the report periods (int_report_periods), and the dates of every
-- counted dossier and document. A missing year fails the build: working days are never guessed
-- (calendar.md); add the year's notice and exceptions to the seeds.
--
-- A single record cannot fail this test: a dossier or document with a date in a year without a
-- notice is left out of the counts as 'date_outside_calendar' (int_dossiers, fct_documents) and
-- named by the warning-level tests fct_dossiers_left_out_of_the_report /
-- fct_documents_left_out_of_the_kpis. Counted records are checked here as a guard on that rule:
-- the records of the night (macro night_rows; every record on a full refresh).
with notice_years as (
    select year from {{ ref('calendar_notices') }}
),

needed_dates as (
    select '(var as_of_date)' as needed_by, 'as_of_date' as date_column, {{ as_of_date() }} as date_value
    union all
    select 'report period ' || period_type || ' ' || period_start, 'period_start', period_start
    from {{ ref('int_report_periods') }}
    union all
    select 'report period ' || period_type || ' ' || period_start, 'period_end', period_end
    from {{ ref('int_report_periods') }}
    union all
    select 'dossier ' || dossier_id, 'received_at', cast(received_at as date)
    from {{ night_rows(ref('int_dossiers')) }} where is_in_report
    union all
    select 'dossier ' || dossier_id, 'due_at', cast(due_at as date)
    from {{ night_rows(ref('int_dossiers')) }} where is_in_report
    union all
    select 'dossier ' || dossier_id, 'finished_at', cast(finished_at as date)
    from {{ night_rows(ref('int_dossiers')) }} where is_in_report
    union all
    select 'document ' || document_id, 'report_date', report_date
    from {{ night_rows(ref('fct_documents')) }} where is_in_esignature_kpi
)

select needed_dates.*
from needed_dates
where needed_dates.date_value is not null
  and cast(extract(year from needed_dates.date_value) as integer) not in (select notice_years.year from notice_years)
