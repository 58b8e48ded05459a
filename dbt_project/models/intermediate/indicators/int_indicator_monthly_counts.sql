-- One row per (unit_id, month_start) with the monthly rules of macros/indicator_rules.sql
-- (indicator_monthly_rules): additive counts of the unit's records in the month (up to
-- as_of_date), and the month's net changes of the backlog (pending_change) and of its part within
-- deadline by the national portal's rule (pending_within_deadline_766_change), whose running sums
-- give the backlog at the end of every month (int_indicator_period_values).
--
-- Every period of kpi.dx_indicators and kpi.service_index is a union of months, so a period's
-- figures are the sums of its months: the cost of the publish models follows units x months,
-- not records. Rows only where the unit had something in the month (a missing row is all zeros).
-- Units are the records' own (DonViXuLy for dossiers and feedback, the rated dossier's for
-- ratings, OrganId for documents); scopes and roll-ups come later (int_indicator_scopes).
{%- set bases = indicator_monthly_bases() %}
{%- set rules = indicator_monthly_rules() %}
{%- set backlog = ['pending_change', 'pending_within_deadline_766_change'] %}

-- the records each basis counts (macro indicator_monthly_bases)
with dossiers as (
    select
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
        timeliness.timeliness_766
    from {{ ref('fct_dossiers') }} as dossiers
    left join {{ ref('dim_procedure') }} as procedures
        on procedures.procedure_code = dossiers.procedure_code
    left join {{ ref('int_dossier_timeliness_766') }} as timeliness
        on timeliness.dossier_id = dossiers.dossier_id
    where dossiers.is_in_report
),

documents as (
    select * from {{ ref('fct_esignature_daily') }}
),

feedback as (
    select unit_id, handling_due_at, handled_at, verdict_code
    from {{ ref('stg_onestop__feedback') }}
    where unit_id is not null
),

ratings as (
    select dossiers.unit_id, ratings.rated_at, ratings.rating_code
    from {{ ref('stg_onestop__ratings') }} as ratings
    inner join {{ ref('fct_dossiers') }} as dossiers
        on dossiers.dossier_id = ratings.dossier_id
),

-- the national portal's backlog: +1 at reception, -1 at the finish; within deadline from the
-- reception until overdue_day_766 or the finish, whichever comes first (int_dossier_timeliness_766)
backlog_dossiers as (
    select
        unit_id,
        received_day,
        finished_day,
        least(overdue_day_766, finished_day) as within_until_day
    from {{ ref('int_dossier_timeliness_766') }}
    where received_day is not null
),

backlog_changes as (
    select unit_id, received_day as change_day, 1 as pending_change, 0 as pending_within_deadline_766_change
    from backlog_dossiers
    union all
    select unit_id, finished_day, -1, 0
    from backlog_dossiers
    where finished_day is not null
    union all
    select unit_id, received_day, 0, 1
    from backlog_dossiers
    where within_until_day is null or within_until_day > received_day
    union all
    select unit_id, within_until_day, 0, -1
    from backlog_dossiers
    where within_until_day > received_day
),

{% for basis_name, basis in bases.items() %}
basis_{{ basis_name }} as (
    select
        {{ basis.unit }} as unit_id,
        {{ month_of(basis.day) }} as month_start,
        {%- for rule in rules %}
        {%- if rule.basis == basis_name %}
        sum({{ rule.value }}) as {{ rule.name }},
        {%- else %}
        0 as {{ rule.name }},
        {%- endif %}
        {%- endfor %}
        {%- for column in backlog %}
        0 as {{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ basis.relation }}
    where {{ basis.day }} is not null
      and cast({{ basis.day }} as date) <= {{ as_of_date() }}
    group by 1, 2
),
{% endfor %}

basis_backlog as (
    select
        unit_id,
        {{ month_of('change_day') }} as month_start,
        {%- for rule in rules %}
        0 as {{ rule.name }},
        {%- endfor %}
        {%- for column in backlog %}
        sum({{ column }}) as {{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    from backlog_changes
    where change_day <= {{ as_of_date() }}
    group by 1, 2
)

select
    unit_id,
    month_start,
    {%- for rule in rules %}
    cast(sum({{ rule.name }}) as bigint) as {{ rule.name }},
    {%- endfor %}
    {%- for column in backlog %}
    cast(sum({{ column }}) as bigint) as {{ column }}{{ "," if not loop.last }}
    {%- endfor %}
from (
    {%- for basis_name in bases %}
    select * from basis_{{ basis_name }}
    union all
    {%- endfor %}
    select * from basis_backlog
) as contributions
group by unit_id, month_start
