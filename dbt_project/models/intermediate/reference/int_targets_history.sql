-- The history of the targets lists in force: one row per target row and stretch of days over which
-- it was in force unchanged. The targets list is delivered whole every day; raw keeps every day's
-- list (raw.reference__targets: stg_landing__reference_targets), and the ledger says which
-- delivery of each day is in force (raw.load_batches.disposition: stg_landing__load_batches). A day
-- without a list in force keeps the list before it (as for every reference list). A row starts on
-- the first day of a list that holds it with this value (valid_from) and ends the day before the
-- first later list that drops it or changes its value (valid_to; null = still in force on
-- as_of_date). stg_reference__targets is the list of as_of_date (the rows with valid_to null here).
with lists as (
    select batch_id, source_day, row_number() over (order by source_day) as list_no,
           lead(source_day) over (order by source_day) as next_list_day
    from {{ ref('stg_landing__load_batches') }}
    where system = 'reference' and feed = 'targets' and disposition = 'in_force'
      and source_day <= {{ as_of_date() }}
),

rows_in_lists as (
    select
        r.record_key,
        r.unit_id,
        r.unit_level,
        r.target_year,
        r.indicator_code,
        r.target_value,
        l.list_no,
        l.source_day,
        l.next_list_day,
        l.batch_id
    from {{ ref('stg_landing__reference_targets') }} as r
    inner join lists as l on l.batch_id = r.batch_id
),

islands as (
    -- consecutive lists holding the same key with the same value form one island
    select *,
           list_no - row_number() over (partition by record_key, target_value order by list_no) as island
    from rows_in_lists
)

select
    unit_id,
    unit_level,
    target_year,
    indicator_code,
    target_value,
    min(source_day) as valid_from,
    (array_agg(next_list_day order by list_no desc))[1] - 1 as valid_to,
    min(batch_id) as first_batch_id,
    max(batch_id) as last_batch_id
from islands
group by record_key, island, unit_id, unit_level, target_year, indicator_code, target_value
