-- Every numerator and denominator named by the indicator catalogue and the Decision 766 index is a
-- rule of macros/indicator_rules.sql, and every unit level of the catalogue is a unit_level code:
-- a seed row can never name a rule that no SQL computes.
with known_rules (rule_name) as (
    values
    {%- for name in indicator_rule_names() %}
        ('{{ name }}'){{ "," if not loop.last }}
    {%- endfor %}
),

named as (
    select 'dx_indicator_catalogue' as seed, indicator_code, edition, numerator_rule as rule_name
    from {{ ref('dx_indicator_catalogue') }}
    union all
    select 'dx_indicator_catalogue', indicator_code, edition, denominator_rule
    from {{ ref('dx_indicator_catalogue') }}
    union all
    select 'service_index_indicators', indicator_code, edition, numerator_rule
    from {{ ref('service_index_indicators') }} where unavailable_reason is null
    union all
    select 'service_index_indicators', indicator_code, edition, denominator_rule
    from {{ ref('service_index_indicators') }} where unavailable_reason is null
),

levels as (
    select 'dx_indicator_catalogue' as seed, indicator_code, edition, level_code
    from {{ ref('dx_indicator_catalogue') }}
    cross join lateral regexp_split_to_table(btrim(unit_levels), '\s+') as level_code
)

select seed, indicator_code, edition, 'unknown rule ' || coalesce(rule_name, '(null)') as problem
from named
where rule_name is null or rule_name not in (select rule_name from known_rules)
union all
select seed, indicator_code, edition, 'unknown unit level ' || level_code
from levels
where level_code not in (
    select code from {{ ref('source_code_lists') }} where code_list = 'unit_level'
)
