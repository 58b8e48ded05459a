{#-
  Planner statistics for the tables dbt builds (the project post-hook, dbt_project.yml).

  A freshly built table has none: without them a join of a just-built table can take minutes
  instead of a second (issue 6: fct_documents 63 s, 1.2 s after ANALYZE). So every table model, and
  every incremental model built whole (its first build, a full refresh), is analyzed at once.

  An incremental build changes a few rows of a large table (a night: 10,000 of 400,000 dossiers):
  its statistics stay good, and ANALYZE samples the whole table again each night (2.0 s for
  fct_dossiers at 400k dossiers, 10.6 s a night over the project). It is analyzed when the rows
  changed since its last ANALYZE (pg_stat_user_tables.n_mod_since_analyze, which counts the
  earlier builds' changes; this build's are counted once its transaction commits) reach a tenth of
  its rows, autovacuum's own default threshold, or when it has never been analyzed. Statistics
  guide plans only: they never change a result. Views and ephemeral models have none to gather.
-#}
{% macro refresh_statistics() -%}
    {%- set kind = model.config.materialized -%}
    {%- if kind == 'table' or (kind == 'incremental' and not is_incremental()) -%}
    analyze {{ this }}
    {%- elif kind == 'incremental' -%}
    do $statistics$
    begin
        if coalesce((
            select stats.last_analyze is null and stats.last_autoanalyze is null
                   or stats.n_mod_since_analyze >= 0.1 * greatest(tables.reltuples, 0)
            from pg_catalog.pg_stat_user_tables as stats
            inner join pg_catalog.pg_class as tables on tables.oid = stats.relid
            where stats.schemaname = '{{ this.schema }}' and stats.relname = '{{ this.identifier }}'
        ), true) then
            analyze {{ this }};
        end if;
    end
    $statistics$
    {%- endif -%}
{%- endmacro %}
