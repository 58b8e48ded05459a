-- Units (the list in force on as_of_date) with validity range, successor, root ancestor
-- (province_unit_id) and today's unit (current_unit_id, following the successor chain).
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
    unit_level = {{ province_level_code() }} as is_province
from {{ ref('int_unit_hierarchy') }}
