{#-
  Records left out of every count for a defect (report_exclusion_reason set, and not one of the
  normal reasons such as 'not_received' or 'secret'): a finding about the source, not a failure of
  the build. Used at severity warn with store_failures: the stored rows (schema audit) NAME each
  record: its key, the reason, the source day and the landed batch it comes from, and the
  columns given in `details`. The publication gate decides by threshold whether that many
  exclusions may be published (expectations/tthc_report.yml, esignature_usage.yml).
-#}
{% test left_out_of_counts(model, key_column, normal_reasons=[], details=[]) %}
select
    {{ key_column }},
    report_exclusion_reason,
    source_day,
    batch_id
    {%- for column in details %},
    {{ column }}
    {%- endfor %}
from {{ model }}
where report_exclusion_reason is not null
{%- if normal_reasons %}
  and report_exclusion_reason not in ({% for r in normal_reasons %}'{{ r }}'{{ ", " if not loop.last }}{% endfor %})
{%- endif %}
{% endtest %}
