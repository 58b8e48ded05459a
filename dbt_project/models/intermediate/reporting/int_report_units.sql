-- Which report unit's rows a unit's dossiers count in: its own rows always, except that a
-- province (macro province_level_code) has no rows of its own: its rows roll up every unit whose
-- root ancestor it is, itself included. One row per (unit_id, report_unit_id).
with units as (
    select * from {{ ref('int_unit_hierarchy') }}
)

select
    units.unit_id,
    units.unit_id as report_unit_id,
    'own' as link_kind
from units
where units.unit_level is distinct from {{ province_level_code() }}

union all

select
    units.unit_id,
    provinces.unit_id as report_unit_id,
    'province_rollup' as link_kind
from units
inner join units as provinces
    on provinces.unit_id = units.province_unit_id
where provinces.unit_level = {{ province_level_code() }}
