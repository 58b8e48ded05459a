{#- Editions of a rule (rows with edition, effective_from / effective_to, inclusive, null = open)
    do not overlap for the same key (a column, or a constant for a table of one rule): on every day
    at most one edition is in force. -#}
{% test editions_do_not_overlap(model, key_column) %}
with editions as (
    select {{ key_column }} as rule_key, edition, effective_from, effective_to
    from {{ model }}
)

select a.rule_key, a.edition, a.effective_from, a.effective_to, b.edition as overlapping_edition
from editions as a
inner join editions as b
    on b.rule_key is not distinct from a.rule_key
   and b.edition <> a.edition
   and b.effective_from <= coalesce(a.effective_to, date '9999-12-31')
   and a.effective_from <= coalesce(b.effective_to, date '9999-12-31')
{% endtest %}
