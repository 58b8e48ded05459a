-- One row per (unit_id, month_start) with the monthly rules of the dossier bases (dossier_received,
-- dossier_finished; macros/indicator_rules.sql) and the month's backlog changes: the sums of the
-- unit's contributions (int_indicator_dossier_contributions) dated in the month, up to as_of_date.
-- Rows only where the unit had a contribution in the month.
--
-- Incremental: a night recomputes only the (unit, month) cells its changed dossiers were or are in,
-- and the cells of the days it adds (macros/indicator_cells.sql); a full refresh computes every
-- cell. Its cost follows the cells a night touches, not the history.
{%- set rules = indicator_monthly_rules() %}
{%- set dossier_rules = [] %}
{%- for rule in rules if rule.basis in indicator_dossier_bases() %}
{%- do dossier_rules.append(rule) %}
{%- endfor %}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    indexes=[{'columns': ['unit_id', 'month_start'], 'unique': true}],
    pre_hook=["{{ indicator_cells_window(ref('int_indicator_dossier_contributions')) }}"],
    post_hook=["{{ save_indicator_cells_marks() }}"]
) }}

select
    contributions.unit_id,
    contributions.month_start,
    {%- for rule in dossier_rules %}
    cast(sum(contributions.{{ rule.name }}) as bigint) as {{ rule.name }},
    {%- endfor %}
    cast(sum(contributions.pending_change) as bigint) as pending_change,
    cast(sum(contributions.pending_within_deadline_766_change) as bigint) as pending_within_deadline_766_change
from {{ ref('int_indicator_dossier_contributions') }} as contributions
{%- if is_incremental() %}
inner join ({{ indicator_window_cells() }}) as window_cells
    on window_cells.unit_id = contributions.unit_id
   and window_cells.month_start = contributions.month_start
{%- endif %}
where contributions.contribution_day <= {{ as_of_date() }}
group by contributions.unit_id, contributions.month_start
