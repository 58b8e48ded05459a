{#-
  The run's variables, validated once here and used everywhere as SQL literals.

  as_of_date      required 'YYYY-MM-DD': the last source day included. Missing or malformed ->
                  compilation error naming the var (at parse time a placeholder is used so that
                  `dbt parse` / `dbt ls` work without vars).
  publication_id  integer, default 0; stamped on every publish model.
  run_id          text, default 'manual'.
-#}
{% macro as_of_date() -%}
    {%- set value = var('as_of_date', none) -%}
    {%- if value is none or (value | string | trim) == '' -%}
        {%- if execute -%}
            {{ exceptions.raise_compiler_error(
                "var 'as_of_date' is required: the last source day included, as 'YYYY-MM-DD' "
                ~ "(e.g. --vars '{\"as_of_date\": \"2024-03-31\"}')") }}
        {%- endif -%}
        {%- set value = '1900-01-01' -%}
    {%- endif -%}
    {%- set value = value | string | trim -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', value) -%}
        {{ exceptions.raise_compiler_error(
            "var 'as_of_date' must be a date 'YYYY-MM-DD', got '" ~ value ~ "'") }}
    {%- endif -%}
    cast('{{ value }}' as date)
{%- endmacro %}


{% macro publication_id() -%}
    {%- set value = var('publication_id', 0) | string | trim -%}
    {%- if not modules.re.match('^[0-9]+$', value) -%}
        {{ exceptions.raise_compiler_error(
            "var 'publication_id' must be a non-negative integer, got '" ~ value ~ "'") }}
    {%- endif -%}
    cast({{ value }} as bigint)
{%- endmacro %}


{% macro run_id() -%}
    cast('{{ var("run_id", "manual") | string | replace("'", "''") }}' as text)
{%- endmacro %}
