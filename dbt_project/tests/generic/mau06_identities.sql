{#-
  The five identities of the periodic report (domain.md, "Mẫu 06"), on a model with the report's
  columns (period_type, period_start, period_end, the grain columns, the counts):

  1. received_total = received_online + received_direct_postal + carried_over
  2. resolved_total = resolved_early + resolved_on_time + resolved_late
  3. pending_total  = pending_on_time + pending_overdue
  4. received_total = resolved_total + pending_total
  5. carried_over of a period = pending_total of the previous period of the same type and grain
     (the period ending the day before it starts). A row without a previous row must carry over
     0; a row without a next row must leave 0 pending, unless it is the last period of its type.
     With unit_map (a relation like int_unit_succession: unit_id, report_unit_id, from_day,
     to_day), identity 5 reads through the map of units: carried_over of (unit u, period p) = the
     sum of pending_total of p - 1 over the units the map at p's end (period_end) sends to u (u
     itself and every unit it succeeded by then). successor_rows=false lets the pending_total of
     a succeeded unit go to a successor that has no row in the model (tthc_report_subtree: a
     district's successor need not have units under it).

  Also: resolved_withdrawn_or_stopped is part of resolved_on_time.
  Returns one row per broken identity, naming it.
-#}
{% test mau06_identities(model, grain=['unit_id', 'field_code'], unit_map=none, successor_rows=true) %}
{%- set join_grain -%}
    {%- for column in grain %} and prev.{{ column }} = cur.{{ column }}{% endfor -%}
{%- endset -%}

with report as (
    select * from {{ model }}
),

row_checks as (
    select
        period_type, period_start, {{ grain | join(', ') }},
        case
            when received_total is distinct from received_online + received_direct_postal + carried_over
                then 'identity 1: received_total <> received_online + received_direct_postal + carried_over'
            when resolved_total is distinct from resolved_early + resolved_on_time + resolved_late
                then 'identity 2: resolved_total <> resolved_early + resolved_on_time + resolved_late'
            when pending_total is distinct from pending_on_time + pending_overdue
                then 'identity 3: pending_total <> pending_on_time + pending_overdue'
            when received_total is distinct from resolved_total + pending_total
                then 'identity 4: received_total <> resolved_total + pending_total'
            when resolved_withdrawn_or_stopped > resolved_on_time
                then 'resolved_withdrawn_or_stopped > resolved_on_time'
        end as broken_identity
    from report
),

last_periods as (
    select period_type, max(period_start) as last_period_start
    from report
    group by period_type
),

-- each row's pending_total, under the row of the next period it is carried over into
previous as (
    {%- if unit_map is none %}
    select
        period_type,
        period_end + 1 as period_start,
        {%- for column in grain %}
        {{ column }},
        {%- endfor %}
        period_start as previous_period_start,
        pending_total as previous_pending_total,
        false as is_handed_over
    from report
    {%- else %}
    select
        prev.period_type,
        next_periods.period_start,
        {%- for column in grain %}
        {%- if column == 'unit_id' %}
        at_next_end.report_unit_id as unit_id,
        {%- else %}
        prev.{{ column }},
        {%- endif %}
        {%- endfor %}
        prev.period_start as previous_period_start,
        sum(prev.pending_total) as previous_pending_total,
        bool_or(at_next_end.report_unit_id <> prev.unit_id) as is_handed_over
    from report as prev
    inner join {{ ref('int_report_periods') }} as next_periods
        on next_periods.period_type = prev.period_type
        and next_periods.period_start = prev.period_end + 1
    inner join {{ unit_map }} as at_next_end
        on at_next_end.unit_id = prev.unit_id
        and (at_next_end.from_day is null or at_next_end.from_day <= next_periods.period_end)
        and (at_next_end.to_day is null or next_periods.period_end <= at_next_end.to_day)
    group by 1, 2, {% for column in grain %}{{ loop.index + 2 }}, {% endfor %}{{ grain | length + 3 }}
    {%- endif %}
),

chain as (
    select
        coalesce(cur.period_type, prev.period_type) as period_type,
        coalesce(cur.period_start, prev.period_start) as period_start,
        {%- for column in grain %}
        coalesce(cur.{{ column }}, prev.{{ column }}) as {{ column }},
        {%- endfor %}
        prev.previous_period_start,
        prev.previous_pending_total,
        prev.is_handed_over,
        cur.carried_over
    from report as cur
    full outer join previous as prev
        on prev.period_type = cur.period_type
        and prev.period_start = cur.period_start
        {{ join_grain }}
),

chain_checks as (
    select
        chain.period_type, chain.period_start, {{ grain | join(', ') }},
        case
            when chain.carried_over is not null and chain.previous_pending_total is not null
                 and chain.carried_over <> chain.previous_pending_total
                then 'identity 5: carried_over <> pending_total of the previous period'
            when chain.carried_over is not null and chain.previous_pending_total is null
                 and chain.carried_over <> 0
                then 'identity 5: carried_over <> 0 but no row for the previous period'
            when chain.carried_over is null and chain.previous_pending_total <> 0
                 and chain.previous_period_start < last_periods.last_period_start
                 and not (chain.is_handed_over and not {{ 'true' if successor_rows else 'false' }})
                then 'identity 5: pending_total <> 0 but no row for the next period'
        end as broken_identity
    from chain
    inner join last_periods
        on last_periods.period_type = chain.period_type
)

select * from row_checks where broken_identity is not null
union all
select * from chain_checks where broken_identity is not null
{% endtest %}
