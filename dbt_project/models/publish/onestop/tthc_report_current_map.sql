{{ config(indexes=[{"columns": ["period_type", "period_start", "unit_id", "field_code"], "unique": true},
                   {"columns": ["unit_id", "period_type", "period_start"]}]) }}
-- kpi.tthc_report_current_map: kpi.tthc_report restated under today's map of units. Same columns
-- and grain; every period, those before a reorganisation included, reports the dossiers of every
-- unit under its current_unit_id (the end of its SuccessorId chain in the units list in force on
-- as_of_date): a commune merged on 1/7/2025 reports, for May 2025, the dossiers its old communes
-- handled then. The five identities hold on every row, identity 5 plainly (same unit and field:
-- the map does not change from period to period). Province rows equal kpi.tthc_report's (the
-- successors stay in their province; tested, and checked by the gate).
-- Rows: today's unit of every unit valid during the period has a '*' row, zeros included; a unit
-- with dossiers has rows. The rules: macros/mau06_period_report.sql.
{{ mau06_period_report('current') }}
