-- Which report rows a unit's records count in, per period of the indicators (indicator_period_types)
-- and scope of kpi.dx_indicators (published.md), under the map of units in force at the period's
-- end (int_unit_succession at period_end, as kpi.tthc_report: README "The 1/7/2025
-- reorganisation"). unit_id is the unit a record carries (DonViXuLy, OrganId, ...); the map at the
-- period's end sends it to mapped_unit_id (itself, or its successor once it is succeeded), and
-- then:
--   scope 'own':     the mapped unit's own rows (int_report_units, as kpi.tthc_report: a unit counts
--                    its own records; a province's rows roll up every unit whose root ancestor it
--                    is);
--   scope 'subtree': the rows of each ancestor of the mapped unit that has units under it (a
--                    district with its communes, a department with its branches, the province), the
--                    mapped unit itself included (as kpi.tthc_report_subtree: the sum of the
--                    kpi.tthc_report rows of the unit and its units); the province's subtree rows
--                    equal its own rows.
-- So a unit succeeded by a period's end counts nothing of that period under itself: its records
-- (of the whole period, those dated after its valid_to included) count under its successor, and
-- nothing is dropped (the intervals of int_unit_succession cover every day). The rule of the map
-- is int_unit_succession's; it is only applied here.
-- One row per (period_type, period_start, unit_id, report_unit_id, scope).
{%- set period_types = indicator_period_types() %}
{{ config(indexes=[{'columns': ['period_type', 'period_start', 'unit_id']}]) }}
with has_children as (
    select distinct ancestor_unit_id as unit_id
    from {{ ref('int_unit_subtree') }}
    where depth > 0
),

bridge as (
    select unit_id, report_unit_id, 'own' as scope
    from {{ ref('int_report_units') }}

    union all

    select subtree.unit_id, subtree.ancestor_unit_id as report_unit_id, 'subtree' as scope
    from {{ ref('int_unit_subtree') }} as subtree
    inner join has_children
        on has_children.unit_id = subtree.ancestor_unit_id
),

periods as (
    select period_type, period_start, period_end
    from {{ ref('int_report_periods') }}
    where period_type in {{ string_list(period_types) }}
)

select
    periods.period_type,
    periods.period_start,
    periods.period_end,
    at_period_end.unit_id,
    at_period_end.report_unit_id as mapped_unit_id,
    bridge.report_unit_id,
    bridge.scope
from periods
inner join {{ ref('int_unit_succession') }} as at_period_end
    on {{ unit_map_covers('at_period_end', 'periods.period_end') }}
inner join bridge
    on bridge.unit_id = at_period_end.report_unit_id
