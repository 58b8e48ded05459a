{#- The counted and derived columns of the periodic report (Mẫu 06; domain.md), in the published
    order, from a relation (alias) holding the additive counts of a row: received_online,
    received_direct_postal, carried_over, resolved_early, resolved_on_time, resolved_late,
    resolved_withdrawn_or_stopped, pending_on_time, pending_overdue. The totals and the on-time
    rate are written here once, for kpi.tthc_report and kpi.tthc_report_subtree alike:
      received_total = received_online + received_direct_postal + carried_over
      resolved_total = resolved_early + resolved_on_time + resolved_late
      pending_total  = pending_on_time + pending_overdue
      on_time_rate   = (resolved_early + resolved_on_time) / resolved_total, null when it is 0 -#}
{% macro mau06_report_columns(alias) -%}
    {{ alias }}.received_online + {{ alias }}.received_direct_postal + {{ alias }}.carried_over as received_total,
    {{ alias }}.received_online,
    {{ alias }}.received_direct_postal,
    {{ alias }}.carried_over,
    {{ alias }}.resolved_early + {{ alias }}.resolved_on_time + {{ alias }}.resolved_late as resolved_total,
    {{ alias }}.resolved_early,
    {{ alias }}.resolved_on_time,
    {{ alias }}.resolved_late,
    {{ alias }}.resolved_withdrawn_or_stopped,
    {{ alias }}.pending_on_time + {{ alias }}.pending_overdue as pending_total,
    {{ alias }}.pending_on_time,
    {{ alias }}.pending_overdue,
    cast({{ alias }}.resolved_early + {{ alias }}.resolved_on_time as numeric)
        / nullif({{ alias }}.resolved_early + {{ alias }}.resolved_on_time + {{ alias }}.resolved_late, 0)
        as on_time_rate
{%- endmacro %}
