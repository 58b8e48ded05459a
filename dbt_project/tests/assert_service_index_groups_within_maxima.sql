-- kpi.service_index: no group is computed on more than its maximum (seeds/service_index_groups.csv).
-- depends_on: {{ ref('service_index_groups') }}
{%- for group_code, codes in service_index_layout() %}
select index.period_type, index.period_start, index.unit_id, '{{ group_code }}' as group_code,
       index.{{ group_code }}_points as points, index.{{ group_code }}_points_computed_on as computed_on,
       groups.max_points
from {{ ref('service_index') }} as index
inner join {{ ref('service_index_groups') }} as groups
    on groups.group_code = '{{ group_code }}'
where index.{{ group_code }}_points_computed_on > groups.max_points
   or coalesce(index.{{ group_code }}_points, 0) > groups.max_points
{{ "union all" if not loop.last }}
{%- endfor %}
