{#-
  int_indicator_monthly_dossier_counts recomputes only the (unit, month) cells the night touched.

  A cell's counts are the sums of the contributions (int_indicator_dossier_contributions) of the
  unit whose day falls in the month, up to as_of_date. So a night recomputes the cells
    - that a changed dossier's contributions were in before the change, or are in after it (the
      contributions' pre-hook logs the old rows' cells before they are deleted, its post-hook the
      new rows' cells: a dossier that moved to another unit touches both);
    - that hold a contribution dated after the previous build's as_of_date, up to the new one (the
      days this build adds, e.g. a backlog change on a day that has now come);
  and keeps every other cell as it is. When the contributions were rebuilt whole, every cell is
  recomputed. An earlier as_of_date than the previous build's is a full refresh (the runner).

  The log is ops.indicator_cell_changes (change_id, unit_id, month_start; is_everything when the
  contributions were rebuilt whole); the counts model takes in the whole log and empties it in the
  transaction of its rows (a failed or skipped build leaves it for the next), and keeps its
  as_of_date in ops.dbt_incremental_as_of. The cells of one build are in
  ops.indicator_counts_window (rewritten by each incremental build, inside its transaction).
-#}

{% macro indicator_cells_setup() -%}
    create table if not exists ops.indicator_cell_changes (
        change_id     bigint generated always as identity primary key,
        unit_id       text,
        month_start   date,
        is_everything boolean not null default false,
        logged_at     timestamptz not null default now()
    );
    create table if not exists ops.indicator_counts_window (
        unit_id       text not null,
        month_start   date not null,
        primary key (unit_id, month_start)
    );
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


{#- int_indicator_monthly_dossier_counts pre-hooks (incremental runs): the cells of this build,
    then delete their rows. -#}
{% macro indicator_counts_window(contributions_relation) -%}
    {%- if is_incremental() -%}
    delete from ops.indicator_counts_window;
    insert into ops.indicator_counts_window (unit_id, month_start)
    with rebuilt_whole as (
        select exists (select 1 from ops.indicator_cell_changes where is_everything) as is_true
    ),

    candidates as (
        select unit_id, month_start
        from ops.indicator_cell_changes
        where not is_everything and unit_id is not null and month_start is not null

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

    select unit_id, month_start
    from candidates;

    delete from {{ this }} as counts
    using ops.indicator_counts_window as window_cells
    where counts.unit_id = window_cells.unit_id
      and counts.month_start = window_cells.month_start
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}


{#- int_indicator_monthly_dossier_counts post-hook: the log is taken in (the build holds the run
    lock), for this as_of_date. -#}
{% macro save_indicator_counts_marks() -%}
    delete from ops.indicator_cell_changes;
    {{ save_as_of() }}
{%- endmacro %}
