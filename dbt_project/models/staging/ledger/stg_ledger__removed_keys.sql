-- The record keys a merge of the batch ledger took out of a state table (a corrected day that no
-- longer carries a record no other day in force has): the incremental models delete their rows
-- too (macro changed_keys, macros/incremental.sql). record_key is kept as landed.
select
    table_name,
    record_key,
    merge_id
from {{ source('ledger', 'removed_keys') }}
