{{ config(indexes=[{"columns": ["period_type", "period_start", "unit_id", "field_code"], "unique": true},
                   {"columns": ["unit_id", "period_type", "period_start"]}]) }}
-- kpi.tthc_report, the periodic dossier report (published.md; domain.md "Mẫu 06"), each period
-- under the map of units in force at its end. One row per (period_type, period_start, unit_id,
-- field_code); field_code '*' = all fields.
--
-- Built only from fct_dossier_daily, so that for every row and period
--   received_* = sum of the period's daily receptions, resolved_* = sum of its daily finishes,
--   carried_over = backlog at the end of the day before period_start,
--   pending_* = backlog at the end of period_end,
-- of the dossiers of the units the map at period_end sends to the row's unit, and the five
-- identities hold by construction (checked by the gate: expectations/_mau06_report.yml, identity 5
-- read through the map).
--
-- period_end = the period's natural last day capped at as_of_date.
-- Units: a unit's rows count the dossiers it handles (DonViXuLy), and from the day after its
-- valid_to those of every unit it succeeded (int_unit_succession); a province's rows roll up every
-- unit whose root ancestor it is (itself included), whatever their validity (units without
-- dossiers add zeros). Every unit valid during the period (valid_from <= period_end and
-- valid_to >= period_start, both inclusive, null = open) and not succeeded by its end has a '*'
-- row, zeros included; a unit with dossiers in the period has rows whether or not it was valid.
-- Field rows exist only where the field had a flow or a backlog in the period.
-- The rules are written once in macros/mau06_period_report.sql (shared with
-- kpi.tthc_report_current_map, the restatement under today's map).
{{ mau06_period_report('in_force') }}
