-- One row per (period_type, period_start, unit_id) for every unit valid during the period: the
-- units that have a row in a report of that period even without any activity (zeros). Validity
-- dates are inclusive; null = open.
--
-- reports_under_itself: the map in force at the period's end (int_unit_succession, at
-- period_end) reports the unit's dossiers under the unit itself. False for a unit that was
-- succeeded during the period (valid_to before period_end, with a successor): the reports under
-- the map in force (kpi.tthc_report, kpi.tthc_report_subtree) count its dossiers of that period
-- under its successor and give it no row of its own.
select
    periods.period_type,
    periods.period_start,
    periods.period_end,
    units.unit_id,
    at_end.report_unit_id = units.unit_id as reports_under_itself
from {{ ref('int_report_periods') }} as periods
inner join {{ ref('int_unit_hierarchy') }} as units
    on (units.valid_from is null or units.valid_from <= periods.period_end)
    and (units.valid_to is null or units.valid_to >= periods.period_start)
inner join {{ ref('int_unit_succession') }} as at_end
    on at_end.unit_id = units.unit_id
    and {{ unit_map_covers('at_end', 'periods.period_end') }}
