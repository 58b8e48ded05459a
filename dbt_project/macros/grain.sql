{#-
  The grain of a model: the combination of columns that identifies one of its rows. A grain test
  (dbt_project/tests/grain/, one singular test per model whose models YAML declares no grain test)
  fails with the combinations that occur more than once. On a record-level model (a merge_id
  column) it reads the night's rows only (macro night_rows, as the generic tests of intermediate
  models do); the unique index of record_incremental_config enforces the grain across nights.
  Call: {{ grain_duplicates(ref('int_dossier_fees'), ['dossier_id', 'fee_seq']) }}
-#}
{% macro grain_duplicates(relation, columns) -%}
    {{ config(tags=['grain']) }}
select
    {%- for column in columns %}
    {{ column }},
    {%- endfor %}
    count(*) as n_rows
from {{ night_rows(relation) }}
group by {{ columns | join(', ') }}
having count(*) > 1
{%- endmacro %}


{#- The columns (of `columns`) of a valid, non-partial unique index on plain columns of relation
    whose columns are all among `columns`, as {'columns': [...], 'nullable': [...]} (nullable: the
    index's columns not declared NOT NULL, none when the index treats NULLs as equal); none when no
    such index exists (or at parse time). The index with the fewest nullable columns is taken. -#}
{% macro unique_index_columns(relation, columns) -%}
    {%- if not execute -%}{{ return(none) }}{%- endif -%}
    {%- set wanted = columns | map('lower') | list -%}
    {%- set query -%}
        select
            string_agg(a.attname::text, ',' order by k.ord) as index_columns,
            coalesce(string_agg(a.attname::text, ',' order by k.ord)
                     filter (where not a.attnotnull and not x.indnullsnotdistinct), '') as nullable
        from pg_index as x
        cross join lateral unnest(x.indkey::int2[]) with ordinality as k (attnum, ord)
        inner join pg_attribute as a on a.attrelid = x.indrelid and a.attnum = k.attnum
        where x.indrelid = to_regclass({{ dbt.string_literal(relation) }})
          and x.indisunique and x.indisvalid and x.indpred is null and x.indexprs is null
        group by x.indexrelid
        having bool_and(a.attname::text = any(array[
            {%- for c in wanted %}{{ dbt.string_literal(c) }}{{ ", " if not loop.last }}{% endfor %}]::text[]))
        order by count(*) filter (where not a.attnotnull and not x.indnullsnotdistinct), count(*)
        limit 1
    {%- endset -%}
    {%- set found = run_query(query) -%}
    {%- if found.rows | length == 0 -%}{{ return(none) }}{%- endif -%}
    {%- set nullable = found.rows[0][1] -%}
    {{ return({'columns': found.rows[0][0].split(','), 'nullable': nullable.split(',') if nullable else []}) }}
{%- endmacro %}
