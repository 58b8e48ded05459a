-- kpi.service_index: within each province and period, every unit but the province's roll-up row
-- has a rank, the ranks are dense (1, 2, ... without gaps), equal scores share a rank, and each
-- rank is the dense rank of its score (recomputed).
with ranked as (
    select
        period_type, period_start, province_unit_id, unit_id, total_score, rank_in_province,
        unit_id = province_unit_id and unit_level = {{ province_level_code() }} as is_province_row
    from {{ ref('service_index') }}
),

per_group as (
    select
        period_type, period_start, province_unit_id,
        count(distinct total_score) as scores,
        max(rank_in_province) as max_rank,
        count(distinct rank_in_province) as ranks
    from ranked
    where not is_province_row
    group by 1, 2, 3
)

select period_type, period_start, province_unit_id, unit_id, 'rank missing or on the province row' as problem
from ranked
where (rank_in_province is null) <> is_province_row
union all
select period_type, period_start, province_unit_id, null, 'ranks not dense: ' || ranks || ' ranks, max ' || max_rank || ', ' || scores || ' scores'
from per_group
where max_rank <> ranks or ranks <> scores
union all
select period_type, period_start, province_unit_id, unit_id, 'rank ' || rank_in_province || ', expected ' || expected_rank
from (
    select *, dense_rank() over (partition by period_type, period_start, province_unit_id
                                 order by total_score desc) as expected_rank
    from ranked
    where not is_province_row
) as recomputed
where rank_in_province <> expected_rank
