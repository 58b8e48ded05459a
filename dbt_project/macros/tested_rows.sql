{#-
  Tests of staging run on the night's rows only.

  A staging model is a view over the ledger's current state (state.<system>__<feed>), and every
  state row carries the merge that last wrote it (merge_id, global across the state tables). The
  tests of the staging models (dbt_project.yml: data_tests staging +where: night_rows_marker())
  read only the rows written after the last build whose tests all passed or warned
  (ops.dbt_tests_watermark, kept by cchc.transform.incremental, written by
  cchc.transform.dbt_runner.build after a build without errors): a night tests the rows of its
  own merges, plus those of a failed night before it, not the whole history again.

  - A full refresh (cchc rebuild, a change of code or reference data, an earlier as_of_date) clears
    the watermark first: every row is tested.
  - A manual `dbt build` (no watermark row) tests every row.
  - A warn-level test's stored failures (audit.*) name the night's offending records; the records'
    exclusions themselves live in the int_ and fct_ models (report_exclusion_reason), which keep
    every night's.
  - Grain: the state's primary key is the record key, so a key cannot appear twice in a feed's
    state; the staging `unique` tests check the night's rows among themselves, and the int_/fct_
    models' unique indexes reject any duplicate key in the whole table.

  Other `where` configs keep dbt's behaviour (default__get_where_subquery).
-#}

{#- The marker dbt_project.yml puts in the `where` config of the staging tests. -#}
{% macro night_rows_marker() -%}
    rows_merged_since_the_last_tested_build
{%- endmacro %}


{#- The latest merge whose rows a build has tested (-1: none, test everything), as a literal read
    when the test runs (a literal lets the planner use the state's merge_id index). -#}
{% macro tested_merge_watermark() -%}
    {%- set mark = -1 -%}
    {%- if execute -%}
        {%- set exists = run_query("select to_regclass('ops.dbt_tests_watermark') is not null") -%}
        {%- if exists.rows[0][0] -%}
            {%- set found = run_query(
                "select coalesce((select merge_id from ops.dbt_tests_watermark where scope = 'staging'), -1)") -%}
            {%- set mark = found.rows[0][0] -%}
        {%- endif -%}
    {%- endif -%}
    {{- mark -}}
{%- endmacro %}


{% macro postgres__get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where and (where | trim) == (night_rows_marker() | trim) -%}
        {%- set filtered -%}
            (select * from {{ relation }} where merge_id > {{ tested_merge_watermark() }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- endif -%}
    {%- do return(default__get_where_subquery(relation)) -%}
{%- endmacro %}
