{#- Every non-null value of the column is a code of `code_list` in seeds/source_code_lists.csv.
    One row per offending record (the unknown code and the whole record: its key, source_day and
    batch_id where the model has them), so that the stored failures name the records. -#}
{% test in_code_list(model, column_name, code_list) %}
select {{ column_name }} as unknown_code, offending.*
from (select * from {{ model }}) as offending
where {{ column_name }} is not null
  and {{ column_name }} not in (
      select code from {{ ref('source_code_lists') }} where code_list = '{{ code_list }}'
  )
{% endtest %}
