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
