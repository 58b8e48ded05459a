-- Which report rows a unit's records count in, per scope of kpi.dx_indicators (published.md):
--   scope 'own':     the unit's own rows (int_report_units, as kpi.tthc_report: a unit counts its
--                    own records; a province's rows roll up every unit whose root ancestor it is);
--   scope 'subtree': the rows of each ancestor that has units under it (a district with its
--                    communes, a department with its branches, the province), the ancestor itself
--                    included (as kpi.tthc_report_subtree); the province's subtree rows equal its
--                    own rows.
-- One row per (unit_id, report_unit_id, scope).
with has_children as (
    select distinct ancestor_unit_id as unit_id
    from {{ ref('int_unit_subtree') }}
    where depth > 0
)

select unit_id, report_unit_id, 'own' as scope
from {{ ref('int_report_units') }}

union all

select subtree.unit_id, subtree.ancestor_unit_id as report_unit_id, 'subtree' as scope
from {{ ref('int_unit_subtree') }} as subtree
inner join has_children
    on has_children.unit_id = subtree.ancestor_unit_id
