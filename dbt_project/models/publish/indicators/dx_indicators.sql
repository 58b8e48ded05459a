{{ config(indexes=[{"columns": ["period_type", "period_start", "unit_id", "scope", "indicator_code"], "unique": true},
                   {"columns": ["unit_id", "indicator_code", "period_type", "period_start"]}]) }}
-- kpi.dx_indicators (published.md): the digital-transformation indicators against the targets
-- each unit was assigned, one row per (period_type, period_start, unit_id, scope, indicator_code).
--
-- * Indicators: seeds/dx_indicator_catalogue.csv, the edition in force on the period's end, for
--   the unit levels it lists; numerator and denominator are rules of macros/indicator_rules.sql,
--   computed in int_indicator_period_values. value = numerator / denominator, null when the
--   denominator is 0.
-- * Periods: month, quarter, half_year, year (macro indicator_period_types), period_end the
--   natural last day capped at as_of_date, as in kpi.tthc_report.
-- * scope 'own': as kpi.tthc_report (a unit's own records; the province's row rolls up the
--   province), for every unit valid in the period or with activity in it; scope 'subtree': as
--   kpi.tthc_report_subtree, for every unit with units under it: the unit and its whole subtree.
-- * Units under the map in force at the period's end (int_indicator_scopes through
--   int_unit_succession, as kpi.tthc_report): a unit succeeded by then has no rows of the period;
--   its records of the period count under its successor.
-- * Targets (reference list `targets`, stg_reference__targets): for the unit and the period's
--   year, the unit's own row wins over its level's row (UnitId empty); the same target for both
--   scopes. attained = value >= target (<= for an indicator where lower is better); without a
--   target, target_status 'no_target' and attained null (never attained); without a value
--   (denominator 0), target_status 'no_value' and attained null.
{%- set period_types = indicator_period_types() %}
with periods as (
    select period_type, period_start, period_end
    from {{ ref('int_report_periods') }}
    where period_type in {{ string_list(period_types) }}
),

values_by_rule as (
    select * from {{ ref('int_indicator_period_values') }}
),

-- the rows: every unit valid during the period and not succeeded by its end (reports_under_itself:
-- the map in force at the period's end, as kpi.tthc_report), or with any count in it under that
-- map (own scope); every such unit with units under it (subtree scope)
unit_periods as (
    select unit_periods.period_type, unit_periods.period_start, unit_periods.unit_id
    from {{ ref('int_report_unit_periods') }} as unit_periods
    where unit_periods.period_type in {{ string_list(period_types) }}
      and unit_periods.reports_under_itself
    union
    select period_type, period_start, unit_id
    from values_by_rule
    where scope = 'own' and rule_value <> 0
),

scopes as (
    select distinct report_unit_id, scope from {{ ref('int_indicator_scopes') }}
),

row_keys as (
    select unit_periods.*, scopes.scope
    from unit_periods
    inner join scopes
        on scopes.report_unit_id = unit_periods.unit_id
),

catalogue as (
    select * from {{ ref('dx_indicator_catalogue') }}
),

indicator_rows as (
    select
        row_keys.period_type,
        row_keys.period_start,
        periods.period_end,
        row_keys.unit_id,
        units.unit_name,
        units.unit_level,
        row_keys.scope,
        catalogue.indicator_code,
        catalogue.edition,
        catalogue.name_en as indicator_name,
        catalogue.numerator_rule,
        catalogue.denominator_rule,
        catalogue.better,
        cast(extract(year from row_keys.period_start) as integer) as target_year
    from row_keys
    inner join periods
        on periods.period_type = row_keys.period_type
       and periods.period_start = row_keys.period_start
    inner join {{ ref('dim_unit') }} as units
        on units.unit_id = row_keys.unit_id
    inner join catalogue
        on catalogue.effective_from <= periods.period_end
       and (catalogue.effective_to is null or catalogue.effective_to >= periods.period_end)
       and units.unit_level = any(regexp_split_to_array(btrim(catalogue.unit_levels), '\s+'))
),

targets as (
    select unit_id, unit_level, target_year, indicator_code, target_value
    from {{ ref('stg_reference__targets') }}
),

measured as (
    select
        indicator_rows.*,
        coalesce(numerators.rule_value, 0) as numerator,
        coalesce(denominators.rule_value, 0) as denominator,
        coalesce(unit_targets.target_value, level_targets.target_value) as target,
        case
            when unit_targets.target_value is not null then 'unit'
            when level_targets.target_value is not null then 'level'
        end as target_source
    from indicator_rows
    left join values_by_rule as numerators
        on numerators.period_type = indicator_rows.period_type
       and numerators.period_start = indicator_rows.period_start
       and numerators.unit_id = indicator_rows.unit_id
       and numerators.scope = indicator_rows.scope
       and numerators.rule_name = indicator_rows.numerator_rule
    left join values_by_rule as denominators
        on denominators.period_type = indicator_rows.period_type
       and denominators.period_start = indicator_rows.period_start
       and denominators.unit_id = indicator_rows.unit_id
       and denominators.scope = indicator_rows.scope
       and denominators.rule_name = indicator_rows.denominator_rule
    left join targets as unit_targets
        on unit_targets.unit_id = indicator_rows.unit_id
       and unit_targets.target_year = indicator_rows.target_year
       and unit_targets.indicator_code = indicator_rows.indicator_code
    left join targets as level_targets
        on level_targets.unit_id is null
       and level_targets.unit_level = indicator_rows.unit_level
       and level_targets.target_year = indicator_rows.target_year
       and level_targets.indicator_code = indicator_rows.indicator_code
),

valued as (
    select
        *,
        numerator / nullif(denominator, 0) as value
    from measured
)

select
    period_type,
    period_start,
    period_end,
    unit_id,
    unit_name,
    unit_level,
    scope,
    indicator_code,
    indicator_name,
    edition,
    numerator_rule,
    denominator_rule,
    better = 'higher' as higher_is_better,
    numerator,
    denominator,
    value,
    target,
    target_source,
    case
        when target is null then 'no_target'
        when value is null then 'no_value'
        when (better = 'higher' and value >= target) or (better = 'lower' and value <= target) then 'attained'
        else 'not_attained'
    end as target_status,
    case
        when target is null or value is null then null
        else (better = 'higher' and value >= target) or (better = 'lower' and value <= target)
    end as attained,
    {{ publication_id() }} as publication_id
from valued
