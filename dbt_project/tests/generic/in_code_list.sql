{#- Every non-null value of the column is a code of `code_list` in seeds/source_code_lists.csv. -#}
{% test in_code_list(model, column_name, code_list) %}
select {{ column_name }} as unknown_code, count(*) as n_rows
from {{ model }}
where {{ column_name }} is not null
  and {{ column_name }} not in (
      select code from {{ ref('source_code_lists') }} where code_list = '{{ code_list }}'
  )
group by {{ column_name }}
{% endtest %}
