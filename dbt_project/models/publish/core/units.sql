{{ config(indexes=[{"columns": ["unit_id"], "unique": true},
                   {"columns": ["parent_unit_id"]}]) }}
-- kpi.units: the unit hierarchy as the warehouse knows it (marts.dim_unit, every unit of the list
-- in force on as_of_date, ceased units included with their validity), so that consumers — the
-- unit-scoped BI logins, the KPI API's token scopes, a BI tool's drill-down — take the tree from
-- the same publication as the numbers, not from the warehouse's internals.
select
    unit_id,
    unit_name,
    unit_level,
    parent_unit_id,
    valid_from,
    valid_to,
    successor_unit_id,
    province_unit_id,
    current_unit_id,
    is_province,
    {{ publication_id() }} as publication_id
from {{ ref('dim_unit') }}
