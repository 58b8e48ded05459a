{{ config(indexes=[{'columns': ['working_day_seq'], 'unique': true}]) }}
-- The working days of dim_date by their working_day_seq: the lookup "the k-th working day" of the
-- statutory due date (macros/statutory_due.sql), an index probe instead of a scan of dim_date.
select working_day_seq, date_day
from {{ ref('dim_date') }}
where is_working_day
