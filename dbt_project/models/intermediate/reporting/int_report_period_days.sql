-- One row per (period_type, period_start, date_day): the days of every report period
-- (int_report_periods) up to its period_end, so that a daily fact joins its periods on date_day.
-- is_period_end marks the day whose end-of-day backlog is the period's pending.
with periods as (
    select * from {{ ref('int_report_periods') }}
)

select
    periods.period_type,
    periods.period_start,
    periods.period_end,
    cast(day as date) as date_day,
    cast(day as date) = periods.period_end as is_period_end
from periods
cross join lateral generate_series(
    cast(periods.period_start as timestamp),
    cast(periods.period_end as timestamp),
    interval '1 day'
) as day
