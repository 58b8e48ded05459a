-- int_unit_succession, per unit: the intervals follow one another without gap or overlap (each
-- but the last ends the day before the next starts). One row per broken interval.
with intervals as (
    select
        unit_id,
        report_unit_id,
        from_day,
        to_day,
        lead(from_day) over (partition by unit_id order by from_day nulls first) as next_from_day
    from {{ ref('int_unit_succession') }}
)

select
    intervals.unit_id,
    intervals.report_unit_id,
    intervals.from_day,
    intervals.to_day,
    intervals.next_from_day
from intervals
where (intervals.to_day is not null and intervals.next_from_day is distinct from intervals.to_day + 1)
   or (intervals.to_day is null and intervals.next_from_day is not null)
