{{ config(indexes=[{"columns": ["period_type", "period_start", "unit_id", "field_code"], "unique": true},
                   {"columns": ["unit_id", "period_type", "period_start"]}]) }}
-- kpi.tthc_report, the periodic dossier report (published.md; domain.md "Mẫu 06").
-- One row per (period_type, period_start, unit_id, field_code); field_code '*' = all fields.
--
-- Built only from fct_dossier_daily, so that for every row and period
--   received_* = sum of the period's daily receptions, resolved_* = sum of its daily finishes,
--   carried_over = backlog at the end of the day before period_start,
--   pending_* = backlog at the end of period_end,
-- and the five identities hold by construction (and are tested: mau06_identities).
--
-- period_end = the period's natural last day capped at as_of_date.
-- Units: a unit's rows count the dossiers it handles (DonViXuLy); a province's rows roll up every
-- unit whose root ancestor it is (itself included), whatever their validity (units without
-- dossiers add zeros). Every unit valid during the period (valid_from <= period_end and
-- valid_to >= period_start, both inclusive, null = open) has a '*' row, zeros included; a unit
-- with dossiers in the period has rows whether or not it was valid. Field rows exist only where
-- the field had a flow or a backlog in the period.
{%- set columns = mau06_daily_columns() %}

-- the daily facts under every report unit they count in, per field and for all fields ('*')
with report_daily as (
    select
        daily.date_day,
        report_units.report_unit_id as unit_id,
        fields.field_code,
        {%- for column in columns %}
        sum(daily.{{ column }}) as {{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ ref('fct_dossier_daily') }} as daily
    inner join {{ ref('int_report_units') }} as report_units
        on report_units.unit_id = daily.unit_id
    cross join lateral (
        values (daily.field_code), ({{ all_fields_code() }})
    ) as fields (field_code)
    group by 1, 2, 3
),

-- each period: the flows of its days, and the backlog at the end of its last day
in_period as (
    select
        period_days.period_type,
        period_days.period_start,
        report_daily.unit_id,
        report_daily.field_code,
        0 as carried_over,
        {%- for column in columns %}
        {%- if column.startswith('pending_') %}
        case when period_days.is_period_end then report_daily.{{ column }} else 0 end as {{ column }}
        {%- else %}
        report_daily.{{ column }}
        {%- endif %}{{ "," if not loop.last }}
        {%- endfor %}
    from report_daily
    inner join {{ ref('int_report_period_days') }} as period_days
        on period_days.date_day = report_daily.date_day
),

-- each period: the backlog at the end of the day before it starts
carried as (
    select
        periods.period_type,
        periods.period_start,
        report_daily.unit_id,
        report_daily.field_code,
        report_daily.pending_on_time + report_daily.pending_overdue as carried_over,
        {%- for column in columns %}
        0 as {{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    from report_daily
    inner join {{ ref('int_report_periods') }} as periods
        on periods.period_start = report_daily.date_day + 1
    where report_daily.pending_on_time + report_daily.pending_overdue > 0
),

-- every unit valid during the period has an all-fields row
valid_units as (
    select
        period_type,
        period_start,
        unit_id,
        {{ all_fields_code() }} as field_code,
        0 as carried_over,
        {%- for column in columns %}
        0 as {{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ ref('int_report_unit_periods') }}
),

combined as (
    select
        period_type,
        period_start,
        unit_id,
        field_code,
        cast(sum(carried_over) as bigint) as carried_over,
        {%- for column in columns %}
        cast(sum({{ column }}) as bigint) as {{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    from (
        select * from in_period
        union all
        select * from carried
        union all
        select * from valid_units
    ) as contributions
    group by period_type, period_start, unit_id, field_code
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
