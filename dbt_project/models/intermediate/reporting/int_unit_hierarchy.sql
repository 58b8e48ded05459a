-- One row per unit of the units list in force, with
--   province_unit_id: the root ancestor following ParentId (the last ancestor present in the list);
--   current_unit_id: the end of the SuccessorId chain (the unit that carries it on today, for
--     restating old periods under today's map); the unit itself when it has no successor.
-- Both are the end of a chain of links within the list; cycles are cut (PostgreSQL CYCLE clause).
{%- set chains = [
    ('ancestry', 'parent_unit_id', 'province_unit_id', 'hierarchy_depth'),
    ('succession', 'successor_unit_id', 'current_unit_id', 'succession_depth'),
] %}
with recursive units as (
    select * from {{ ref('stg_reference__units') }}
),
{% for chain, link, end_column, depth_column in chains %}
{{ chain }} (unit_id, linked_unit_id, depth) as (
    select unit_id, unit_id, 0
    from units
    union all
    select {{ chain }}.unit_id, next_unit.unit_id, {{ chain }}.depth + 1
    from {{ chain }}
    inner join units as this_unit
        on this_unit.unit_id = {{ chain }}.linked_unit_id
    inner join units as next_unit
        on next_unit.unit_id = this_unit.{{ link }}
) cycle linked_unit_id set is_cycle using chain_path,

{{ chain }}_ends as (
    select distinct on (unit_id)
        unit_id,
        linked_unit_id as {{ end_column }},
        depth as {{ depth_column }}
    from {{ chain }}
    where not is_cycle
    order by unit_id asc, depth desc
),
{% endfor %}

hierarchy as (
    select
        units.unit_id,
        units.unit_name,
        units.unit_level,
        units.parent_unit_id,
        units.valid_from,
        units.valid_to,
        units.successor_unit_id
        {%- for chain, link, end_column, depth_column in chains %},
        {{ chain }}_ends.{{ end_column }},
        {{ chain }}_ends.{{ depth_column }}
        {%- endfor %}
    from units
    {%- for chain, link, end_column, depth_column in chains %}
    inner join {{ chain }}_ends
        on {{ chain }}_ends.unit_id = units.unit_id
    {%- endfor %}
)

select * from hierarchy
