{#-
  The models that sum per-dossier rows into (unit, month) cells recompute only the cells the night
  touched: int_indicator_monthly_dossier_counts (the indicators' monthly counts) and
  int_due_date_unit_months (the due-date audit's monthly counts).

  Both are cells of the months a dossier's contributions (int_indicator_dossier_contributions) fall
  in: its reception month and its finish month are among them, in the dossier's unit. So a night
  recomputes, for each of these models, the cells
    - that a changed dossier's contributions were in before the change, or are in after it (the
      contributions' pre-hook logs the old rows' cells before they are deleted, its post-hook the
      new rows' cells: a dossier that moved to another unit touches both);
    - that hold a contribution dated after the model's previous as_of_date, up to the new one (the
      days this build adds, e.g. a backlog change or a reception on a day that has now come);
  and keeps every other cell as it is. When the contributions were rebuilt whole, every cell is
  recomputed. An earlier as_of_date than the previous build's is a full refresh (the runner).

  The log is ops.indicator_cell_changes (change_id, unit_id, month_start; is_everything when the
  contributions were rebuilt whole). Each model takes in the log rows after its own mark
  (ops.indicator_cell_marks: the last change_id it took in, moved in the transaction of its rows,
  so a failed or skipped build leaves them for its next build) and keeps its as_of_date in
  ops.dbt_incremental_as_of; the rows every model has taken in are deleted. The cells of one build
  of a model are in ops.indicator_cells_window (model_name, unit_id, month_start), rewritten by
  each incremental build of that model inside its transaction.
-#}

{% macro indicator_cells_setup() -%}
    create table if not exists ops.indicator_cell_changes (
        change_id     bigint generated always as identity primary key,
        unit_id       text,
        month_start   date,
        is_everything boolean not null default false,
        logged_at     timestamptz not null default now()
    );
    create table if not exists ops.indicator_cell_marks (
        model_name    text primary key,
        change_id     bigint not null,
        updated_at    timestamptz not null default now()
    );
    create table if not exists ops.indicator_cells_window (
        model_name    text not null,
        unit_id       text not null,
        month_start   date not null,
        primary key (model_name, unit_id, month_start)
    );
    -- the window of the time when the monthly counts were the log's only reader
    drop table if exists ops.indicator_counts_window;
{%- endmacro %}


{#- int_indicator_dossier_contributions hooks: log the cells of the changed dossiers' rows, before
    ('before': the rows about to be replaced) and after ('after': the new rows) the model replaces
    them; a whole (non-incremental) build logs "everything". -#}
{% macro log_indicator_cell_changes(moment) -%}
    {%- if is_incremental() -%}
    insert into ops.indicator_cell_changes (unit_id, month_start)
    select distinct unit_id, month_start
    from {{ this }}
    where {{ key_in('dossier_id', changed_keys('onestop__dossiers', 'stg_onestop__dossiers', 'dossier_id')) }}
    {%- elif moment == 'after' -%}
    insert into ops.indicator_cell_changes (is_everything) values (true)
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}


{#- The models that read the log (each keeps its mark); the log rows all of them have taken in are
    deleted, so a model that no longer reads it must leave this list. -#}
{% macro indicator_cells_readers() -%}
    {%- do return(['int_indicator_monthly_dossier_counts', 'int_due_date_unit_months']) -%}
{%- endmacro %}


{#- The log rows this model has not taken in yet (a from clause). A model without a mark (first
    incremental build after its mark was introduced) takes in the whole log. -#}
{% macro untaken_cell_changes() -%}
    ops.indicator_cell_changes as changes
    where changes.change_id > coalesce(
        (select marks.change_id from ops.indicator_cell_marks as marks
         where marks.model_name = '{{ this.identifier }}'), 0)
{%- endmacro %}


{#- pre-hook of a cells model (incremental runs): the cells of this build, then delete their rows
    (the model's cells are keyed unit_id, month_start). -#}
{% macro indicator_cells_window(contributions_relation) -%}
    {%- if this.identifier not in indicator_cells_readers() -%}
    {{ exceptions.raise_compiler_error(this.identifier ~ ' reads ops.indicator_cell_changes: add it to '
                                       ~ 'indicator_cells_readers() (macros/indicator_cells.sql)') }}
    {%- endif -%}
    {%- if is_incremental() -%}
    delete from ops.indicator_cells_window where model_name = '{{ this.identifier }}';
    insert into ops.indicator_cells_window (model_name, unit_id, month_start)
    with rebuilt_whole as (
        select exists (select 1 from {{ untaken_cell_changes() }} and changes.is_everything) as is_true
    ),

    candidates as (
        select changes.unit_id, changes.month_start
        from {{ untaken_cell_changes() }}
          and not changes.is_everything and changes.unit_id is not null and changes.month_start is not null

        union

        select unit_id, month_start
        from {{ contributions_relation }}
        where (select is_true from rebuilt_whole)

        union

        select unit_id, month_start
        from {{ this }}
        where (select is_true from rebuilt_whole)

        union

        -- the days this build adds
        select contributions.unit_id, contributions.month_start
        from {{ contributions_relation }} as contributions
        where contributions.contribution_day > {{ previous_as_of() }}
          and contributions.contribution_day <= {{ as_of_date() }}
    )

    select '{{ this.identifier }}', unit_id, month_start
    from candidates;

    delete from {{ this }} as cells
    using ops.indicator_cells_window as window_cells
    where window_cells.model_name = '{{ this.identifier }}'
      and cells.unit_id = window_cells.unit_id
      and cells.month_start = window_cells.month_start
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}


{#- The cells of this build of a cells model, a select of (unit_id, month_start). -#}
{% macro indicator_window_cells() -%}
    select window_cells.unit_id, window_cells.month_start
    from ops.indicator_cells_window as window_cells
    where window_cells.model_name = '{{ this.identifier }}'
{%- endmacro %}


{#- post-hook of a cells model: it has taken in the log so far (the build holds the run lock), for
    this as_of_date; the rows every reader has taken in are deleted. -#}
{% macro save_indicator_cells_marks() -%}
    insert into ops.indicator_cell_marks (model_name, change_id, updated_at)
    select '{{ this.identifier }}', coalesce(max(change_id), 0), now() from ops.indicator_cell_changes
    on conflict (model_name) do update set change_id = excluded.change_id, updated_at = excluded.updated_at;
    -- readers prune one at a time (two deletes of the same rows in another order could deadlock);
    -- a reader without a mark yet keeps every row
    select pg_advisory_xact_lock(hashtext('cchc.ops.indicator_cell_changes'));
    delete from ops.indicator_cell_changes
    where change_id <= (
        select min(coalesce(marks.change_id, 0))
        from unnest(array['{{ indicator_cells_readers() | join("', '") }}']) as readers (model_name)
        left join ops.indicator_cell_marks as marks
            on marks.model_name = readers.model_name
    );
    {{ save_as_of() }}
{%- endmacro %}
