-- The targets list in force on as_of_date: the latest landed daily delivery <= as_of_date (macro
-- latest_source_records, whole=true), typed. One row per (unit or level, year, indicator); a null
-- unit_id is the target of every unit of unit_level (a unit's own row, when it has one, wins: the
-- indicators decide that, not staging).
--
-- "Historised", as the units list is: the list is delivered whole every day and every day's list
-- stays in raw (raw.reference__targets, one batch per day, with its disposition); the state and
-- this view are the list in force on as_of_date, so a build as of an earlier day reads that day's
-- list. The targets of a year are set once and sometimes revised; which list a past publication
-- used is the one in force on its as_of_date (kpi.publications). When a revision must be shown
-- as such (which value was in force when), int_targets_history gives each row's validity by
-- source day from the raw batches in force.
select
    {{ target_columns('payload') }},
    source_day,
    batch_id,
    merge_id
from ({{ latest_source_records('reference', 'targets', whole=true) }}) as latest
