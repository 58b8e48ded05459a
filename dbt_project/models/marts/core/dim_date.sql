{{ config(indexes=[{'columns': ['date_day'], 'unique': true}]) }}
-- The public-sector working-day calendar (calendar.md): one row per date of every year that has
-- a notice in seeds/calendar_notices.csv, never beyond (a date outside is an error, not a guess).
-- working_day_seq counts working days cumulatively, so the working days in (a, b] are
-- seq(b) - seq(a) (macros/calendar.sql). Python twin: plugins/cchc_demo/working_days.py.
with notices as (
    select year, source_notice from {{ ref('calendar_notices') }}
),

exceptions as (
    select calendar_date, kind, holiday_name, source_notice
    from {{ ref('calendar_exceptions') }}
),

days as (
    select
        cast(series.day as date) as date_day,
        notices.year,
        notices.source_notice as year_notice
    from notices
    cross join lateral generate_series(
        cast(make_date(notices.year, 1, 1) as timestamp),
        cast(make_date(notices.year, 12, 31) as timestamp),
        interval '1 day'
    ) as series (day)
),

flagged as (
    select
        days.date_day,
        days.year,
        cast(extract(isodow from days.date_day) as integer) as iso_day_of_week,
        extract(isodow from days.date_day) in (6, 7) as is_weekend,
        exceptions.kind as exception_kind,
        exceptions.holiday_name,
        coalesce(exceptions.source_notice, days.year_notice) as source_notice
    from days
    left join exceptions
        on exceptions.calendar_date = days.date_day
),

classified as (
    select
        *,
        coalesce(exception_kind = 'day_off' and not is_weekend, false) as is_holiday,
        coalesce(exception_kind = 'swapped_workday', false) as is_swapped_workday,
        case exception_kind
            when 'day_off' then false
            when 'swapped_workday' then true
            else not is_weekend
        end as is_working_day
    from flagged
)

select
    date_day,
    year,
    cast(extract(month from date_day) as integer) as month,
    cast(extract(quarter from date_day) as integer) as quarter,
    iso_day_of_week,
    is_weekend,
    is_holiday,
    is_swapped_workday,
    is_working_day,
    holiday_name,
    source_notice,
    sum(case when is_working_day then 1 else 0 end) over (order by date_day) as working_day_seq
from classified
