{{ config(indexes=[{"columns": ["period_type", "period_start", "unit_id"], "unique": true},
                   {"columns": ["unit_id", "period_type", "period_start"]}]) }}
-- kpi.esignature_usage (published.md): e-documents and digital signatures per
-- (period_type, period_start, unit_id). Built only from fct_esignature_daily, whose flags are
-- defined in fct_documents; secret documents are not in it.
--
-- Periods and units are the shared reporting models, as for kpi.tthc_report: int_report_periods
-- (period_end = natural last day capped at as_of_date) and int_report_period_days (a day counts in
-- every period containing it); int_report_units (a unit's rows count its own documents; a
-- province's rows, under its own unit id, roll up every unit whose root ancestor it is, itself
-- included); int_report_unit_periods (every unit valid during the period and not succeeded by its
-- end has a row, zeros included).
--
-- Units under the map in force at the period's end (int_unit_succession at period_end, as
-- kpi.tthc_report; README "The 1/7/2025 reorganisation"): fct_esignature_daily keeps the OrganId a
-- document carries, and each period counts it under the unit the map at the period's end sends
-- that organisation to. A unit succeeded by a period's end has no row of it; its documents of the
-- period (those dated after its valid_to included) are its successor's. Nothing is dropped.
--
-- Rates are numeric, null when their denominator is 0. The outgoing rates divide by
-- outgoing_documents (non-secret outgoing documents); incoming_via_axis_rate by
-- incoming_documents; acknowledged_same_day_rate by incoming_electronic.
{%- set counts = [
    'outgoing_documents', 'issued_electronically', 'fully_signed', 'signer_only',
    'invalid_signature', 'paper', 'paper_signed_by_leader', 'via_axis',
    'dispatched_within_one_working_day',
    'incoming_documents', 'incoming_electronic', 'incoming_via_axis', 'acknowledged_same_day',
] %}
{%- set rates = [
    ('electronic_rate', 'issued_electronically', 'outgoing_documents'),
    ('fully_signed_rate', 'fully_signed', 'outgoing_documents'),
    ('signer_only_rate', 'signer_only', 'outgoing_documents'),
    ('invalid_signature_rate', 'invalid_signature', 'outgoing_documents'),
    ('paper_rate', 'paper', 'outgoing_documents'),
    ('via_axis_rate', 'via_axis', 'outgoing_documents'),
    ('dispatched_within_one_working_day_rate', 'dispatched_within_one_working_day', 'outgoing_documents'),
    ('incoming_via_axis_rate', 'incoming_via_axis', 'incoming_documents'),
    ('acknowledged_same_day_rate', 'acknowledged_same_day', 'incoming_electronic'),
] %}

-- the days' counts, under every report unit they count in, in every period containing the day
with in_period as (
    select
        period_days.period_type,
        period_days.period_start,
        report_units.report_unit_id as unit_id,
        {%- for column in counts %}
        daily.{{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ ref('fct_esignature_daily') }} as daily
    inner join {{ ref('int_report_period_days') }} as period_days
        on period_days.date_day = daily.date_day
    inner join {{ ref('int_unit_succession') }} as at_period_end
        on at_period_end.unit_id = daily.unit_id
       and {{ unit_map_covers('at_period_end', 'period_days.period_end') }}
    inner join {{ ref('int_report_units') }} as report_units
        on report_units.unit_id = at_period_end.report_unit_id
),

-- every unit valid during the period and reporting under itself at its end has a row
valid_units as (
    select
        period_type,
        period_start,
        unit_id,
        {%- for column in counts %}
        0 as {{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ ref('int_report_unit_periods') }}
    where reports_under_itself
),

combined as (
    select
        period_type,
        period_start,
        unit_id,
        {%- for column in counts %}
        cast(sum({{ column }}) as bigint) as {{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    from (
        select * from in_period
        union all
        select * from valid_units
    ) as contributions
    group by period_type, period_start, unit_id
)

select
    combined.period_type,
    combined.period_start,
    periods.period_end,
    combined.unit_id,
    units.unit_name,
    {%- for column in counts %}
    combined.{{ column }},
    {%- endfor %}
    {%- for rate, numerator, denominator in rates %}
    cast(combined.{{ numerator }} as numeric) / nullif(combined.{{ denominator }}, 0) as {{ rate }},
    {%- endfor %}
    {{ publication_id() }} as publication_id
from combined
inner join {{ ref('int_report_periods') }} as periods
    on periods.period_type = combined.period_type
    and periods.period_start = combined.period_start
left join {{ ref('dim_unit') }} as units
    on units.unit_id = combined.unit_id
