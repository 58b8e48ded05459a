-- The Decision 766 index (domain.md) indicator by indicator: one row per (period_type,
-- period_start, unit_id, indicator_code) for every unit of kpi.service_index (the units valid
-- during the period and not succeeded by its end, or with activity in it; scope 'own' of
-- int_indicator_period_values: a unit's own dossiers under the map in force at the period's end,
-- as kpi.tthc_report, the province's row rolls up the province) and every indicator of
-- seeds/service_index_indicators.csv in force on the period's end.
--
--   points = min(max, max x ratio / target) (macro service_index_points), ratio = numerator /
--   denominator (never below 0: dossier_satisfaction's numerator subtracts two shares);
--   a denominator of 0: full points when the seed says full_points (a unit with no feedback),
--   else no points and the indicator is left out of points_computed_on (status 'no_activity');
--   no source for the indicator: null points, null ratio, the seed's unavailable_reason
--   (status 'unavailable'); never invented.
{%- set period_types = indicator_period_types() %}
with periods as (
    select period_type, period_start, period_end
    from {{ ref('int_report_periods') }}
    where period_type in {{ string_list(period_types) }}
),

values_by_rule as (
    select * from {{ ref('int_indicator_period_values') }}
    where scope = 'own'
),

unit_periods as (
    select unit_periods.period_type, unit_periods.period_start, unit_periods.unit_id
    from {{ ref('int_report_unit_periods') }} as unit_periods
    where unit_periods.period_type in {{ string_list(period_types) }}
      and unit_periods.reports_under_itself
    union
    select period_type, period_start, unit_id
    from values_by_rule
    where rule_value <> 0
),

indicator_rows as (
    select
        unit_periods.period_type,
        unit_periods.period_start,
        periods.period_end,
        unit_periods.unit_id,
        indicators.indicator_code,
        indicators.group_code,
        indicators.edition,
        indicators.max_points,
        indicators.target_ratio,
        indicators.numerator_rule,
        indicators.denominator_rule,
        indicators.when_no_activity,
        indicators.unavailable_reason
    from unit_periods
    inner join periods
        on periods.period_type = unit_periods.period_type
       and periods.period_start = unit_periods.period_start
    inner join {{ ref('service_index_indicators') }} as indicators
        on indicators.effective_from <= periods.period_end
       and (indicators.effective_to is null or indicators.effective_to >= periods.period_end)
),

measured as (
    select
        indicator_rows.*,
        case when indicator_rows.unavailable_reason is null then coalesce(numerators.rule_value, 0) end as numerator,
        case when indicator_rows.unavailable_reason is null then coalesce(denominators.rule_value, 0) end as denominator
    from indicator_rows
    left join values_by_rule as numerators
        on numerators.period_type = indicator_rows.period_type
       and numerators.period_start = indicator_rows.period_start
       and numerators.unit_id = indicator_rows.unit_id
       and numerators.rule_name = indicator_rows.numerator_rule
    left join values_by_rule as denominators
        on denominators.period_type = indicator_rows.period_type
       and denominators.period_start = indicator_rows.period_start
       and denominators.unit_id = indicator_rows.unit_id
       and denominators.rule_name = indicator_rows.denominator_rule
),

scored as (
    select
        *,
        greatest(numerator / nullif(denominator, 0), 0) as ratio,
        case
            when unavailable_reason is not null then 'unavailable'
            when denominator = 0 and when_no_activity = 'full_points' then 'no_activity_full_points'
            when denominator = 0 then 'no_activity'
            else 'computed'
        end as status
    from measured
)

select
    period_type,
    period_start,
    period_end,
    unit_id,
    group_code,
    indicator_code,
    edition,
    max_points,
    target_ratio,
    numerator_rule,
    denominator_rule,
    numerator,
    denominator,
    ratio,
    status,
    case status
        when 'computed' then {{ service_index_points('max_points', 'ratio', 'target_ratio') }}
        when 'no_activity_full_points' then max_points
    end as points,
    case status
        when 'unavailable' then unavailable_reason
        when 'no_activity' then 'no ' || denominator_rule || ' in the period'
    end as reason
from scored
