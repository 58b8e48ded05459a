-- Every delivered day's targets list as landed (raw.reference__targets, append-only), typed (macro
-- target_columns, as stg_reference__targets types the list in force). Which batch of a day is in
-- force is stg_landing__load_batches.disposition; int_targets_history keeps the lists in force.
select
    record_key,
    {{ target_columns('payload') }},
    batch_id,
    source_day,
    line_no
from {{ source('landing', 'reference__targets') }}
