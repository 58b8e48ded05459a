{#- The periodic dossier report (domain.md "Mẫu 06") under a map of units, written once for
    kpi.tthc_report (unit_map 'in_force') and kpi.tthc_report_current_map (unit_map 'current').

  The daily facts (fct_dossier_daily) are kept under the unit the source records (DonViXuLy);
  the map decides under which unit each period reports them:
  - 'in_force': the map in force at the period's end (period_end, capped at as_of_date; model
    int_unit_succession). A unit succeeded during or before the period (valid_to before
    period_end, with a successor) has no rows of its own: its dossiers of the period are
    reported under its successor. So the periods that end by a unit's valid_to report it as it
    was, and from the first period ending after it, its dossiers, those still open included, are
    its successor's: carried_over of the successor = the pending_total the unit left at the end
    of the previous period. A period that straddles the date (an ISO week, a year) is reported
    under the map of its last day, as a whole. Dossiers the source records under a unit after its
    valid_to count under the successor (they are never dropped).
  - 'current': today's map (current_unit_id, the end of the SuccessorId chain of the units list
    in force on as_of_date), for every period: earlier periods restated under today's units.

  Identity 5 through the map: carried_over of (unit u, period p, field) = the sum of
  pending_total of period p - 1 (same type and field) over the units the map at p's end sends to
  u (u itself and every unit it succeeded by then). Under 'current' that is plainly u's own
  previous row. Province rows (int_report_units) roll up every unit whose root ancestor is the
  province of the mapped unit; they are the same under both maps when successors stay in their
  province.

  Rows: every unit valid during the period and reported under itself at its end ('in_force';
  int_report_unit_periods.reports_under_itself), or today's unit of every unit valid during the
  period ('current'), has a '*' row, zeros included; a unit with dossiers in the period has rows
  whether or not it was valid. Field rows exist where the field had a flow or a backlog.
-#}
{% macro mau06_period_report(unit_map) -%}
{%- if unit_map not in ('in_force', 'current') -%}
    {{ exceptions.raise_compiler_error("mau06_period_report: unit_map must be 'in_force' or 'current', got "
                                       ~ unit_map) }}
{%- endif -%}
{%- set columns = mau06_daily_columns() %}

-- the daily facts under the unit that reports them on their day
with mapped_daily as (
    select
        daily.date_day,
        {%- if unit_map == 'in_force' %}
        succession.report_unit_id as unit_id,
        {%- else %}
        units.current_unit_id as unit_id,
        {%- endif %}
        daily.field_code,
        {%- for column in columns %}
        daily.{{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ ref('fct_dossier_daily') }} as daily
    {%- if unit_map == 'in_force' %}
    inner join {{ ref('int_unit_succession') }} as succession
        on succession.unit_id = daily.unit_id
        and {{ unit_map_covers('succession', 'daily.date_day') }}
    {%- else %}
    inner join {{ ref('int_unit_hierarchy') }} as units
        on units.unit_id = daily.unit_id
    {%- endif %}
),

-- ... under every report unit they count in, per field and for all fields ('*')
report_daily as (
    select
        mapped_daily.date_day,
        report_units.report_unit_id as unit_id,
        fields.field_code,
        {%- for column in columns %}
        sum(mapped_daily.{{ column }}) as {{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    from mapped_daily
    inner join {{ ref('int_report_units') }} as report_units
        on report_units.unit_id = mapped_daily.unit_id
    cross join lateral (
        values (mapped_daily.field_code), ({{ all_fields_code() }})
    ) as fields (field_code)
    group by 1, 2, 3
),

-- each period: the flows of its days, and the backlog at the end of its last day
in_period as (
    select
        period_days.period_type,
        period_days.period_start,
        {{ mau06_period_unit('report_daily.unit_id', unit_map) }} as unit_id,
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
    {{ mau06_period_unit_join('report_daily.unit_id', 'period_days.period_end', unit_map) }}
),

-- each period: the backlog at the end of the day before it starts
carried as (
    select
        periods.period_type,
        periods.period_start,
        {{ mau06_period_unit('report_daily.unit_id', unit_map) }} as unit_id,
        report_daily.field_code,
        report_daily.pending_on_time + report_daily.pending_overdue as carried_over,
        {%- for column in columns %}
        0 as {{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    from report_daily
    inner join {{ ref('int_report_periods') }} as periods
        on periods.period_start = report_daily.date_day + 1
    {{ mau06_period_unit_join('report_daily.unit_id', 'periods.period_end', unit_map) }}
    where report_daily.pending_on_time + report_daily.pending_overdue > 0
),

-- the units with an all-fields row in every period, zeros included
valid_units as (
    select distinct
        unit_periods.period_type,
        unit_periods.period_start,
        {%- if unit_map == 'in_force' %}
        unit_periods.unit_id,
        {%- else %}
        units.current_unit_id as unit_id,
        {%- endif %}
        {{ all_fields_code() }} as field_code,
        0 as carried_over,
        {%- for column in columns %}
        0 as {{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ ref('int_report_unit_periods') }} as unit_periods
    {%- if unit_map == 'in_force' %}
    where unit_periods.reports_under_itself
    {%- else %}
    inner join {{ ref('int_unit_hierarchy') }} as units
        on units.unit_id = unit_periods.unit_id
    {%- endif %}
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
{%- endmacro %}


{#- The report unit of a daily row's unit in a period: under the map in force, the map at the
    period's end applied to the unit of the day (the maps compose, so this is the map at the
    period's end applied to the source unit); under today's map, the unit of the day already is
    today's. -#}
{% macro mau06_period_unit(unit_expr, unit_map) -%}
    {%- if unit_map == 'in_force' -%}at_period_end.report_unit_id{%- else -%}{{ unit_expr }}{%- endif -%}
{%- endmacro %}

{% macro mau06_period_unit_join(unit_expr, period_end_expr, unit_map) -%}
    {%- if unit_map == 'in_force' -%}
    inner join {{ ref('int_unit_succession') }} as at_period_end
        on at_period_end.unit_id = {{ unit_expr }}
        and {{ unit_map_covers('at_period_end', period_end_expr) }}
    {%- endif -%}
{%- endmacro %}


{#- The interval of int_unit_succession (alias) covers the day day_expr (inclusive bounds, null =
    unbounded). -#}
{% macro unit_map_covers(alias, day_expr) -%}
    ({{ alias }}.from_day is null or {{ alias }}.from_day <= {{ day_expr }})
    and ({{ alias }}.to_day is null or {{ day_expr }} <= {{ alias }}.to_day)
{%- endmacro %}
