{#-
  Run-level constants shared with Python, defined once in dbt_project.yml (vars) and read by
  cchc.constants from the same file (tests/test_run_constants.py checks that both sides agree).
-#}
{% macro reported_systems() -%}
    {#- The systems whose days a publication claims, as an SQL list: ('edoc', 'onestop'). -#}
    {%- set systems = var('reported_systems') -%}
    {%- if systems is string or systems | length == 0 -%}
        {{ exceptions.raise_compiler_error(
            "var 'reported_systems' must be a non-empty list of system names, got '" ~ systems ~ "'") }}
    {%- endif -%}
    {{ string_list(systems | sort) }}
{%- endmacro %}
