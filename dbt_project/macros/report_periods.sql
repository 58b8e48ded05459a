{#-
  Report periods (seeds/report_periods.csv): a period type has `months` months (1, 3, 6, 12),
  or none for a day. Periods are aligned on the calendar year: month, quarter, half year, year.
-#}

{#- First day of the period of `months` months that contains date_expr (the day itself when
    months is null). -#}
{% macro period_start_of(date_expr, months) -%}
    case
        when {{ months }} is null then cast({{ date_expr }} as date)
        else make_date(
            cast(extract(year from {{ date_expr }}) as integer),
            (cast(extract(month from {{ date_expr }}) as integer) - 1) / {{ months }} * {{ months }} + 1,
            1
        )
    end
{%- endmacro %}


{#- Natural last day of the period that starts on start_expr. -#}
{% macro period_natural_end(start_expr, months) -%}
    case
        when {{ months }} is null then cast({{ start_expr }} as date)
        else cast({{ start_expr }} + make_interval(months => {{ months }}) - interval '1 day' as date)
    end
{%- endmacro %}
