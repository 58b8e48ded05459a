{{ config(indexes=[{"columns": ["period_type", "period_start", "unit_id"], "unique": true},
                   {"columns": ["unit_id", "period_type", "period_start"]}]) }}
-- kpi.service_index (published.md): the Decision 766 index of service to citizens and businesses
-- (domain.md) per (period_type, period_start, unit_id), for the units valid during the period or
-- with activity in it, the province's row rolling up the province, under the map of units in force
-- at the period's end (as kpi.tthc_report: a unit succeeded by then has no row; its dossiers of the
-- period count under its successor; int_indicator_scopes).
--
-- Columns, in the order of macro service_index_layout() (= the seeds, tested):
-- * per indicator: <indicator>_ratio and <indicator>_points (int_service_index_indicators:
--   min(max, max x ratio / target); null when no source carries its data or, except where the
--   seed gives full points, nothing was there to measure);
-- * per group: <group>_points (the sum of its indicators' points, null when none could be
--   computed), <group>_points_computed_on (the maximum those points came from) and
--   <group>_missing_reason (why the other indicators have no points);
-- * total_score = the sum of the groups' points; points_computed_on = the maximum it came from
--   (out of 100); total_score_share = total_score / points_computed_on;
-- * rank_in_province: dense rank by total_score (highest first) among the units of the province
--   (dim_unit.province_unit_id) in the period, every unit but the province's own roll-up row
--   ranked; the province's row has none.
-- * timeliness_periodic_ratio: the periodic report's timeliness (kpi.tthc_report, all fields:
--   (early + on time + pending within deadline) / received_total), published beside the national
--   portal's (timeliness_766_ratio, which the timeliness group scores) so the two are never mixed.
{%- set layout = service_index_layout() %}
with indicators as (
    select * from {{ ref('int_service_index_indicators') }}
),

groups as (
    select
        indicators.period_type,
        indicators.period_start,
        indicators.unit_id,
        indicators.group_code,
        sum(indicators.points) as points,
        sum(indicators.max_points) filter (where indicators.points is not null) as points_computed_on,
        string_agg(indicators.indicator_code || ': ' || indicators.reason, '; ' order by indicators.indicator_code)
            filter (where indicators.points is null) as missing_reason
    from indicators
    group by indicators.period_type, indicators.period_start, indicators.unit_id, indicators.group_code
),

wide as (
    select
        indicators.period_type,
        indicators.period_start,
        max(indicators.period_end) as period_end,
        indicators.unit_id,
        {%- for group_code, codes in layout %}
        {%- for code in codes %}
        max(indicators.ratio) filter (where indicators.indicator_code = '{{ code }}') as {{ code }}_ratio,
        max(indicators.points) filter (where indicators.indicator_code = '{{ code }}') as {{ code }}_points,
        {%- endfor %}
        {%- endfor %}
        count(*) as indicator_rows
    from indicators
    group by indicators.period_type, indicators.period_start, indicators.unit_id
),

group_wide as (
    select
        period_type,
        period_start,
        unit_id,
        {%- for group_code, codes in layout %}
        max(points) filter (where group_code = '{{ group_code }}') as {{ group_code }}_points,
        coalesce(max(points_computed_on) filter (where group_code = '{{ group_code }}'), 0)
            as {{ group_code }}_points_computed_on,
        max(missing_reason) filter (where group_code = '{{ group_code }}') as {{ group_code }}_missing_reason,
        {%- endfor %}
        coalesce(sum(points), 0) as total_score,
        coalesce(sum(points_computed_on), 0) as points_computed_on
    from groups
    group by period_type, period_start, unit_id
),

periodic as (
    select
        period_type,
        period_start,
        unit_id,
        cast(resolved_early + resolved_on_time + pending_on_time as numeric) / nullif(received_total, 0)
            as timeliness_periodic_ratio
    from {{ ref('tthc_report') }}
    where field_code = {{ all_fields_code() }}
),

combined as (
    select
        wide.period_type,
        wide.period_start,
        wide.period_end,
        wide.unit_id,
        units.unit_name,
        units.unit_level,
        units.province_unit_id,
        units.is_province,
        {%- for group_code, codes in layout %}
        group_wide.{{ group_code }}_points,
        group_wide.{{ group_code }}_points_computed_on,
        group_wide.{{ group_code }}_missing_reason,
        {%- for code in codes %}
        wide.{{ code }}_ratio,
        wide.{{ code }}_points,
        {%- endfor %}
        {%- endfor %}
        group_wide.total_score,
        group_wide.points_computed_on,
        periodic.timeliness_periodic_ratio
    from wide
    inner join group_wide
        on group_wide.period_type = wide.period_type
       and group_wide.period_start = wide.period_start
       and group_wide.unit_id = wide.unit_id
    inner join {{ ref('dim_unit') }} as units
        on units.unit_id = wide.unit_id
    left join periodic
        on periodic.period_type = wide.period_type
       and periodic.period_start = wide.period_start
       and periodic.unit_id = wide.unit_id
)

select
    period_type,
    period_start,
    period_end,
    unit_id,
    unit_name,
    unit_level,
    province_unit_id,
    {%- for group_code, codes in layout %}
    {{ group_code }}_points,
    {{ group_code }}_points_computed_on,
    {{ group_code }}_missing_reason,
    {%- for code in codes %}
    {{ code }}_ratio,
    {{ code }}_points,
    {%- endfor %}
    {%- endfor %}
    total_score,
    points_computed_on,
    total_score / nullif(points_computed_on, 0) as total_score_share,
    case
        when not is_province then dense_rank() over (
            partition by period_type, period_start, province_unit_id, is_province
            order by total_score desc)
    end as rank_in_province,
    timeliness_periodic_ratio,
    {{ publication_id() }} as publication_id
from combined
