{{ config(indexes=[{"columns": ["period_type", "period_start", "unit_id", "field_code"], "unique": true},
                   {"columns": ["unit_id", "period_type", "period_start"]}]) }}
-- kpi.tthc_report_subtree (published.md): the periodic dossier report of a unit and everything
-- under it, as its chair signs it. Same columns and grain as kpi.tthc_report: one row per
-- (period_type, period_start, unit_id, field_code), field_code '*' = all fields, in every period
-- type of kpi.tthc_report (day, week, month, quarter, half_year, year).
--
-- Rows: every unit with units under it (int_unit_subtree: a district with its communes, a
-- department with its branches) and every province.
-- * A province's rows ARE its rows in kpi.tthc_report (which already roll up every unit whose root
--   ancestor it is, its own desk included).
-- * Any other unit's row is the sum of the kpi.tthc_report rows of the same period and field of
--   the unit itself and every unit under it (ParentId, at any depth). A unit that reports nothing
--   in the period (not valid, no dossiers) adds nothing; a unit with dossiers adds them whether or
--   not it was valid, as in kpi.tthc_report.
-- Built from the report's own cells (units x fields x periods, never dossiers): every count is a
-- sum of the same counts, so the five identities hold on every row because they hold on every
-- kpi.tthc_report row (checked by the gate suite tthc_report_subtree).
--
-- Which rows exist: a field row where the subtree's kpi.tthc_report rows of that field have any
-- count; a '*' row where they have any count, and for every unit with units under it that is
-- valid during the period and not succeeded by its end (int_report_unit_periods,
-- reports_under_itself: as in kpi.tthc_report, a unit succeeded during a period has no row of
-- it), zeros included. The tree is the ParentId of the units list in force (int_unit_subtree): an
-- abolished district's earlier periods keep their communes as long as the list keeps the
-- abolished units with their ParentId. Across a reorganisation identity 5 reads through the map
-- (the gate's identity_5 checks): a district's last pending_total goes, with its communes'
-- dossiers, to the rows of their successors, which need not have units under them.
{%- set counts = ['carried_over'] + mau06_daily_columns() %}
with units as (
    select * from {{ ref('int_unit_hierarchy') }}
),

report as (
    select * from {{ ref('tthc_report') }}
),

-- the units with units under them (not provinces: their rows are kpi.tthc_report's)
parents as (
    select distinct subtree.ancestor_unit_id as unit_id
    from {{ ref('int_unit_subtree') }} as subtree
    inner join units
        on units.unit_id = subtree.ancestor_unit_id
    where subtree.depth > 0
      and units.unit_level is distinct from {{ province_level_code() }}
),

-- each parent's rows: the sum of its subtree's own rows (a province's rows are roll-ups, never a
-- member's own figures)
summed as (
    select
        report.period_type,
        report.period_start,
        subtree.ancestor_unit_id as unit_id,
        report.field_code,
        {%- for column in counts %}
        cast(sum(report.{{ column }}) as bigint) as {{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    from report
    inner join units as members
        on members.unit_id = report.unit_id
    inner join {{ ref('int_unit_subtree') }} as subtree
        on subtree.unit_id = report.unit_id
    inner join parents
        on parents.unit_id = subtree.ancestor_unit_id
    where members.unit_level is distinct from {{ province_level_code() }}
    group by report.period_type, report.period_start, subtree.ancestor_unit_id, report.field_code
),

parent_rows as (
    select summed.*
    from summed
    left join {{ ref('int_report_unit_periods') }} as valid_units
        on valid_units.period_type = summed.period_type
        and valid_units.period_start = summed.period_start
        and valid_units.unit_id = summed.unit_id
        and summed.field_code = {{ all_fields_code() }}
        and valid_units.reports_under_itself
    where valid_units.unit_id is not null
       or greatest(summed.{{ counts | join(', summed.') }}) > 0
),

province_rows as (
    select
        report.period_type,
        report.period_start,
        report.unit_id,
        report.field_code,
        {%- for column in counts %}
        report.{{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    from report
    inner join units
        on units.unit_id = report.unit_id
    where units.unit_level = {{ province_level_code() }}
),

combined as (
    select * from parent_rows
    union all
    select * from province_rows
)

select
    combined.period_type,
    combined.period_start,
    periods.period_end,
    combined.unit_id,
    units.unit_name,
    combined.field_code,
    {{ mau06_report_columns('combined') }},
    {{ publication_id() }} as publication_id
from combined
inner join {{ ref('int_report_periods') }} as periods
    on periods.period_type = combined.period_type
    and periods.period_start = combined.period_start
left join {{ ref('dim_unit') }} as units
    on units.unit_id = combined.unit_id
