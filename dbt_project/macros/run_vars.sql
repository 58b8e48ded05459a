{#-
  The run's parameters, validated once here and used everywhere as SQL literals.

  as_of_date      required 'YYYY-MM-DD': the last source day included. Missing or malformed ->
                  compilation error naming it (at parse time a placeholder is used so that
                  `dbt parse` / `dbt ls` work without it).
  publication_id  integer, default 0; stamped on every publish model.
  run_id          text, default 'manual'.

  Where they come from:
  - the pipeline (cchc.transform.dbt_runner.run_dbt) writes them into ops.dbt_run_params, one row
    per dbt work folder, just before dbt starts, and passes only that row's key as
    --vars '{"cchc_run_params": "<key>"}': the vars are the same every night, so dbt keeps its
    partial parse (changed --vars force a full re-parse). The row is read at execution time only
    (run_query inside `if execute`), once per invocation (cached in the shared graph dict);
  - manual runs pass them as --vars '{"as_of_date": "2024-03-31", ...}' as before; an explicit
    var('as_of_date') wins over the table.
-#}
{% macro _cchc_run_params() -%}
    {#- The ops.dbt_run_params row of var('cchc_run_params') as a dict; {} when no key is given or at
        parse time. -#}
    {%- set key = var('cchc_run_params', none) -%}
    {%- if key is none or not execute -%}
        {{ return({}) }}
    {%- endif -%}
    {%- set cache_name = '_cchc_run_params:' ~ key -%}
    {%- if cache_name in graph -%}
        {{ return(graph[cache_name]) }}
    {%- endif -%}
    {%- set found = run_query(
        "select as_of_date, publication_id, run_id from ops.dbt_run_params "
        ~ "where params_key = '" ~ (key | string | replace("'", "''")) ~ "'") -%}
    {%- if found.rows | length != 1 -%}
        {{ exceptions.raise_compiler_error(
            "var 'cchc_run_params' names the run parameters '" ~ key ~ "', but ops.dbt_run_params has no "
            ~ "such row: the pipeline writes it before dbt runs (cchc.transform.dbt_runner.run_dbt); "
            ~ "for a manual run pass --vars '{\"as_of_date\": \"YYYY-MM-DD\"}' instead") }}
    {%- endif -%}
    {%- set row = found.rows[0] -%}
    {%- set params = {'as_of_date': row[0], 'publication_id': row[1], 'run_id': row[2]} -%}
    {%- do graph.update({cache_name: params}) -%}
    {{ return(params) }}
{%- endmacro %}


{% macro _cchc_run_param(name, default) -%}
    {#- A run parameter: an explicit var wins, then the pipeline's ops.dbt_run_params row, then
        the project's default (dbt_project.yml vars) or `default`. -#}
    {%- set explicit = var(name, none) -%}
    {%- set params = _cchc_run_params() -%}
    {%- if name == 'as_of_date' and explicit is not none -%}
        {{ return(explicit) }}
    {%- elif params and params.get(name) is not none -%}
        {{ return(params[name]) }}
    {%- elif explicit is not none -%}
        {{ return(explicit) }}
    {%- endif -%}
    {{ return(default) }}
{%- endmacro %}


{% macro as_of_date() -%}
    {%- set value = _cchc_run_param('as_of_date', none) -%}
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
    {%- set value = _cchc_run_param('publication_id', 0) | string | trim -%}
    {%- if not modules.re.match('^[0-9]+$', value) -%}
        {{ exceptions.raise_compiler_error(
            "var 'publication_id' must be a non-negative integer, got '" ~ value ~ "'") }}
    {%- endif -%}
    cast({{ value }} as bigint)
{%- endmacro %}


{% macro run_id() -%}
    cast('{{ _cchc_run_param("run_id", "manual") | string | replace("'", "''") }}' as text)
{%- endmacro %}
