{{ config(indexes=[{"columns": ["period_type", "period_start", "unit_id", "scope", "rule_name"], "unique": true}]) }}
-- One row per (period_type, period_start, unit_id, scope, rule_name) with the value of every rule
-- of macros/indicator_rules.sql for the report unit `unit_id` in scope 'own' or 'subtree'
-- (int_indicator_scopes), for the period types of macro indicator_period_types():
--
-- * monthly rules: the sum of the period's months (int_indicator_monthly_counts);
-- * dossiers_pending_at_end / dossiers_pending_within_deadline_766: the backlog at the end of the
--   period's last month (period_end, capped at as_of_date), the running sum of the monthly changes;
-- * dossiers_handled = dossiers_finished + dossiers_pending_at_end (= received_total of the
--   periodic report), dossiers_handled_on_time_766 = dossiers_finished_on_time_766 +
--   dossiers_pending_within_deadline_766, dossiers_late_766 = the rest;
-- * dossiers_complained: distinct dossiers handled in the period (received by its end, not
--   finished before its start) with feedback naming them received in the period;
--   dossiers_satisfaction_766 = dossiers_handled - dossiers_late_766 - dossiers_complained;
-- * procedure rules: distinct procedures over the period (see indicator_period_rules).
--
-- Units: the map of units in force at the period's end (int_indicator_scopes, through
-- int_unit_succession, as kpi.tthc_report): the monthly counts stay under the unit the records
-- carry (int_indicator_monthly_counts), and each period sums them under the report unit the map at
-- its end sends that unit to. So the backlog at a period's end is the sum, over the units mapped to
-- a report unit, of their running backlogs (an old unit's open dossiers count under its successor
-- from the first period ending after its valid_to), and an old unit's records of a period ending
-- after its valid_to (those dated after it included) are its successor's.
--
-- A report unit has rows in a period where some unit mapped to it has counts (a missing row is
-- zeros); the publish models keep the units valid in the period and reporting under themselves at
-- its end, or with activity in it.
{%- set rules = indicator_monthly_rules() %}
{%- set period_types = indicator_period_types() %}
with periods as (
    select period_type, period_start, period_end
    from {{ ref('int_report_periods') }}
    where period_type in {{ string_list(period_types) }}
),

months as (
    select period_start as month_start, period_end as month_end
    from {{ ref('int_report_periods') }}
    where period_type = 'month'
),

period_months as (
    select
        periods.period_type,
        periods.period_start,
        periods.period_end,
        months.month_start,
        months.month_start = {{ month_of('periods.period_end') }} as is_last_month
    from periods
    inner join months
        on months.month_start between periods.period_start and periods.period_end
),

scopes as (
    select * from {{ ref('int_indicator_scopes') }}
),

monthly as (
    select * from {{ ref('int_indicator_monthly_counts') }}
),

-- every unit with counts, in every month: its backlog at each month's end is the running sum
dense as (
    select
        record_units.unit_id,
        months.month_start,
        {%- for rule in rules %}
        coalesce(monthly.{{ rule.name }}, 0) as {{ rule.name }},
        {%- endfor %}
        sum(coalesce(monthly.pending_change, 0)) over running as pending_at_month_end,
        sum(coalesce(monthly.pending_within_deadline_766_change, 0)) over running
            as pending_within_deadline_766_at_month_end
    from (select distinct monthly_units.unit_id from monthly as monthly_units) as record_units
    cross join months
    left join monthly
        on monthly.unit_id = record_units.unit_id
       and monthly.month_start = months.month_start
    window running as (partition by record_units.unit_id
                       order by months.month_start rows between unbounded preceding and current row)
),

-- each period: the sums of its months and the backlog at the end of its last month, under the
-- report units the map at the period's end sends each unit to
per_period as (
    select
        period_months.period_type,
        period_months.period_start,
        scopes.report_unit_id as unit_id,
        scopes.scope,
        {%- for rule in rules %}
        sum(dense.{{ rule.name }}) as {{ rule.name }},
        {%- endfor %}
        coalesce(sum(dense.pending_at_month_end) filter (where period_months.is_last_month), 0)
            as dossiers_pending_at_end,
        coalesce(sum(dense.pending_within_deadline_766_at_month_end) filter (where period_months.is_last_month), 0)
            as dossiers_pending_within_deadline_766
    from dense
    inner join period_months
        on period_months.month_start = dense.month_start
    inner join scopes
        on scopes.period_type = period_months.period_type
       and scopes.period_start = period_months.period_start
       and scopes.unit_id = dense.unit_id
    group by 1, 2, 3, 4
),

-- dossiers handled in the period with feedback naming them, received in the period
complaints as (
    select distinct
        dossiers.unit_id,
        feedback.dossier_id,
        {{ month_of('feedback.received_at') }} as month_start
    from {{ ref('stg_onestop__feedback') }} as feedback
    inner join {{ ref('int_dossier_timeliness_766') }} as dossiers
        on dossiers.dossier_id = feedback.dossier_id
    where feedback.received_at is not null
      and cast(feedback.received_at as date) <= {{ as_of_date() }}
),

complained as (
    select
        period_months.period_type,
        period_months.period_start,
        scopes.report_unit_id as unit_id,
        scopes.scope,
        count(distinct complaints.dossier_id) as dossiers_complained
    from complaints
    inner join {{ ref('int_dossier_timeliness_766') }} as dossiers
        on dossiers.dossier_id = complaints.dossier_id
    inner join period_months
        on period_months.month_start = complaints.month_start
    inner join scopes
        on scopes.period_type = period_months.period_type
       and scopes.period_start = period_months.period_start
       and scopes.unit_id = complaints.unit_id
    where dossiers.received_day <= period_months.period_end
      and (dossiers.finished_day is null or dossiers.finished_day >= period_months.period_start)
    group by 1, 2, 3, 4
),

dossier_rules as (
    select
        per_period.*,
        per_period.dossiers_finished + per_period.dossiers_pending_at_end as dossiers_handled,
        per_period.dossiers_finished_on_time_766 + per_period.dossiers_pending_within_deadline_766
            as dossiers_handled_on_time_766,
        coalesce(complained.dossiers_complained, 0) as dossiers_complained
    from per_period
    left join complained
        on complained.period_type = per_period.period_type
       and complained.period_start = per_period.period_start
       and complained.unit_id = per_period.unit_id
       and complained.scope = per_period.scope
),

-- procedures: the levels each scope's units (valid in the period) handle, the procedures of those
-- levels valid in the period, and the scope's activity on each procedure in the period
scope_levels as (
    select distinct
        unit_periods.period_type,
        unit_periods.period_start,
        scopes.report_unit_id as unit_id,
        scopes.scope,
        levels.procedure_level
    from scopes
    inner join {{ ref('int_report_unit_periods') }} as unit_periods
        on unit_periods.period_type = scopes.period_type
       and unit_periods.period_start = scopes.period_start
       and unit_periods.unit_id = scopes.unit_id
    inner join {{ ref('int_unit_hierarchy') }} as units
        on units.unit_id = scopes.unit_id
    inner join {{ ref('unit_procedure_levels') }} as levels
        on levels.unit_level = units.unit_level
    where unit_periods.period_type in {{ string_list(period_types) }}
),

procedure_months as (
    select
        dossiers.unit_id,
        dossiers.procedure_code,
        {{ month_of('dossiers.received_at') }} as month_start,
        bool_or(dossiers.channel_group = 'online') as has_online_dossier,
        bool_or(dossiers.is_paid_online) as has_online_payment
    from {{ ref('fct_dossiers') }} as dossiers
    where dossiers.is_in_report
      and cast(dossiers.received_at as date) <= {{ as_of_date() }}
    group by 1, 2, 3
),

procedure_activity as (
    select
        period_months.period_type,
        period_months.period_start,
        scopes.report_unit_id as unit_id,
        scopes.scope,
        procedure_months.procedure_code,
        bool_or(procedure_months.has_online_dossier) as has_online_dossier,
        bool_or(procedure_months.has_online_payment) as has_online_payment
    from procedure_months
    inner join period_months
        on period_months.month_start = procedure_months.month_start
    inner join scopes
        on scopes.period_type = period_months.period_type
       and scopes.period_start = period_months.period_start
       and scopes.unit_id = procedure_months.unit_id
    group by 1, 2, 3, 4, 5
),

offered as (
    select
        scope_levels.period_type,
        scope_levels.period_start,
        scope_levels.unit_id,
        scope_levels.scope,
        procedures.procedure_code,
        procedures.online_service_level
    from scope_levels
    inner join periods
        on periods.period_type = scope_levels.period_type
       and periods.period_start = scope_levels.period_start
    inner join {{ ref('dim_procedure') }} as procedures
        on procedures.procedure_level = scope_levels.procedure_level
       and (procedures.valid_from is null or procedures.valid_from <= periods.period_end)
       and (procedures.valid_to is null or procedures.valid_to >= periods.period_start)
),

offered_counts as (
    select
        offered.period_type,
        offered.period_start,
        offered.unit_id,
        offered.scope,
        count(distinct offered.procedure_code) as procedures_offered,
        count(distinct offered.procedure_code) filter (where offered.online_service_level = 'TOAN_TRINH')
            as procedures_offered_fully_online,
        count(distinct offered.procedure_code) filter (where activity.has_online_dossier)
            as procedures_with_online_dossier
    from offered
    left join procedure_activity as activity
        on activity.period_type = offered.period_type
       and activity.period_start = offered.period_start
       and activity.unit_id = offered.unit_id
       and activity.scope = offered.scope
       and activity.procedure_code = offered.procedure_code
    group by 1, 2, 3, 4
),

fee_counts as (
    select
        activity.period_type,
        activity.period_start,
        activity.unit_id,
        activity.scope,
        count(distinct activity.procedure_code) as fee_procedures_with_dossiers,
        count(distinct activity.procedure_code) filter (where activity.has_online_payment)
            as fee_procedures_with_online_payment
    from procedure_activity as activity
    inner join {{ ref('dim_procedure') }} as procedures
        on procedures.procedure_code = activity.procedure_code
    where procedures.has_fee
    group by 1, 2, 3, 4
),

rule_rows as (
    select
        dossier_rules.period_type,
        dossier_rules.period_start,
        dossier_rules.unit_id,
        dossier_rules.scope,
        rule_values.rule_name,
        rule_values.rule_value
    from dossier_rules
    cross join lateral (
        values
        {%- for rule in rules %}
            ('{{ rule.name }}', dossier_rules.{{ rule.name }}),
        {%- endfor %}
            ('dossiers_pending_at_end', dossier_rules.dossiers_pending_at_end),
            ('dossiers_pending_within_deadline_766', dossier_rules.dossiers_pending_within_deadline_766),
            ('dossiers_handled', dossier_rules.dossiers_handled),
            ('dossiers_handled_on_time_766', dossier_rules.dossiers_handled_on_time_766),
            ('dossiers_late_766', dossier_rules.dossiers_handled - dossier_rules.dossiers_handled_on_time_766),
            ('dossiers_complained', dossier_rules.dossiers_complained),
            -- handled - late - complained = handled on time - complained
            ('dossiers_satisfaction_766',
             dossier_rules.dossiers_handled_on_time_766 - dossier_rules.dossiers_complained)
    ) as rule_values (rule_name, rule_value)

    union all

    select
        offered_counts.period_type,
        offered_counts.period_start,
        offered_counts.unit_id,
        offered_counts.scope,
        rule_values.rule_name,
        rule_values.rule_value
    from offered_counts
    cross join lateral (
        values
            ('procedures_offered', offered_counts.procedures_offered),
            ('procedures_offered_fully_online', offered_counts.procedures_offered_fully_online),
            ('procedures_with_online_dossier', offered_counts.procedures_with_online_dossier)
    ) as rule_values (rule_name, rule_value)

    union all

    select
        fee_counts.period_type,
        fee_counts.period_start,
        fee_counts.unit_id,
        fee_counts.scope,
        rule_values.rule_name,
        rule_values.rule_value
    from fee_counts
    cross join lateral (
        values
            ('fee_procedures_with_dossiers', fee_counts.fee_procedures_with_dossiers),
            ('fee_procedures_with_online_payment', fee_counts.fee_procedures_with_online_payment)
    ) as rule_values (rule_name, rule_value)
)

select
    period_type,
    period_start,
    unit_id,
    scope,
    rule_name,
    cast(rule_value as numeric) as rule_value
from rule_rows
