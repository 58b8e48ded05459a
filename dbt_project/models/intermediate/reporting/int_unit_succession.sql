-- The map in force on any day (domain.md: local government two-tier from 1/7/2025): one row per
-- (unit_id, from_day) saying under which unit (report_unit_id) the dossiers of unit_id are
-- reported on the days from_day .. to_day (inclusive; null = unbounded). The intervals of a unit
-- are disjoint and cover every day.
--
-- The rule, written only here: follow the SuccessorId chain of the unit (u = c0, c1, ..., ck,
-- cycles cut as in int_unit_hierarchy); on day d the unit's dossiers are reported under the first
-- member whose valid_to is null or on or after d, and under the chain's end ck (its
-- current_unit_id) when there is none. So a unit is its own report unit up to its valid_to and,
-- if it has a successor, hands over to it from the day after: a dossier still open then is
-- carried over to the successor, and a dossier the source still records under the old unit after
-- its valid_to is counted under the successor. A unit without a successor keeps its dossiers
-- whatever its validity. valid_from is not read: a successor starts receiving on the day after
-- its predecessor's valid_to.
--
-- The maps of two days compose (the map of a later day applied after the map of an earlier one is
-- the map of the later day), which is what makes identity 5 read through the map hold
-- (tthc_report): carried_over of a unit in a period = the sum of pending_total in the previous
-- period over the units the map at the period's end sends to it.
with recursive units as (
    select unit_id, successor_unit_id, valid_to from {{ ref('int_unit_hierarchy') }}
),

chain (unit_id, member_unit_id, depth) as (
    select unit_id, unit_id, 0
    from units
    union all
    select chain.unit_id, next_unit.unit_id, chain.depth + 1
    from chain
    inner join units as this_unit
        on this_unit.unit_id = chain.member_unit_id
    inner join units as next_unit
        on next_unit.unit_id = this_unit.successor_unit_id
) cycle member_unit_id set is_cycle using chain_path,

members as (
    select
        chain.unit_id,
        chain.member_unit_id,
        chain.depth,
        units.valid_to,
        chain.depth = max(chain.depth) over (partition by chain.unit_id) as is_last,
        -- the members before this one: is one of them open (valid_to null), their last valid_to
        bool_or(units.valid_to is null) over earlier as earlier_is_open,
        max(units.valid_to) over earlier as earlier_valid_to
    from chain
    inner join units
        on units.unit_id = chain.member_unit_id
    where not chain.is_cycle
    window earlier as (partition by chain.unit_id order by chain.depth
                       rows between unbounded preceding and 1 preceding)
),

intervals as (
    select
        unit_id,
        member_unit_id as report_unit_id,
        depth as succession_depth,
        cast(earlier_valid_to + 1 as date) as from_day,
        case when is_last then null else valid_to end as to_day
    from members
    where not coalesce(earlier_is_open, false)
)

select unit_id, report_unit_id, succession_depth, from_day, to_day
from intervals
where from_day is null or to_day is null or from_day <= to_day
