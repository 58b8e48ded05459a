{#-
  fct_dossier_daily recomputes only the (unit, field) cells and days the night touched.

  A cell's rows from a day F on depend on the events of the cell from F on and on its backlog at
  the end of F - 1 (fct_dossier_daily: backlog = running sum of the events' changes). So a night
  recomputes, for each cell, the days from its window start F to as_of_date, where F is the
  earliest of:
    - the earliest event day, before or after the change, of every dossier int_dossier_events
      rewrote (its old rows are logged by the pre-hook before they are deleted, its new rows by the
      post-hook: a dossier that moved to another unit or field touches both cells);
    - the day after the previous build's as_of_date, for every cell with a backlog on that day or
      an event after it up to the new as_of_date (the days the build adds).
  Rows before F are kept as they are: no event before F changed, and a row of a day up to the
  previous as_of_date does not depend on as_of_date. The window's first day starts from the row of
  F - 1 (its backlog; no row = no backlog), so the recomputed rows equal a full build's.

  The log is ops.dossier_cell_changes (change_id, unit_id, field_code, from_day; a row with
  is_everything = true when int_dossier_events was rebuilt whole: every cell from its first
  event). fct_dossier_daily takes in the whole log and empties it (in the transaction of its
  rows: a failed or skipped build leaves the log for the next), and keeps the as_of_date it was
  built for (ops.dbt_incremental_as_of). The window of a build is
  kept in ops.fct_dossier_daily_window (rewritten by each incremental build, inside its
  transaction). Cells are keyed by (unit_id, field_code), never null for a dossier in the report.
-#}

{% macro dossier_cells_setup() -%}
    create table if not exists ops.dossier_cell_changes (
        change_id     bigint generated always as identity primary key,
        unit_id       text,
        field_code    text,
        from_day      date,
        is_everything boolean not null default false,
        logged_at     timestamptz not null default now()
    );
    create table if not exists ops.dbt_incremental_as_of (
        model_name    text primary key,
        as_of_date    date not null,
        updated_at    timestamptz not null default now()
    );
    create table if not exists ops.fct_dossier_daily_window (
        unit_id       text not null,
        field_code    text not null,
        from_day      date not null,
        primary key (unit_id, field_code)
    );
{%- endmacro %}


{#- int_dossier_events hooks: log the cells (and earliest day) of the changed dossiers' events,
    before ('before': the rows about to be replaced) and after ('after': the new rows) the model
    replaces them; a whole (non-incremental) build logs "everything". -#}
{% macro log_dossier_cell_changes(moment) -%}
    {%- if is_incremental() -%}
    insert into ops.dossier_cell_changes (unit_id, field_code, from_day)
    select unit_id, field_code, min(date_day)
    from {{ this }}
    where {{ key_in('dossier_id', changed_keys('onestop__dossiers', 'stg_onestop__dossiers', 'dossier_id')) }}
    group by unit_id, field_code
    {%- elif moment == 'after' -%}
    insert into ops.dossier_cell_changes (is_everything) values (true)
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}


{#- fct_dossier_daily pre-hooks (incremental runs): the window of each cell, then delete its rows
    from the window start on. -#}
{% macro dossier_daily_window(events_relation) -%}
    {%- if is_incremental() -%}
    delete from ops.fct_dossier_daily_window;
    insert into ops.fct_dossier_daily_window (unit_id, field_code, from_day)
    with previous as (
        select coalesce(
            (select as_of_date from ops.dbt_incremental_as_of where model_name = '{{ this.identifier }}'),
            cast('1900-01-01' as date)) as as_of_date
    ),

    rebuilt_whole as (
        select exists (select 1 from ops.dossier_cell_changes where is_everything) as is_true
    ),

    candidates as (
        -- the cells the changed dossiers' events were in, and are in now
        select unit_id, field_code, from_day
        from ops.dossier_cell_changes
        where not is_everything and unit_id is not null and field_code is not null

        union all

        -- int_dossier_events was rebuilt whole: every cell, from its first event or row
        select unit_id, field_code, min(date_day)
        from {{ events_relation }}
        where (select is_true from rebuilt_whole)
        group by unit_id, field_code

        union all

        select unit_id, field_code, min(date_day)
        from {{ this }}
        where (select is_true from rebuilt_whole)
        group by unit_id, field_code

        union all

        -- the days this build adds: cells with a backlog on the previous as_of_date ...
        select daily.unit_id, daily.field_code, previous.as_of_date + 1
        from {{ this }} as daily
        cross join previous
        where daily.date_day = previous.as_of_date
          and daily.pending_total > 0

        union all

        -- ... or an event after it, up to this as_of_date
        select events.unit_id, events.field_code, previous.as_of_date + 1
        from {{ events_relation }} as events
        cross join previous
        where events.date_day > previous.as_of_date
          and events.date_day <= {{ as_of_date() }}
    )

    select unit_id, field_code, min(from_day)
    from candidates
    where from_day <= {{ as_of_date() }}
    group by unit_id, field_code;

    delete from {{ this }} as daily
    using ops.fct_dossier_daily_window as window_cells
    where daily.unit_id = window_cells.unit_id
      and daily.field_code = window_cells.field_code
      and daily.date_day >= window_cells.from_day
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}


{#- fct_dossier_daily post-hook: the log is taken in (the build holds the run lock: nothing else
    writes it meanwhile), for this as_of_date. -#}
{% macro save_dossier_daily_marks() -%}
    delete from ops.dossier_cell_changes;
    {{ save_as_of() }}
{%- endmacro %}
