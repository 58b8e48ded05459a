{#-
  Tests of record-level rows run on the night's rows only.

  The staging views read the ledger's current state (state.<system>__<feed>), and every state row
  carries the merge that last wrote it (merge_id, global across the state tables); the record-level
  models (one dossier's or one document's rows: int_dossiers and its list models,
  int_dossier_events, fct_dossiers, fct_documents and its list models) pass it on. The tests of
  staging, intermediate and marts (dbt_project.yml: their `where` is the marker
  night_rows_marker()) read, on a relation with a merge_id column, only the rows written after the
  last build whose tests all passed or warned (ops.dbt_tests_watermark, kept by
  cchc.transform.incremental, written by cchc.transform.dbt_runner.build after a build without
  errors): a night tests the rows of its own merges, plus those of a failed night before it, not the
  whole history again. A relation without merge_id (dimensions, daily and periodic facts, the
  publication candidates) is tested whole.

  - A full refresh (cchc rebuild, a change of code or reference data, an earlier as_of_date) clears
    the watermark first: every row is tested.
  - A manual `dbt build` (no watermark row) tests every row.
  - A warn-level test's stored failures (audit.*) name the night's offending records; the records'
    exclusions themselves stay in the models (report_exclusion_reason), which keep every night's.
  - Grain: the state's primary key is the record key, and every record-level incremental model has
    a unique index on its grain (record_incremental_config), enforced on every insert; the
    `unique` tests check the night's rows among themselves.

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


{#- The rows of `relation` a test of this build reads: those written after the tests' watermark
    when the relation has a merge_id column, else the whole relation. Generic tests get it through
    their `where` marker; a singular test calls it: from {{ night_rows(ref('int_dossiers')) }} -#}
{% macro night_rows(relation) -%}
    {%- if execute -%}
        {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | list -%}
        {%- if 'merge_id' in columns -%}
            {%- do return('(select * from ' ~ relation ~ ' where merge_id > ' ~ tested_merge_watermark()
                          ~ ') dbt_subquery') -%}
        {%- endif -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}


{% macro postgres__get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where and (where | trim) == (night_rows_marker() | trim) -%}
        {%- do return(night_rows(relation)) -%}
    {%- endif -%}
    {%- do return(default__get_where_subquery(relation)) -%}
{%- endmacro %}
