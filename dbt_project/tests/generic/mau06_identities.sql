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

  Also: resolved_withdrawn_or_stopped is part of resolved_on_time.
  Returns one row per broken identity, naming it.
-#}
{% test mau06_identities(model, grain=['unit_id', 'field_code']) %}
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

chain as (
    select
        coalesce(cur.period_type, prev.period_type) as period_type,
        coalesce(cur.period_start, prev.period_end + 1) as period_start,
        {%- for column in grain %}
        coalesce(cur.{{ column }}, prev.{{ column }}) as {{ column }},
        {%- endfor %}
        prev.period_start as previous_period_start,
        prev.pending_total as previous_pending_total,
        cur.carried_over
    from report as cur
    full outer join report as prev
        on prev.period_type = cur.period_type
        and prev.period_end + 1 = cur.period_start
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
