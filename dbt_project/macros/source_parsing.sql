{#-
  Typing of landed payload values (sources.md, "General rules for every feed").
-#}

{#- A source timestamp 'yyyyMMddHHmmss' (local time, Asia/Ho_Chi_Minh) -> timestamp without time
    zone, kept in local time. '' / null / blanks -> null. The text is rebuilt as ISO and cast, so the
    session time zone never shifts it; a value that is not a valid timestamp fails the build (it is
    never guessed: the loader rejects malformed records before they land). -#}
{% macro parse_source_ts(column) -%}
    cast(
        regexp_replace(
            nullif(btrim({{ column }}), ''),
            '^([0-9]{4})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})$',
            '\1-\2-\3 \4:\5:\6'
        ) as timestamp without time zone
    )
{%- endmacro %}


{#- A text field of a JSON object: blanks -> null. -#}
{% macro json_text(json_expr, field) -%}
    nullif(btrim({{ json_expr }} ->> '{{ field }}'), '')
{%- endmacro %}


{#- A "0"/"1" (or JSON false/true) flag -> boolean; anything else -> null. -#}
{% macro source_flag(column) -%}
    case lower(btrim({{ column }}))
        when '1' then true
        when 'true' then true
        when '0' then false
        when 'false' then false
    end
{%- endmacro %}


{#- A JSON list field -> a jsonb array ('[]' when missing, null or not a list). -#}
{% macro json_list(json_expr, field) -%}
    case
        when jsonb_typeof({{ json_expr }} -> '{{ field }}') = 'array' then {{ json_expr }} -> '{{ field }}'
        else '[]'::jsonb
    end
{%- endmacro %}


{#- THE unnesting of a JSON list column (a jsonb array, macro json_list) of both systems: the FROM
    clause of a model with one row per item of `list_column` of `relation`, which it exposes as
    `alias` (the record) and `item` (value jsonb, ordinality = 1-based position in the list). A
    record whose list is empty has no row. A model to be unit tested (dbt unit_tests) starts with
    a CTE: dbt injects its fixtures after the model's first `with`, which must not be this
    macro's WITH ORDINALITY (fct_document_signatures). -#}
{% macro from_json_list(relation, alias, list_column) -%}
    from {{ relation }} as {{ alias }}
    cross join lateral jsonb_array_elements({{ alias }}.{{ list_column }}) with ordinality as item (value, ordinality)
{%- endmacro %}


{#- from_json_list on stg_onestop__dossiers: exposes `dossiers` (the dossier) and `item`. -#}
{% macro from_dossier_list(list_column) -%}
    {{ from_json_list(ref('stg_onestop__dossiers'), 'dossiers', list_column) }}
{%- endmacro %}


{#- from_json_list on stg_edoc__documents: exposes `documents` (the document) and `item`. -#}
{% macro from_document_list(list_column) -%}
    {{ from_json_list(ref('stg_edoc__documents'), 'documents', list_column) }}
{%- endmacro %}
