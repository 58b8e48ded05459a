{#-
  Report periods (seeds/report_periods.csv). A period type has either `months` months (1, 3, 6,
  12), aligned on the calendar year (month, quarter, half year, year), or `days` days (1, 7),
  aligned on Mondays: a day is itself, a week is the ISO week, Monday to Sunday (local dates). A
  week that straddles a month or a year end is one week, reported whole under its Monday.

  The three macros take the type's `months` and `days` (SQL expressions, one of them null) and
  are the only place these alignments are written.
-#}

{#- Monday 2024-01-01, the anchor of periods counted in days (any Monday would do). -#}
{% macro period_days_anchor() -%}
    date '2024-01-01'
{%- endmacro %}


{#- First day of the period that contains date_expr. -#}
{% macro period_start_of(date_expr, months, days) -%}
    case
        when {{ months }} is not null then make_date(
            cast(extract(year from {{ date_expr }}) as integer),
            (cast(extract(month from {{ date_expr }}) as integer) - 1) / {{ months }} * {{ months }} + 1,
            1
        )
        else cast({{ date_expr }} as date)
            - (((cast({{ date_expr }} as date) - {{ period_days_anchor() }}) % {{ days }} + {{ days }}) % {{ days }})
    end
{%- endmacro %}


{#- Natural last day of the period that starts on start_expr. -#}
{% macro period_natural_end(start_expr, months, days) -%}
    case
        when {{ months }} is not null
            then cast({{ start_expr }} + make_interval(months => {{ months }}) - interval '1 day' as date)
        else cast({{ start_expr }} as date) + ({{ days }} - 1)
    end
{%- endmacro %}


{#- The step from one period's start to the next. -#}
{% macro period_step(months, days) -%}
    case
        when {{ months }} is not null then make_interval(months => {{ months }})
        else make_interval(days => {{ days }})
    end
{%- endmacro %}
