-- The published columns of kpi.service_index (macro service_index_layout) are exactly the groups
-- of seeds/service_index_groups.csv and the indicators of seeds/service_index_indicators.csv, and
-- on every day an edition starts, each group's indicators in force add up to the group's maximum.
with layout (group_code, indicator_code) as (
    values
    {%- for group_code, indicators in service_index_layout() %}
    {%- set outer_last = loop.last %}
    {%- for indicator_code in indicators %}
        ('{{ group_code }}', '{{ indicator_code }}'){{ "," if not (outer_last and loop.last) }}
    {%- endfor %}
    {%- endfor %}
),

seeded as (
    select distinct group_code, indicator_code from {{ ref('service_index_indicators') }}
),

layout_mismatch as (
    select coalesce(layout.group_code, seeded.group_code) as group_code,
           coalesce(layout.indicator_code, seeded.indicator_code) as indicator_code,
           case when layout.indicator_code is null then 'in the seed, not in service_index_layout()'
                else 'in service_index_layout(), not in the seed' end as problem
    from layout
    full outer join seeded
        on seeded.group_code = layout.group_code and seeded.indicator_code = layout.indicator_code
    where layout.indicator_code is null or seeded.indicator_code is null
),

edition_days as (
    select distinct effective_from as day from {{ ref('service_index_indicators') }}
),

sums as (
    select edition_days.day, groups.group_code, groups.max_points,
           coalesce(sum(indicators.max_points), 0) as indicator_points
    from edition_days
    cross join {{ ref('service_index_groups') }} as groups
    left join {{ ref('service_index_indicators') }} as indicators
        on indicators.group_code = groups.group_code
       and indicators.effective_from <= edition_days.day
       and (indicators.effective_to is null or indicators.effective_to >= edition_days.day)
    group by edition_days.day, groups.group_code, groups.max_points
)

select group_code, indicator_code, problem from layout_mismatch
union all
select group_code, cast(day as text),
       'indicators add up to ' || indicator_points || ' points, the group has ' || max_points
from sums
where indicator_points <> max_points
union all
select 'all groups', null, 'the groups add up to ' || sum(max_points) || ' points, not 100'
from {{ ref('service_index_groups') }}
having sum(max_points) <> 100
