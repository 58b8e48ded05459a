-- The due-date audit's monthly counts per (unit_id, month_start) of the dossier's own unit (not yet
-- mapped to the report's units: kpi.due_date_audit_monthly sums these cells under the map in force
-- at each month's end), from int_dossier_statutory_due:
-- * the month's receptions up to as_of_date: with a known statutory due time (due_dates_checked),
--   whose due date differs (due_dates_differing), later / earlier than the law, and the working
--   days the later ones add (hidden_working_days);
-- * the month's finished dossiers late by the law and not by the source (resolved_hidden_late),
--   and the reverse (resolved_late_not_by_law); a dossier without a statutory due time keeps the
--   source's verdict.
-- Rows only where the unit received or finished a dossier in the month.
--
-- Incremental: a night recomputes only the (unit, month) cells its changed dossiers were or are
-- in, and the cells of the days it adds (macros/indicator_cells.sql: a dossier's reception and
-- finish months are cells of its contributions), reading only the dossiers received or finished
-- in those cells; a full refresh computes every cell.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    indexes=[{'columns': ['unit_id', 'month_start'], 'unique': true}],
    pre_hook=["{{ indicator_cells_window(ref('int_indicator_dossier_contributions')) }}"],
    post_hook=["{{ save_indicator_cells_marks() }}"]
) }}
-- depends_on: {{ ref('int_indicator_dossier_contributions') }}
{%- set as_of = as_of_date() %}
with
{%- if is_incremental() %}

window_cells as materialized (
    {{ indicator_window_cells() }}
),

-- the dossiers received or finished in a cell of this build (their contributions of those days)
window_dossiers as materialized (
    select distinct contributions.dossier_id
    from {{ ref('int_indicator_dossier_contributions') }} as contributions
    inner join window_cells
        on window_cells.unit_id = contributions.unit_id
       and window_cells.month_start = contributions.month_start
    where contributions.contribution in ('received', 'finished')
),
{%- endif %}

dossiers as (
    select
        due.*,
        coalesce(due.finished_late_by_statutory, due.finished_late_by_source) as finished_late_by_law
    from {{ ref('int_dossier_statutory_due') }} as due
    {%- if is_incremental() %}
    where due.dossier_id in (select window_dossiers.dossier_id from window_dossiers)
    {%- endif %}
),

receptions as (
    select
        dossiers.unit_id,
        {{ month_of('dossiers.received_at') }} as month_start,
        count(*) filter (where dossiers.statutory_due_at is not null) as due_dates_checked,
        count(*) filter (where dossiers.due_date_differs) as due_dates_differing,
        count(*) filter (where dossiers.due_date_differs and dossiers.due_at > dossiers.statutory_due_at)
            as due_later_than_law,
        count(*) filter (where dossiers.due_date_differs and dossiers.due_at < dossiers.statutory_due_at)
            as due_earlier_than_law,
        coalesce(sum(greatest(dossiers.working_days_difference, 0)) filter (where dossiers.due_date_differs), 0)
            as hidden_working_days,
        0 as resolved_hidden_late,
        0 as resolved_late_not_by_law
    from dossiers
    where cast(dossiers.received_at as date) <= {{ as_of }}
    group by dossiers.unit_id, {{ month_of('dossiers.received_at') }}
),

finishes as (
    select
        dossiers.unit_id,
        {{ month_of('dossiers.finished_at') }} as month_start,
        0 as due_dates_checked,
        0 as due_dates_differing,
        0 as due_later_than_law,
        0 as due_earlier_than_law,
        0 as hidden_working_days,
        count(*) filter (where dossiers.finished_late_by_law and not dossiers.finished_late_by_source)
            as resolved_hidden_late,
        count(*) filter (where dossiers.finished_late_by_source and not dossiers.finished_late_by_law)
            as resolved_late_not_by_law
    from dossiers
    where dossiers.finished_at is not null
    group by dossiers.unit_id, {{ month_of('dossiers.finished_at') }}
),

cells as (
    select
        unit_id,
        month_start,
        cast(sum(due_dates_checked) as bigint) as due_dates_checked,
        cast(sum(due_dates_differing) as bigint) as due_dates_differing,
        cast(sum(due_later_than_law) as bigint) as due_later_than_law,
        cast(sum(due_earlier_than_law) as bigint) as due_earlier_than_law,
        cast(sum(hidden_working_days) as bigint) as hidden_working_days,
        cast(sum(resolved_hidden_late) as bigint) as resolved_hidden_late,
        cast(sum(resolved_late_not_by_law) as bigint) as resolved_late_not_by_law
    from (
        select * from receptions
        union all
        select * from finishes
    ) as counted
    group by unit_id, month_start
)

select cells.*
from cells
{%- if is_incremental() %}
inner join window_cells
    on window_cells.unit_id = cells.unit_id
   and window_cells.month_start = cells.month_start
{%- endif %}
