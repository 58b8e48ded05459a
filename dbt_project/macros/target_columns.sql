{#-
  The typed columns of a targets record (reference feed `targets`, sources.md), the one place they
  are read from a payload: stg_reference__targets (the list in force) and int_targets_history (every
  list in force over time) both select them. Year and TargetValue were checked at landing
  (cchc.contracts NumberRule: an integer year, a number 0..1), so the casts cannot fail.
-#}
{% macro target_columns(payload) -%}
    {{ json_text(payload, 'UnitId') }} as unit_id,
    {{ json_text(payload, 'Level') }} as unit_level,
    cast(btrim({{ payload }} ->> 'Year') as integer) as target_year,
    {{ json_text(payload, 'IndicatorCode') }} as indicator_code,
    cast(btrim({{ payload }} ->> 'TargetValue') as numeric) as target_value
{%- endmacro %}
