-- The units list in force on as_of_date: the latest landed daily delivery <= as_of_date.
select
    {{ json_text('payload', 'UnitId') }} as unit_id,
    {{ json_text('payload', 'Name') }} as unit_name,
    {{ json_text('payload', 'Level') }} as unit_level,
    {{ json_text('payload', 'ParentId') }} as parent_unit_id,
    cast({{ parse_source_ts("payload ->> 'ValidFrom'") }} as date) as valid_from,
    cast({{ parse_source_ts("payload ->> 'ValidTo'") }} as date) as valid_to,
    {{ json_text('payload', 'SuccessorId') }} as successor_unit_id,
    source_day,
    batch_id,
    merge_id
from ({{ latest_source_records('reference', 'units', whole=true) }}) as latest
