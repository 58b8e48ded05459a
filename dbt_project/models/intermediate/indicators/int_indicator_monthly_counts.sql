-- One row per (unit_id, month_start) with the monthly rules of macros/indicator_rules.sql
-- (indicator_monthly_rules): additive counts of the unit's records in the month (up to
-- as_of_date), and the month's net changes of the backlog (pending_change) and of its part within
-- deadline by the national portal's rule (pending_within_deadline_766_change), whose running sums
-- give the backlog at the end of every month (int_indicator_period_values).
--
-- The dossier bases and the backlog are summed incrementally, per (unit, month) cell a night
-- touches, in int_indicator_monthly_dossier_counts; the other bases (e-document days, feedback,
-- ratings) are summed here whole.
--
-- Every period of kpi.dx_indicators and kpi.service_index is a union of months, so a period's
-- figures are the sums of its months: the cost of the publish models follows units x months,
-- not records. Rows only where the unit had something in the month (a missing row is all zeros).
-- Units are the records' own (DonViXuLy for dossiers and feedback, the rated dossier's for
-- ratings, OrganId for documents); scopes and roll-ups come later (int_indicator_scopes).
{%- set bases = indicator_monthly_bases() %}
{%- set rules = indicator_monthly_rules() %}
{%- set backlog = ['pending_change', 'pending_within_deadline_766_change'] %}
{%- set dossier_bases = indicator_dossier_bases() %}

-- the records each basis counts (macro indicator_monthly_bases); the dossier bases and the backlog
-- come summed per (unit, month) from int_indicator_monthly_dossier_counts (incremental)
with documents as (
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

basis_dossiers as (
    select
        unit_id,
        month_start,
        {%- for rule in rules %}
        {%- if rule.basis in dossier_bases %}
        {{ rule.name }},
        {%- else %}
        0 as {{ rule.name }},
        {%- endif %}
        {%- endfor %}
        {%- for column in backlog %}
        {{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ ref('int_indicator_monthly_dossier_counts') }}
),

{% for basis_name, basis in bases.items() if basis_name not in dossier_bases %}
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
){{ "," if not loop.last }}
{% endfor %}

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
    select * from basis_dossiers
    {%- for basis_name in bases if basis_name not in dossier_bases %}
    union all
    select * from basis_{{ basis_name }}
    {%- endfor %}
) as contributions
group by unit_id, month_start
