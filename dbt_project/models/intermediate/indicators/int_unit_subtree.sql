-- One row per (unit_id, ancestor_unit_id) following ParentId within the units list in force, the
-- unit itself included (depth 0): the units a subtree figure of ancestor_unit_id adds up. Cycles
-- are cut (PostgreSQL CYCLE clause), as in int_unit_hierarchy.
with recursive units as (
    select unit_id, parent_unit_id from {{ ref('int_unit_hierarchy') }}
),

ancestry (unit_id, ancestor_unit_id, depth) as (
    select unit_id, unit_id, 0
    from units
    union all
    select ancestry.unit_id, parent.unit_id, ancestry.depth + 1
    from ancestry
    inner join units as this_unit
        on this_unit.unit_id = ancestry.ancestor_unit_id
    inner join units as parent
        on parent.unit_id = this_unit.parent_unit_id
) cycle ancestor_unit_id set is_cycle using ancestry_path

select distinct on (unit_id, ancestor_unit_id)
    unit_id,
    ancestor_unit_id,
    depth
from ancestry
where not is_cycle
order by unit_id, ancestor_unit_id, depth
