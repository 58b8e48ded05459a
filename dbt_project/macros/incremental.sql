{#-
  Incremental models on the batch ledger's current state (plugins/cchc/ledger/state.py).

  Every state row carries the merge_id of the merge that last wrote it, and state.removed_keys logs
  the keys a merge took out. A record-level model (one dossier's or one document's rows, computed
  from that record alone and from reference data) is materialized 'incremental' with
  incremental_strategy 'append' (the pre-hook has already deleted every row of the keys the select
  returns; dbt's delete+insert would search the table for them a second time) and:
    pre-hook   delete_changed_keys(): delete the rows of every key written or removed by a merge
               after the model's watermark (a key whose list became empty leaves nothing behind);
    select     only the staging rows written after the watermark (changed_rows_filter), or, for a
               model built on other record-level models, only the changed keys (changed_keys);
    post-hook  save_state_watermark(): the watermark becomes the state's latest merge.
  The watermark is kept per model in ops.dbt_incremental_watermarks (created by
  incremental_setup, on-run-start), not read back from the model's rows: a model may hold no row
  for a changed key (an empty list) and a merge may only remove keys. Hooks run inside the model's
  transaction, so the rows and the watermark commit together; a failed or skipped model keeps its
  old watermark and catches up on its next run.

  What the incremental rows may depend on: the record's state and reference data only, never the
  run's as_of_date (the state is already bounded by it, and an earlier as_of_date recomputes the
  state from scratch, hence `dbt build --full-refresh`, cchc.transform.dbt_runner.build). Reference
  data (units, procedures lists, seeds) and the project's code are fingerprinted by the runner
  (cchc.transform.incremental): when they change, the build is a full refresh.

  Keys: the staging key column (e.g. dossier_id = MaHoSo as json_text trims it) of the changed
  state rows; a removed key is known by its record_key only, trimmed the same way (a key of
  several fields, such as steps', is not supported here).
-#}

{% macro incremental_setup() -%}
    create schema if not exists ops;
    {{ dossier_cells_setup() }}
    {{ indicator_cells_setup() }}
    {{ recomputed_dossiers_setup() }}
    create table if not exists ops.dbt_incremental_watermarks (
        model_name   text not null,
        state_table  text not null,
        merge_id     bigint not null,
        updated_at   timestamptz not null default now(),
        primary key (model_name, state_table)
    );
{%- endmacro %}


{#- The latest merge of state_table this model has taken in (-1: none, take everything), as a
    literal read when the model runs (a literal lets the planner see how few state rows are newer:
    an index scan on merge_id, then the staging rows of those only, not a scan of the whole state). -#}
{% macro state_watermark(state_table) -%}
    {%- if execute -%}
        {%- set found = run_query(
            "select coalesce((select merge_id from ops.dbt_incremental_watermarks where model_name = '"
            ~ this.identifier ~ "' and state_table = '" ~ state_table ~ "'), -1)") -%}
        {{- found.rows[0][0] -}}
    {%- else -%}
        -1
    {%- endif -%}
{%- endmacro %}


{#- True for the rows of a staging model (alias) whose state row was written after the model's
    watermark: staging passes the state's merge_id through (an index scan on the state's merge_id,
    then the staging expressions of those rows only). -#}
{% macro changed_rows_filter(alias, state_table) -%}
    {{ alias }}.merge_id > {{ state_watermark(state_table) }}
{%- endmacro %}


{#- column is one of the keys of keys_select (a select of one column): as `column in (keys_select)`
    (NULL keys match nothing either way), written `= any(array(...))` so that the keys are collected
    first and looked up in the column's index. `in (select ...)` is planned as a hash join that
    reads the whole table: on 2.4M rows of int_indicator_dossier_contributions, 10,000 changed
    dossiers took 0.45 s that way and 0.09 s this way, and the hash join grows with the history. -#}
{% macro key_in(column, keys_select) -%}
    {{ column }} = any(array({{ keys_select }}))
{%- endmacro %}


{#- A select of the keys written or removed since the model's watermark, named key_column as in
    the staging model: the key of the staging rows whose state row was written after the
    watermark (the staging view is flattened into this query: an index scan on the state's
    merge_id, then the key expression of those rows only), and the keys a merge took out
    (stg_ledger__removed_keys: record_key, trimmed as staging's json_text trims the key field:
    the same text, since landing keeps the key field's value as record_key). -#}
{% macro changed_keys(state_table, staging_model, key_column) -%}
    select changed_rows.{{ key_column }}
    from {{ ref(staging_model) }} as changed_rows
    where changed_rows.merge_id > {{ state_watermark(state_table) }}
    union
    select nullif(btrim(removed.record_key), '')
    from {{ ref('stg_ledger__removed_keys') }} as removed
    where removed.table_name = '{{ state_table }}'
      and removed.merge_id > {{ state_watermark(state_table) }}
{%- endmacro %}


{#- pre-hook: in an incremental run, delete this model's rows of every changed or removed key. -#}
{% macro delete_changed_keys(state_table, staging_model, key_column) -%}
    {%- if is_incremental() -%}
    delete from {{ this }}
    where {{ key_in(key_column, changed_keys(state_table, staging_model, key_column)) }}
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}


{#- post-hook: this model has taken in every merge of state_table so far. -#}
{% macro save_state_watermark(state_table) -%}
    insert into ops.dbt_incremental_watermarks (model_name, state_table, merge_id, updated_at)
    select '{{ this.identifier }}', '{{ state_table }}', coalesce(max(merges.merge_id), 0), now()
    from {{ ref('stg_ledger__merges') }} as merges
    where merges.table_name = '{{ state_table }}'
    on conflict (model_name, state_table) do update
        set merge_id = excluded.merge_id, updated_at = excluded.updated_at
{%- endmacro %}


{#- The config of a record-level incremental model following state_table, for
    {{ config(**record_incremental_config(...)) }}: unique_key is the model's grain (its
    unique index), key_column the record key (indexed unless `indexes` says otherwise), merge_id
    indexed for the night's tests; the hooks (rendered when the model runs) delete
    the changed keys and keep the watermark; extra_hooks (SQL templates) run before the delete and
    after the insert, both before the watermark moves (e.g. log_dossier_cell_changes). The model
    must also name the dependencies of its hooks (dbt resolves a hook's ref() only when the model
    names it), with the macro incremental_dependencies:
    -- depends_on: {{ incremental_dependencies(staging_model) }} -#}
{% macro record_incremental_config(state_table, staging_model, key_column, unique_key, indexes=none,
                                   before_delete=[], after_insert=[]) -%}
    {%- set args = "'" ~ state_table ~ "', '" ~ staging_model ~ "', '" ~ key_column ~ "'" -%}
    {#- the grain is enforced by a unique index on every insert (tests read the night's rows only) -#}
    {%- set grain = [unique_key] if unique_key is string else unique_key -%}
    {%- set all_indexes = [{'columns': grain, 'unique': true}] -%}
    {%- for index in (indexes if indexes is not none else [{'columns': [key_column]}]) -%}
        {%- if index['columns'] != grain -%}
            {%- do all_indexes.append(index) -%}
        {%- endif -%}
    {%- endfor -%}
    {#- the night's tests read the rows merged after the tests' watermark (macro night_rows): an
        index scan on merge_id, not a scan of the whole history -#}
    {%- if ['merge_id'] not in all_indexes | map(attribute='columns') | list -%}
        {%- do all_indexes.append({'columns': ['merge_id']}) -%}
    {%- endif -%}
    {%- do return({
        'materialized': 'incremental',
        'incremental_strategy': 'append',
        'on_schema_change': 'fail',
        'indexes': all_indexes,
        'pre_hook': before_delete + ["{{ delete_changed_keys(" ~ args ~ ") }}"],
        'post_hook': after_insert + ["{{ save_state_watermark('" ~ state_table ~ "') }}"],
    }) -%}
{%- endmacro %}


{#- The models the hooks of record_incremental_config read, for a model's depends_on line:
    -- depends_on: {{ incremental_dependencies('stg_onestop__dossiers') }}
    (refs made in a macro the model calls are the model's dependencies, as if written in it). -#}
{% macro incremental_dependencies(staging_model) -%}
    {{ ref(staging_model) }} {{ ref('stg_ledger__removed_keys') }} {{ ref('stg_ledger__merges') }}
{%- endmacro %}


{#- The as_of_date the previous build of this model was made for, as a date literal read when the
    model runs ('1900-01-01' when none: everything is recomputed). Models that keep rows per
    month recompute the months from the previous as_of_date's on (a running month ends at
    as_of_date). -#}
{% macro previous_as_of() -%}
    {%- if execute -%}
        {%- set found = run_query(
            "select coalesce((select as_of_date from ops.dbt_incremental_as_of where model_name = '"
            ~ this.identifier ~ "'), date '1900-01-01')") -%}
        cast('{{ found.rows[0][0] }}' as date)
    {%- else -%}
        cast('1900-01-01' as date)
    {%- endif -%}
{%- endmacro %}


{#- post-hook of a model that recomputes its months from previous_as_of(): this as_of_date. -#}
{% macro save_as_of() -%}
    insert into ops.dbt_incremental_as_of (model_name, as_of_date, updated_at)
    values ('{{ this.identifier }}', {{ as_of_date() }}, now())
    on conflict (model_name) do update set as_of_date = excluded.as_of_date, updated_at = excluded.updated_at
{%- endmacro %}


{#-
  Models that keep rows per (month, dossier) — int_late_dossiers_monthly, int_late_dossier_months,
  int_late_dossier_list, int_due_date_month_ends — recompute, in an incremental run,
    - every month of the recomputed dossiers: the dossiers the ledger changed since the model's
      watermark (changed_keys of onestop__dossiers), and for a model that also reads the steps
      feed, the dossiers whose steps changed (late_list_step_changes);
    - every dossier's rows of the months from the previous build's as_of_date on (the running month
      ended at that as_of_date; the month after it is new);
  and keep every other row: an earlier month of an unchanged dossier was judged at that month's end
  from the dossier's record alone. The recomputed dossiers of one build are in
  ops.recomputed_dossiers (model_name, dossier_id), rewritten by the model's pre-hook inside its
  transaction, before the delete (a key set that reads the model's own rows must be taken first).
-#}
{% macro recomputed_dossiers_setup() -%}
    create table if not exists ops.recomputed_dossiers (
        model_name  text not null,
        dossier_id  text not null,
        primary key (model_name, dossier_id)
    );
{%- endmacro %}


{#- pre-hook (incremental runs): the recomputed dossiers of this build (changed_keys of
    onestop__dossiers, and the keys of also_keys, a select of dossier_id), then delete their rows
    and every row of the months from the previous as_of_date on (month_column: the model's month). -#}
{% macro delete_recomputed_months(also_keys=none, month_column='month_start') -%}
    {%- if is_incremental() -%}
    delete from ops.recomputed_dossiers where model_name = '{{ this.identifier }}';
    insert into ops.recomputed_dossiers (model_name, dossier_id)
    select distinct '{{ this.identifier }}', keys.dossier_id
    from (
        {{ changed_keys('onestop__dossiers', 'stg_onestop__dossiers', 'dossier_id') }}
        {%- if also_keys %}
        union
        {{ also_keys }}
        {%- endif %}
    ) as keys (dossier_id)
    where keys.dossier_id is not null;
    analyze ops.recomputed_dossiers;
    delete from {{ this }}
    where {{ key_in('dossier_id', recomputed_dossiers()) }}
       or {{ month_column }} >= {{ month_of(previous_as_of()) }}
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}


{#- The recomputed dossiers of this build (written by delete_recomputed_months), a select of
    dossier_id. -#}
{% macro recomputed_dossiers() -%}
    select recomputed.dossier_id from ops.recomputed_dossiers as recomputed
    where recomputed.model_name = '{{ this.identifier }}'
{%- endmacro %}


{#- int_late_dossier_list: the dossiers whose steps changed since its watermark on onestop__steps
    (a step written since; the longest step of a listed row removed since), a select of
    dossier_id. Read by its pre-hook before the delete (it reads the model's own rows). -#}
{% macro late_list_step_changes() -%}
    select steps.dossier_id
    from {{ ref('stg_onestop__steps') }} as steps
    where steps.merge_id > {{ state_watermark('onestop__steps') }}
    union
    select listed.dossier_id
    from {{ this }} as listed
    where listed.longest_step_key in (
        select removed.record_key
        from {{ ref('stg_ledger__removed_keys') }} as removed
        where removed.table_name = 'onestop__steps'
          and removed.merge_id > {{ state_watermark('onestop__steps') }}
    )
{%- endmacro %}
