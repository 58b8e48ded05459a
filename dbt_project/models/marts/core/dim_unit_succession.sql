-- The map in force on any day: under which unit (report_unit_id) the dossiers of unit_id are
-- reported from from_day to to_day (inclusive, null = unbounded). The rule is
-- int_unit_succession's; this is its analysts' (and the quality gate's) copy.
select unit_id, report_unit_id, succession_depth, from_day, to_day
from {{ ref('int_unit_succession') }}
