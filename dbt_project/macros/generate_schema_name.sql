{#-
  Schemas are used exactly as configured (no "<target schema>_" prefix):
  staging -> stg, intermediate -> int, marts -> marts, seeds -> ref, publish -> kpi_build.
  A node without a custom schema lands in the target schema (`build`).
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
