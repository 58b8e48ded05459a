{#-
  THE rule for reading a landed feed, used by every staging model: its current state.

  The batch ledger (plugins/cchc/ledger/) decides which delivery of each (system, feed, source_day)
  is in force, and merges the batches in force into state.<system>__<feed> before dbt runs
  (cchc.transform.build): one row per record key, its version of the latest source day
  <= as_of_date (ties: greatest batch_id, then greatest line_no); for reference lists (delivered
  whole) the rows of the latest day in force. Refused, held, stale, blocked and superseded
  batches are never read.

  The source_day filter repeats the state's bound as a guard: a state merged for a later day than
  the build's as_of_date cannot leak into it.

  Returns a select of (record_key, batch_id, source_day, line_no, updated_at_src, loaded_at,
  payload); use it as a CTE:  with latest as ( {{ latest_source_records('onestop__dossiers') }} )
-#}
{% macro latest_source_records(table_name, whole=false) -%}
    select record_key, batch_id, source_day, line_no, updated_at_src, loaded_at, payload
    from {{ source('state', table_name) }}
    where source_day <= {{ as_of_date() }}
{%- endmacro %}
