-- One row per (dossier_id, contribution): what a dossier counted in the periodic report adds to the
-- monthly rules of macros/indicator_rules.sql, and on which day (contribution_day; month_start is
-- its month). int_indicator_monthly_dossier_counts sums them per (unit, month) up to as_of_date.
--   received     the rules of basis dossier_received, on the reception day;
--   finished     the rules of basis dossier_finished, on the finish day;
--   pending_in / pending_out           the periodic backlog: +1 on reception, -1 on the finish;
--   within_in / within_out             its part within deadline by the national portal's rule
--                (Decision 766): +1 on reception, -1 on the earlier of overdue_day_766 and the
--                finish day (int_dossier_timeliness_766), no row when that is the reception day.
-- Rows are kept whatever their day (a backlog change may lie after as_of_date): the counts apply
-- as_of_date, so these rows depend on the dossier alone.
--
-- Incremental on the dossiers the ledger changed (macros/incremental.sql); its hooks log the
-- (unit, month) cells of the changed dossiers' rows before and after the change, which are the
-- cells the monthly counts recompute (macros/indicator_cells.sql).
{%- set bases = indicator_monthly_bases() %}
{%- set rules = indicator_monthly_rules() %}
{#- contribution name -> basis: the bases of indicator_dossier_bases() -#}
{%- set dossier_bases = {'received': 'dossier_received', 'finished': 'dossier_finished'} %}
{%- if dossier_bases.values() | list | sort != indicator_dossier_bases() | sort %}
{{ exceptions.raise_compiler_error('int_indicator_dossier_contributions names a contribution for each of '
                                   ~ indicator_dossier_bases() ~ ', not ' ~ dossier_bases.values() | list) }}
{%- endif %}
{{ config(**record_incremental_config(
    'onestop__dossiers', 'stg_onestop__dossiers', 'dossier_id', ['dossier_id', 'contribution'],
    indexes=[{'columns': ['dossier_id']}, {'columns': ['unit_id', 'month_start']}, {'columns': ['contribution_day']}],
    before_delete=["{{ log_indicator_cell_changes('before') }}"],
    after_insert=["{{ log_indicator_cell_changes('after') }}"])) }}
-- depends_on: {{ incremental_dependencies('stg_onestop__dossiers') }}
{%- set only_changed -%}
    {%- if is_incremental() %}
    and {{ key_in('dossier_id', changed_keys('onestop__dossiers', 'stg_onestop__dossiers', 'dossier_id')) }}
    {%- endif %}
{%- endset %}

with dossiers as materialized (
    select
        dossiers.dossier_id,
        dossiers.unit_id,
        dossiers.received_at,
        dossiers.finished_at,
        dossiers.channel_group,
        dossiers.is_paid_online,
        dossiers.has_digitised_components,
        dossiers.has_e_result,
        dossiers.is_withdrawn_or_stopped,
        procedures.online_service_level,
        coalesce(procedures.has_fee, false) as procedure_has_fee,
        timeliness.timeliness_766,
        dossiers.merge_id
    from {{ ref('fct_dossiers') }} as dossiers
    left join {{ ref('dim_procedure') }} as procedures
        on procedures.procedure_code = dossiers.procedure_code
    left join {{ ref('int_dossier_timeliness_766') }} as timeliness
        on timeliness.dossier_id = dossiers.dossier_id
    where dossiers.is_in_report
    {%- if is_incremental() %}
    and {{ key_in('dossiers.dossier_id', changed_keys('onestop__dossiers', 'stg_onestop__dossiers', 'dossier_id')) }}
    {%- endif %}
),

backlog_dossiers as (
    select
        dossier_id,
        unit_id,
        received_day,
        finished_day,
        least(overdue_day_766, finished_day) as within_until_day,
        merge_id
    from {{ ref('int_dossier_timeliness_766') }}
    where received_day is not null
    {{ only_changed }}
),

contributions as (
    {%- for contribution, basis_name in dossier_bases.items() %}
    select
        dossier_id,
        unit_id,
        '{{ contribution }}' as contribution,
        cast({{ bases[basis_name].day }} as date) as contribution_day,
        merge_id,
        {%- for rule in rules %}
        {%- if rule.basis in dossier_bases.values() %}
        {%- if rule.basis == basis_name %}
        {{ rule.value }} as {{ rule.name }},
        {%- else %}
        0 as {{ rule.name }},
        {%- endif %}
        {%- endif %}
        {%- endfor %}
        0 as pending_change,
        0 as pending_within_deadline_766_change
    from dossiers
    where {{ bases[basis_name].day }} is not null

    union all
    {%- endfor %}

    {%- set backlog_rows = [
        ('pending_in', 'received_day', '1', '0', 'true'),
        ('pending_out', 'finished_day', '-1', '0', 'finished_day is not null'),
        ('within_in', 'received_day', '0', '1', 'within_until_day is null or within_until_day > received_day'),
        ('within_out', 'within_until_day', '0', '-1', 'within_until_day > received_day'),
    ] %}
    {%- for name, day, pending, within, condition in backlog_rows %}
    select
        dossier_id,
        unit_id,
        '{{ name }}' as contribution,
        {{ day }} as contribution_day,
        merge_id,
        {%- for rule in rules %}
        {%- if rule.basis in dossier_bases.values() %}
        0 as {{ rule.name }},
        {%- endif %}
        {%- endfor %}
        {{ pending }} as pending_change,
        {{ within }} as pending_within_deadline_766_change
    from backlog_dossiers
    where {{ condition }}
    {{- "\n\n    union all" if not loop.last }}
    {%- endfor %}
)

select
    dossier_id,
    unit_id,
    contribution,
    contribution_day,
    {{ month_of('contribution_day') }} as month_start,
    {%- for rule in rules %}
    {%- if rule.basis in dossier_bases.values() %}
    cast({{ rule.name }} as integer) as {{ rule.name }},
    {%- endif %}
    {%- endfor %}
    cast(pending_change as integer) as pending_change,
    cast(pending_within_deadline_766_change as integer) as pending_within_deadline_766_change,
    merge_id
from contributions
