{#-
  Working-day arithmetic on dim_date (built from the calendar seeds; Python twin:
  plugins/cchc_demo/working_days.py). Both are scalar SQL expressions usable in any select.

  A date outside the calendar's years gives null here, and must never be passed in: a record
  with such a date is left out of the counts with report_exclusion_reason 'date_outside_calendar'
  (macro dates_in_calendar_years below; int_dossiers, fct_documents), never guessed. A year that
  the report periods or as_of_date need without a notice fails the build
  (tests/assert_dossier_dates_in_calendar_years.sql). Callers must not turn null into a number.
-#}

{#- True when every given date (or timestamp) is null or falls in a year with a working-day
    notice (seeds/calendar_notices.csv): only then may the macros below be called on them. -#}
{% macro dates_in_calendar_years(date_exprs) -%}
    {%- if date_exprs is string %}{% set date_exprs = [date_exprs] %}{% endif -%}
    (
    {%- for date_expr in date_exprs %}
        ({{ date_expr }} is null or cast(extract(year from {{ date_expr }}) as integer) in (
            select notices.year from {{ ref('calendar_notices') }} as notices)){{ " and" if not loop.last }}
    {%- endfor %}
    )
{%- endmacro %}

{#- Working days in (start_date, end_date]: same as cchc_demo.working_days.working_days_between when
    end_date >= start_date; negative (minus the working days in (end_date, start_date]) when
    end_date < start_date. Dates or timestamps (the date part is used). -#}
{% macro working_days_between(start_date, end_date) -%}
    (
        (select wd_end.working_day_seq
         from {{ ref('dim_date') }} as wd_end
         where wd_end.date_day = cast({{ end_date }} as date))
        - (select wd_start.working_day_seq
           from {{ ref('dim_date') }} as wd_start
           where wd_start.date_day = cast({{ start_date }} as date))
    )
{%- endmacro %}


{#- The date n working days after start_date (n >= 0; n = 0 -> start_date itself), as
    cchc_demo.working_days.add_working_days. -#}
{% macro add_working_days(start_date, n) -%}
    (
        case
            when ({{ n }}) = 0 then cast({{ start_date }} as date)
            else (
                select min(wd_target.date_day)
                from {{ ref('dim_date') }} as wd_target
                where wd_target.is_working_day
                  and wd_target.working_day_seq = (
                      select wd_start.working_day_seq
                      from {{ ref('dim_date') }} as wd_start
                      where wd_start.date_day = cast({{ start_date }} as date)
                  ) + ({{ n }})
            )
        end
    )
{%- endmacro %}
