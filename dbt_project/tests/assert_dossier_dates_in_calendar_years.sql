-- A counted dossier whose reception, due or finish date falls in a year without a working-day
-- notice (seeds/calendar_notices.csv) fails the build: working days are never guessed
-- (calendar.md). Same for as_of_date itself. Add the year's notice and exceptions to the seeds.
with notice_years as (
    select year from {{ ref('calendar_notices') }}
),

dossier_dates as (
    select dossier_id, 'received_at' as date_column, cast(received_at as date) as date_value
    from {{ ref('int_dossiers') }} where is_in_report
    union all
    select dossier_id, 'due_at', cast(due_at as date)
    from {{ ref('int_dossiers') }} where is_in_report
    union all
    select dossier_id, 'finished_at', cast(finished_at as date)
    from {{ ref('int_dossiers') }} where is_in_report
    union all
    select '(var as_of_date)', 'as_of_date', {{ as_of_date() }}
)

select dossier_dates.*
from dossier_dates
where dossier_dates.date_value is not null
  and cast(extract(year from dossier_dates.date_value) as integer) not in (select year from notice_years)
