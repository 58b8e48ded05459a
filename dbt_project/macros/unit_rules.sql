{#- The unit level whose rows in the report roll up every unit under it (sources.md: units.Level;
    code list `unit_level` in seeds/source_code_lists.csv). -#}
{% macro province_level_code() -%}
    'TINH'
{%- endmacro %}
