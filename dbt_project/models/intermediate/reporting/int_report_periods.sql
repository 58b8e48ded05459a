-- Every report period (seeds/report_periods.csv) that overlaps the reported range: from the first
-- source day in force of a reported system (macro reported_systems(): one-stop and e-documents, as
-- as_of_date counts them), or the first reception of a counted dossier if earlier, to as_of_date
-- (as_of_date alone when nothing was landed).
-- Alignment (macros/report_periods.sql): days; ISO weeks, Monday to Sunday (a week across a month
-- or year end is one week); months, quarters, half years and years of the calendar year.
-- period_end is the period's natural last day capped at as_of_date (the running period of each
-- type is reported up to as_of_date; its pending_* are the backlog at the end of as_of_date).
with first_reception as (
    select min(cast(received_at as date)) as first_day
    from {{ ref('int_dossiers') }}
    where is_in_report
),

first_landed as (
    select min(source_day) as first_day
    from {{ ref('stg_landing__load_batches') }}
    where disposition = 'in_force' and system in {{ reported_systems() }}
      and source_day <= {{ as_of_date() }}
),

bounds as (
    select
        {{ as_of_date() }} as as_of_date,
        least(
            coalesce(first_reception.first_day, {{ as_of_date() }}),
            coalesce(first_landed.first_day, {{ as_of_date() }}),
            {{ as_of_date() }}
        ) as first_day
    from first_reception cross join first_landed
),

period_types as (
    select period_type, months, days, sort_order
    from {{ ref('report_periods') }}
),

periods as (
    select
        period_types.period_type,
        period_types.months,
        period_types.days,
        period_types.sort_order,
        cast(period_start as date) as period_start,
        bounds.as_of_date
    from period_types
    cross join bounds
    cross join lateral generate_series(
        cast({{ period_start_of('bounds.first_day', 'period_types.months', 'period_types.days') }} as timestamp),
        cast(bounds.as_of_date as timestamp),
        {{ period_step('period_types.months', 'period_types.days') }}
    ) as period_start
)

select
    period_type,
    months,
    days,
    sort_order,
    period_start,
    {{ period_natural_end('period_start', 'months', 'days') }} as period_natural_end,
    least({{ period_natural_end('period_start', 'months', 'days') }}, as_of_date) as period_end
from periods
