-- One row per merge of the batch ledger into a state table (plugins/cchc/ledger/state.py): the
-- incremental models' watermark is the latest merge of their state table (macro
-- save_state_watermark, macros/incremental.sql).
select
    merge_id,
    table_name,
    as_of_date,
    mode,
    batches,
    keys_changed,
    rows_now,
    seconds,
    merged_at
from {{ source('ledger', 'merges') }}
