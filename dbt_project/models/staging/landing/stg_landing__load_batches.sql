-- One row per delivery of a (system, feed, source_day) and what the batch ledger decided about it
-- (disposition: only 'in_force' batches are read downstream). Not bounded by as_of_date: the
-- models that read it bound it themselves.
select
    batch_id,
    system,
    feed,
    source_day,
    delivery,
    status,
    disposition,
    disposition_reason,
    superseded_by,
    generated_at,
    decided_at,
    merged_at,
    lines_read,
    rows_landed,
    rows_rejected,
    run_id,
    started_at,
    finished_at
from {{ source('landing', 'load_batches') }}
