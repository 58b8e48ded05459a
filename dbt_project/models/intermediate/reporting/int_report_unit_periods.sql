-- One row per (period_type, period_start, unit_id) for every unit valid during the period: the
-- units that have a row in a report of that period even without any activity (zeros). Validity
-- dates are inclusive; null = open.
select
    periods.period_type,
    periods.period_start,
    periods.period_end,
    units.unit_id
from {{ ref('int_report_periods') }} as periods
inner join {{ ref('int_unit_hierarchy') }} as units
    on (units.valid_from is null or units.valid_from <= periods.period_end)
    and (units.valid_to is null or units.valid_to >= periods.period_start)
