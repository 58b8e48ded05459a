{#- A list of text values as an SQL list of string literals: ['month', 'year'] -> ('month', 'year')
    (quotes doubled). An empty list renders (null), which matches nothing. -#}
{% macro string_list(values) -%}
    ({%- for value in values -%}
        '{{ value | string | replace("'", "''") }}'{{ ", " if not loop.last }}
    {%- else -%}
        null
    {%- endfor -%})
{%- endmacro %}
