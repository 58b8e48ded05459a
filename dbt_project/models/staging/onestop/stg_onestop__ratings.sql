-- One row per rated dossier (MaHoSo): its latest satisfaction vote as of var as_of_date (a later
-- vote replaces an earlier one: the state keeps the version of the latest source day), typed.
-- A vote whose dossier the warehouse does not hold (yet) is kept as delivered.
select
    {{ json_text('payload', 'MaHoSo') }} as dossier_id,
    {{ json_text('payload', 'MucDo') }} as rating_code,
    {{ parse_source_ts("payload ->> 'NgayDanhGia'") }} as rated_at,
    {{ parse_source_ts("payload ->> 'NgayCapNhat'") }} as updated_at,
    source_day,
    batch_id,
    line_no,
    merge_id
from ({{ latest_source_records('onestop', 'ratings') }}) as latest
